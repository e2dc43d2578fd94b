//! Expressions: every operator and builtin at every type, with the guards
//! that keep divisions, indices and array lengths from trapping except in
//! trapping programs (see the module docs of [`super`]).

use super::Cost;
use super::{Generator, Signature, Ty, MAX_ARRAY_LEN, MAX_RECURSION_DEPTH, MAX_SELF_CALLS};

const INT_EDGES: &[&str] = &[
    "0",
    "1",
    "(-1)",
    "2",
    "3",
    "7",
    "10",
    "63",
    "64",
    "65",
    "255",
    "256",
    "0xFF",
    "0x7FFFFFFF",
    "0x80000000",
    "4294967296",
    "1_000_000",
    "9223372036854775807",
    "(-9223372036854775808)",
    "(-0x8000000000000000)",
    "(-9223372036854775807)",
];

const FLOAT_EDGES: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    0.1,
    0.3,
    3.0,
    2.5e-3,
    1e-5,
    1e16,
    9007199254740993.0,
    1e308,
    -1e308,
    1.7976931348623157e308,
    2.2250738585072014e-308,
    5e-324,
    9.3e18,
    -9.3e18,
];

/// Float expressions that are not literals: NaN, both infinities, -NaN.
const FLOAT_SPECIALS: &[&str] = &[
    "(0.0 / 0.0)",
    "(1.0 / 0.0)",
    "((-1.0) / 0.0)",
    "(1e308 * 10.0)",
    "(-(0.0 / 0.0))",
];

const SHIFT_EDGES: &[&str] = &["0", "1", "31", "32", "63", "64", "65", "(-1)", "127"];

/// Divisors that never trap (`MIN / -1` is defined).
pub(super) const SAFE_DIVISORS: &[&str] = &[
    "1",
    "(-1)",
    "2",
    "3",
    "7",
    "10",
    "(-3)",
    "64",
    "9223372036854775807",
    "(-9223372036854775808)",
];

/// An int literal; negative ones in parentheses so they can stand anywhere.
pub(super) fn fmt_int(v: i64) -> String {
    match v {
        i64::MIN => "(-9223372036854775808)".to_string(),
        v if v < 0 => format!("(-{})", -v),
        v => v.to_string(),
    }
}

/// A float literal for a finite `v`; `{:?}` always puts digits on both
/// sides of a dot and writes exponents in a form the lexer reads.
pub(super) fn fmt_float(v: f64) -> String {
    let digits = format!("{:?}", v.abs());
    if v.is_sign_negative() {
        format!("(-{digits})")
    } else {
        digits
    }
}

