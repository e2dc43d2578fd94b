//! Expressions: every operator and builtin at every type, with the guards
//! that keep divisions, indices and array lengths from trapping except in
//! trapping programs (see the module docs of [`super`]).

use super::edges::{FLOAT_EDGES, FLOAT_SPECIALS, INT_EDGES, SAFE_DIVISORS, SHIFT_EDGES};
use super::{Cost, Generator, Param, Role, Signature, Ty};
use super::{MAX_ARRAY_LEN, MAX_RECURSION_DEPTH, MAX_SELF_CALLS};

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
            match self
                .rng
                .weighted(&[20, 8, 10, 6, 6, 6, 6, 3, 8, 8, 2, 3, 6])
            {
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
                10 => self.atomic_add(d)?,
                11 => self.host_call(int, d),
                _ => self.int_edge_expr(d),
            },
        )
    }

    fn float_expr(&mut self, d: usize) -> Option<String> {
        let float = Ty::Float;
        Some(match self.rng.weighted(&[25, 5, 8, 4, 10, 8, 8, 4, 2, 8]) {
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
            7 => self.rng.pick(FLOAT_SPECIALS).to_string(),
            8 => self.host_call(float, d),
            _ => self.float_edge_expr(d),
        })
    }

    fn bool_expr(&mut self, d: usize) -> Option<String> {
        Some(match self.rng.weighted(&[20, 15, 5, 10, 5, 5, 2, 8]) {
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
            5 => self.call(Some(Ty::Bool), d)?,
            6 => self.host_call(Ty::Bool, d),
            _ => self.float_edge_condition(d),
        })
    }

    fn array_expr(&mut self, ty: Ty, d: usize) -> Option<String> {
        match self.rng.below(10) {
            0..=4 => Some(self.new_array(ty, d)),
            5 | 6 => self.call(Some(ty), d),
            _ => None,
        }
    }

    /// A call of one of the test host functions (`fuzz::host`) giving
    /// `ty` (int, float or bool). `host_check` fails only where the
    /// program may trap.
    fn host_call(&mut self, ty: Ty, d: usize) -> String {
        match ty {
            Ty::Float => format!(
                "host_scale({}, {})",
                self.expr(Ty::Float, d),
                self.expr(Ty::Int, d)
            ),
            Ty::Bool => format!("host_odd({})", self.expr(Ty::Int, d)),
            _ if self.rng.chance(50) => format!(
                "host_mix({}, {})",
                self.expr(Ty::Int, d),
                self.expr(Ty::Int, d)
            ),
            _ if self.trap_here() => format!("host_check({})", crate::fuzz::host::CHECK_FAILS),
            _ => format!("host_check(({} & 511))", self.expr(Ty::Int, d)),
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

    pub(super) fn new_array(&mut self, ty: Ty, d: usize) -> String {
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
        if self.rng.chance(70) {
            if let Some(index) = self.induction_index(array) {
                return index;
            }
        }
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
        let args = self.args_for(&signature.params, false, d);
        format!("{}({})", signature.name, args.join(", "))
    }

    fn self_call(&mut self, own: usize, d: usize) -> String {
        let signature = self.funcs[own].clone();
        let args = self.args_for(&signature.params, true, d);
        format!("{}({})", signature.name, args.join(", "))
    }

    /// Arguments for `params`, each fitting its [`Role`]; a self-call
    /// (`recursing`) passes `depth - 1`.
    pub(super) fn args_for(&mut self, params: &[Param], recursing: bool, d: usize) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        for (k, param) in params.iter().enumerate() {
            let arg = match param.role {
                Role::Depth if recursing => "depth - 1".to_string(),
                Role::Depth => self.rng.range(0, MAX_RECURSION_DEPTH).to_string(),
                Role::Bound => self.bound_arg(),
                // A helper's runtime error shows its callers' frames: make
                // it a little more likely than elsewhere.
                Role::Divisor if self.trap_with(25) => "0".to_string(),
                Role::Divisor => self.divisor(d),
                Role::IndexInto(array) if self.is_array_var(&args[array]) => {
                    let array = args[array].clone();
                    if self.trap_with(25) {
                        format!("len({array})")
                    } else {
                        self.index(&array)
                    }
                }
                // Every array a program that cannot trap makes is nonempty.
                Role::IndexInto(_) => "0".to_string(),
                Role::Plain if param.ty.element().is_some() => {
                    self.array_arg(param.ty, &params[..k], &args, d)
                }
                Role::Plain => self.expr(param.ty, d),
            };
            args.push(arg);
        }
        args
    }

    fn is_array_var(&self, text: &str) -> bool {
        self.visible()
            .iter()
            .any(|v| v.name == text && v.ty.element().is_some())
    }

    /// An array argument: often a variable, sometimes one that an earlier
    /// argument also passes (so that two parameters alias), or one that a
    /// loop indexes.
    fn array_arg(&mut self, ty: Ty, earlier: &[Param], args: &[String], d: usize) -> String {
        let same: Vec<String> = earlier
            .iter()
            .zip(args)
            .filter(|(p, a)| p.ty == ty && self.is_array_var(a))
            .map(|(_, a)| a.clone())
            .collect();
        if !same.is_empty() && self.rng.chance(40) {
            return self.rng.pick(&same).clone();
        }
        let visible = self.visible();
        let indexed: Vec<String> = self
            .f
            .facts
            .iter()
            .flat_map(|f| f.arrays.iter())
            .filter(|a| visible.iter().any(|v| &v.name == *a && v.ty == ty))
            .cloned()
            .collect();
        if !indexed.is_empty() && self.rng.chance(50) {
            return self.rng.pick(&indexed).clone();
        }
        self.expr(ty, d)
    }

    /// A value for a [`Role::Bound`] parameter: in `0..=MAX_ARRAY_LEN`.
    fn bound_arg(&mut self) -> String {
        let arrays = self.vars_where(|v| v.ty.element().is_some());
        match self.rng.below(5) {
            0 if !self.f.bounds.is_empty() => self.rng.pick(&self.f.bounds.clone()).clone(),
            1 if !arrays.is_empty() => format!("len({})", self.rng.pick(&arrays).name),
            2 => format!("({} & 7)", self.expr(Ty::Int, 1)),
            _ => self.rng.range(0, MAX_ARRAY_LEN).to_string(),
        }
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
