//! Edge values: the literals and small expressions at the corners of int
//! and float semantics, which constant folding, strength reduction and
//! float comparisons get wrong first. Ints: both ends of the range (the
//! minimum only as `(-9223372036854775808)` or another constant expression
//! the lexer accepts), `-1` as a divisor, powers of two as multipliers and
//! divisors of negative numbers, shift counts of 64 and more and below 0.
//! Floats: `0.0` and `-0.0`, NaN, both infinities, subnormals, the largest
//! finite values, and values around the int conversion bounds (`9.2e18`,
//! `2^63`, `-9.3e18`) under `int()`, `min`/`max`, `abs`, `sqrt` and
//! comparisons, also negated ones (`!(a < b)` is not `a >= b` for NaN).

use super::exprs::fmt_float;
use super::{Cost, Generator, Ty};

pub(super) const INT_EDGES: &[&str] = &[
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
    "((-9223372036854775807) - 1)",
    "0x4000000000000000",
];

/// The minimum int, written in each way the language accepts.
const INT_MINS: &[&str] = &[
    "(-9223372036854775808)",
    "(-0x8000000000000000)",
    "((-9223372036854775807) - 1)",
];

pub(super) const FLOAT_EDGES: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    2.5,
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
    1e-308,
    -1e-308,
    5e-324,
    -5e-324,
    9.2e18,
    -9.2e18,
    9.3e18,
    -9.3e18,
    // 2^63 (just past the largest int), the float just below it, -2^63.
    9223372036854775808.0,
    9223372036854774784.0,
    -9223372036854775808.0,
];

/// Float expressions that are not literals: NaN, both infinities, -NaN.
pub(super) const FLOAT_SPECIALS: &[&str] = &[
    "(0.0 / 0.0)",
    "(1.0 / 0.0)",
    "((-1.0) / 0.0)",
    "(1e308 * 10.0)",
    "(-(0.0 / 0.0))",
];

pub(super) const SHIFT_EDGES: &[&str] = &[
    "0", "1", "31", "32", "63", "64", "65", "(-1)", "127", "128", "(-63)", "(-64)", "(-65)",
];

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
    "4",
    "8",
    "1024",
    "(-2)",
    "(-8)",
    "0x4000000000000000",
];

/// Multipliers and divisors that strength reduction turns into shifts.
const POWERS_OF_TWO: &[&str] = &[
    "2",
    "4",
    "8",
    "16",
    "1024",
    "4294967296",
    "0x4000000000000000",
    "(-2)",
    "(-16)",
];

impl Generator<'_> {
    /// An int expression around an edge value (`d`: nesting left).
    pub(super) fn int_edge_expr(&mut self, d: usize) -> String {
        let int = Ty::Int;
        match self.rng.below(6) {
            0 => format!("int({})", self.float_edge_operand(d)),
            1 => {
                let op = *self.rng.pick(&["/", "%", "*"]);
                let dividend = if self.rng.chance(50) {
                    self.rng.pick(INT_MINS).to_string()
                } else {
                    self.expr(int, d)
                };
                format!("({dividend} {op} (-1))")
            }
            2 => {
                let op = *self.rng.pick(&["<<", ">>"]);
                let count = self.rng.pick(SHIFT_EDGES);
                format!("({} {op} {count})", self.expr(int, d))
            }
            3 => {
                let op = *self.rng.pick(&["*", "/", "%"]);
                let power = self.rng.pick(POWERS_OF_TWO);
                format!("({} {op} {power})", self.expr(int, d))
            }
            4 => {
                let edge = self.rng.pick(INT_EDGES);
                match self.rng.below(3) {
                    0 => format!("abs({edge})"),
                    1 => format!("(-{edge})"),
                    _ => format!("(~{edge})"),
                }
            }
            _ => {
                let op = *self.rng.pick(&["+", "-", "*"]);
                let edge = self.rng.pick(INT_EDGES);
                format!("({edge} {op} {})", self.expr(int, d))
            }
        }
    }

    /// A float expression around an edge value.
    pub(super) fn float_edge_expr(&mut self, d: usize) -> String {
        let float = Ty::Float;
        let edge = self.float_edge_operand(d);
        match self.rng.below(6) {
            0 => {
                let name = *self.rng.pick(&["min", "max"]);
                let other = self.expr(float, d);
                if self.rng.chance(50) {
                    format!("{name}({edge}, {other})")
                } else {
                    format!("{name}({other}, {edge})")
                }
            }
            1 => {
                let op = *self.rng.pick(&["+", "-", "*", "/"]);
                format!("({} {op} {edge})", self.expr(float, d))
            }
            2 => format!("{}({edge})", self.rng.pick(&["sqrt", "abs"])),
            3 => format!("float({})", self.rng.pick(INT_EDGES)),
            4 => {
                let op = *self.rng.pick(&["+", "-", "*", "/"]);
                let other = self.float_edge_operand(d);
                format!("({edge} {op} {other})")
            }
            _ => edge,
        }
    }

    /// A comparison that NaN, `-0.0` or an infinity decides: `x != x`, a
    /// negated ordering, or a comparison with an edge value.
    pub(super) fn float_edge_condition(&mut self, d: usize) -> String {
        let float = Ty::Float;
        let ordering = *self.rng.pick(&["<", "<=", ">", ">="]);
        match self.rng.below(4) {
            0 => {
                // A leaf, so that evaluating it twice costs what it says.
                let x = self.leaf(float);
                self.charge(Cost { work: 1, prints: 0 });
                format!("({x} {} {x})", self.rng.pick(&["==", "!="]))
            }
            1 => {
                let (a, b) = (self.expr(float, d), self.float_edge_operand(d));
                format!("(!({a} {ordering} {b}))")
            }
            2 => {
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                let edge = self.float_edge_operand(d);
                format!("({} {op} {edge})", self.expr(float, d))
            }
            _ => {
                let (a, b) = (self.float_edge_operand(d), self.float_edge_operand(d));
                format!("({a} {ordering} {b})")
            }
        }
    }

    /// An edge literal or special, or now and then a variable.
    fn float_edge_operand(&mut self, d: usize) -> String {
        match self.rng.below(10) {
            0..=4 => fmt_float(*self.rng.pick(FLOAT_EDGES)),
            5..=7 => self.rng.pick(FLOAT_SPECIALS).to_string(),
            _ => self.expr(Ty::Float, d.min(1)),
        }
    }
}