impl Generator<'_> {
    /// An expression of type `ty` with operators nested at most `depth`
    /// deep.
    pub(super) fn expr(&mut self, ty: Ty, depth: usize) -> String {
        self.charge(Cost { work: 1, prints: 0 });
        if depth == 0 || self.rng.chance(20) {
            return self.leaf(ty);
        }
        let d = depth - 1;
        let made = match ty {
            Ty::Int => self.int_expr(d),
            Ty::Float => self.float_expr(d),
            Ty::Bool => self.bool_expr(d),
            Ty::IntArray | Ty::FloatArray => self.array_expr(ty, d),
        };
        made.unwrap_or_else(|| self.leaf(ty))
    }

    /// An int expression, or `None` when the chosen form has nothing to
    /// work with (no array, no affordable callee).
    fn int_expr(&mut self, d: usize) -> Option<String> {
        let int = Ty::Int;
        Some(
            match self.rng.weighted(&[20, 8, 10, 6, 6, 6, 6, 3, 8, 8, 2]) {
                0 => {
                    let op = *self.rng.pick(&["+", "-", "*"]);
                    format!("({} {op} {})", self.expr(int, d), self.expr(int, d))
                }
                1 => {
                    let op = *self.rng.pick(&["/", "%"]);
                    format!("({} {op} {})", self.expr(int, d), self.divisor(d))
                }
                2 => {
                    let op = *self.rng.pick(&["&", "|", "^"]);
                    format!("({} {op} {})", self.expr(int, d), self.expr(int, d))
                }
                3 => {
                    let op = *self.rng.pick(&["<<", ">>"]);
                    let count = if self.rng.chance(50) {
                        self.rng.pick(SHIFT_EDGES).to_string()
                    } else {
                        self.expr(int, d)
                    };
                    format!("({} {op} {count})", self.expr(int, d))
                }
                4 => format!("({}{})", self.rng.pick(&["-", "~"]), self.expr(int, d)),
                5 => self.numeric_builtin(int, d),
                6 => format!("int({})", self.expr(Ty::Float, d)),
                7 => {
                    let array = *self.rng.pick(&[Ty::IntArray, Ty::FloatArray]);
                    format!("len({})", self.expr(array, d))
                }
                8 => self.element(int)?,
                9 => self.call(Some(int), d)?,
                _ => self.atomic_add(d)?,
            },
        )
    }

    fn float_expr(&mut self, d: usize) -> Option<String> {
        let float = Ty::Float;
        Some(match self.rng.weighted(&[25, 5, 8, 4, 10, 8, 8, 4]) {
            0 => {
                let op = *self.rng.pick(&["+", "-", "*", "/"]);
                format!("({} {op} {})", self.expr(float, d), self.expr(float, d))
            }
            1 => format!("(-{})", self.expr(float, d)),
            2 => format!("float({})", self.expr(Ty::Int, d)),
            3 => format!("sqrt({})", self.expr(float, d)),
            4 => self.numeric_builtin(float, d),
            5 => self.element(float)?,
            6 => self.call(Some(float), d)?,
            _ => self.rng.pick(FLOAT_SPECIALS).to_string(),
        })
    }

    fn bool_expr(&mut self, d: usize) -> Option<String> {
        Some(match self.rng.weighted(&[20, 15, 5, 10, 5, 5]) {
            0 | 1 => {
                let operand = if self.rng.chance(55) {
                    Ty::Int
                } else {
                    Ty::Float
                };
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!("({} {op} {})", self.expr(operand, d), self.expr(operand, d))
            }
            2 => {
                let op = *self.rng.pick(&["==", "!="]);
                format!(
                    "({} {op} {})",
                    self.expr(Ty::Bool, d),
                    self.expr(Ty::Bool, d)
                )
            }
            3 => {
                let op = *self.rng.pick(&["&&", "||"]);
                format!(
                    "({} {op} {})",
                    self.expr(Ty::Bool, d),
                    self.expr(Ty::Bool, d)
                )
            }
            4 => format!("(!{})", self.expr(Ty::Bool, d)),
            _ => self.call(Some(Ty::Bool), d)?,
        })
    }

    fn array_expr(&mut self, ty: Ty, d: usize) -> Option<String> {
        match self.rng.below(10) {
            0..=4 => Some(self.new_array(ty, d)),
            5 | 6 => self.call(Some(ty), d),
            _ => None,
        }
    }

    /// `abs`, `min` or `max` on `ty` (int or float).
    fn numeric_builtin(&mut self, ty: Ty, d: usize) -> String {
        match self.rng.below(3) {
            0 => format!("abs({})", self.expr(ty, d)),
            n => {
                let name = if n == 1 { "min" } else { "max" };
                format!("{name}({}, {})", self.expr(ty, d), self.expr(ty, d))
            }
        }
    }

    fn new_array(&mut self, ty: Ty, d: usize) -> String {
        let element = ty.element().unwrap_or(Ty::Int);
        let value = self.expr(element, d);
        let length = if self.trap_here() {
            match self.rng.below(3) {
                0 => format!("({} % 4)", self.expr(Ty::Int, d)),
                1 => "0".to_string(),
                _ => "(-1)".to_string(),
            }
        } else if self.rng.chance(70) {
            self.rng.range(1, MAX_ARRAY_LEN - 2).to_string()
        } else {
            format!("(({} & 7) + 1)", self.expr(Ty::Int, d))
        };
        format!("[{value}; {length}]")
    }

    /// `a[i]` for an array variable `a` of elements `element`.
    fn element(&mut self, element: Ty) -> Option<String> {
        let array = self.pick_var(|v| v.ty.element() == Some(element))?;
        let index = self.index(&array.name);
        Some(format!("{}[{index}]", array.name))
    }

    /// An index into the array variable `array`: in bounds unless this
    /// program traps here.
    pub(super) fn index(&mut self, array: &str) -> String {
        let d = 1;
        if self.trap_here() {
            return match self.rng.below(3) {
                0 => self.expr(Ty::Int, d),
                1 => format!("len({array})"),
                _ => format!("({} % (len({array}) + 2))", self.expr(Ty::Int, d)),
            };
        }
        match self.rng.below(5) {
            0 => "0".to_string(),
            1 => format!("(len({array}) - 1)"),
            _ => format!("abs(({} % len({array})))", self.expr(Ty::Int, d)),
        }
    }

    /// A divisor that is never zero unless this program traps here.
    fn divisor(&mut self, d: usize) -> String {
        if self.trap_here() {
            return match self.rng.below(3) {
                0 => self.expr(Ty::Int, d),
                1 => format!("({} & 1)", self.expr(Ty::Int, d)),
                _ => "0".to_string(),
            };
        }
        if self.rng.chance(40) {
            self.rng.pick(SAFE_DIVISORS).to_string()
        } else {
            format!("({} | 1)", self.expr(Ty::Int, d))
        }
    }

    /// `atomic_add` on an int array variable, if there is one.
    pub(super) fn atomic_add(&mut self, d: usize) -> Option<String> {
        let array = self.pick_var(|v| v.ty == Ty::IntArray)?;
        let index = self.index(&array.name);
        let delta = self.expr(Ty::Int, d);
        Some(format!("atomic_add({}, {index}, {delta})", array.name))
    }

    /// A call to an affordable function returning `ret` (`None`: any
    /// function, the result dropped), possibly the current function itself.
    pub(super) fn call(&mut self, ret: Option<Ty>, d: usize) -> Option<String> {
        let wanted = |callee: &Signature| ret.is_none() || callee.ret == ret;
        if self.can_call_self() && self.rng.chance(50) {
            let own = self.funcs.len() - 1;
            if wanted(&self.funcs[own]) {
                self.f.self_calls += 1;
                return Some(self.self_call(own, d));
            }
        }
        let candidates: Vec<usize> = (0..self.f.callees)
            .filter(|&i| wanted(&self.funcs[i]) && self.affordable(self.funcs[i].cost))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let callee = *self.rng.pick(&candidates);
        Some(self.call_to(callee, d))
    }

    /// Self-calls are allowed outside loops only, so the invocation count
    /// stays within [`super::invocations`].
    fn can_call_self(&self) -> bool {
        self.f.recursive && self.f.mult == 1 && self.f.self_calls < MAX_SELF_CALLS
    }

    /// A call to `funcs[callee]`, charged with its cost.
    pub(super) fn call_to(&mut self, callee: usize, d: usize) -> String {
        let signature = self.funcs[callee].clone();
        self.charge(signature.cost);
        let mut args = Vec::new();
        for (i, &ty) in signature.params.iter().enumerate() {
            if signature.recursive && i == 0 {
                args.push(self.rng.range(0, MAX_RECURSION_DEPTH).to_string());
            } else {
                args.push(self.expr(ty, d));
            }
        }
        format!("{}({})", signature.name, args.join(", "))
    }

    fn self_call(&mut self, own: usize, d: usize) -> String {
        let signature = self.funcs[own].clone();
        let mut args = vec!["depth - 1".to_string()];
        for &ty in &signature.params[1..] {
            args.push(self.expr(ty, d));
        }
        format!("{}({})", signature.name, args.join(", "))
    }

    /// A variable (most of the time, if one has type `ty`) or a literal.
    pub(super) fn leaf(&mut self, ty: Ty) -> String {
        if self.rng.chance(65) {
            if let Some(var) = self.pick_var(|v| v.ty == ty) {
                return var.name;
            }
        }
        match ty {
            Ty::IntArray | Ty::FloatArray => {
                let element = ty.element().unwrap_or(Ty::Int);
                let value = self.literal(element);
                let length = self.rng.range(1, MAX_ARRAY_LEN);
                format!("[{value}; {length}]")
            }
            _ => self.literal(ty),
        }
    }

    /// A literal of the scalar type `ty`.
    pub(super) fn literal(&mut self, ty: Ty) -> String {
        match ty {
            Ty::Int => self.int_literal(),
            Ty::Float => self.float_literal(),
            _ => self.rng.pick(&["true", "false"]).to_string(),
        }
    }

    fn int_literal(&mut self) -> String {
        match self.rng.below(10) {
            0..=3 => fmt_int(self.rng.range(-10, 10)),
            4..=7 => self.rng.pick(INT_EDGES).to_string(),
            8 => fmt_int(self.rng.range(-100_000, 100_000)),
            _ => fmt_int(self.rng.next() as i64),
        }
    }

    fn float_literal(&mut self) -> String {
        match self.rng.below(10) {
            0..=3 => fmt_float(self.rng.range(-40, 40) as f64 * 0.25),
            4..=7 => fmt_float(*self.rng.pick(FLOAT_EDGES)),
            _ => {
                let v = f64::from_bits(self.rng.next());
                fmt_float(if v.is_finite() { v } else { 0.5 })
            }
        }
    }
}
