//! Loops over array indices, for the optimizer's loop passes.
//!
//! - Induction variables: `for` loops from `0` or `1` to `len(a)`,
//!   `len(a) - 1`, a literal length or `min(n, len(a))` for a bound
//!   parameter `n`; `while` loops whose counter steps by 1, 2 or
//!   `1 + k` for a loop-invariant `k`, or counts down to 0; nested loops
//!   whose inner range starts or ends at the outer index.
//! - Accesses at offsets from the index that reach exactly the first and
//!   the last element; one step further only where the program traps (see
//!   [`Generator::trap_here`]), so that it traps on the first or last
//!   iteration.
//! - Loop-invariant divisions and loads that could trap (`x / d` with `d`
//!   sometimes 0, `a[k]` with `k` sometimes past the end), guarded by a
//!   condition that is false on early iterations or by a loop that runs
//!   zero times exactly when the operation would trap: hoisting them out
//!   of the loop is wrong. A trapping program drops or weakens the guard.
//! - Stores through one name of an array and loads through another.
//!
//! Every index variable comes with an [`IndexFact`] that
//! [`Generator::index`] reads. The arrays it covers are [`Access::Guard`]
//! variables made just before the loop (`let g = [v; n];` or an alias
//! `let g = a;`), so nothing in the body can swap them for shorter ones;
//! counters, index copies and invariants are [`Access::Guard`] too, and a
//! `while` loop steps its counter on the header line, first thing.

use super::{Access, Cost, Generator, IndexFact, Ty, Var, MAX_ARRAY_LEN};

/// The most times the body of a loop over an array's indices runs.
const INDEX_TRIP: u64 = MAX_ARRAY_LEN as u64;

/// One array under one or more [`Access::Guard`] names.
#[derive(Clone)]
struct ArrayGroup {
    names: Vec<String>,
    element: Ty,
    /// The length, when it is a literal.
    len: Option<i64>,
}

/// A variable of the element type that the loop adds what it reads to;
/// printed after the loop.
#[derive(Clone)]
struct Accumulator {
    name: String,
    ty: Ty,
}

/// A loop-invariant operation that may trap, with the invariants it uses
/// (declared before the loop).
#[derive(Clone)]
enum Invariant {
    /// `x / d` or `x % d`, with `d` in `-d_max..=d_max`, sometimes 0.
    Quotient { x: String, d: String, d_max: i64 },
    /// `g[k]`, with `k` in `0..=7`, sometimes past the end.
    Load { k: String },
}

/// What the explicit statements of an index loop's body work with.
#[derive(Clone)]
struct LoopFrame {
    /// The arrays `fact` covers.
    group: ArrayGroup,
    fact: IndexFact,
    acc: Option<Accumulator>,
    invariant: Option<Invariant>,
}

/// `var + offset`, written as the generator writes operators.
fn offset_index(var: &str, offset: i64) -> String {
    match offset {
        0 => var.to_string(),
        k if k > 0 => format!("({var} + {k})"),
        k => format!("({var} - {})", -k),
    }
}

/// `value` of type `from` as a `to` (both int or float).
fn convert(value: String, from: Ty, to: Ty) -> String {
    match (from, to) {
        (Ty::Int, Ty::Float) => format!("float({value})"),
        (Ty::Float, Ty::Int) => format!("int({value})"),
        _ => value,
    }
}

impl Generator<'_> {
    /// An index into `array` from an [`IndexFact`] that covers it, if
    /// any: in bounds, or in a trapping program sometimes one step past
    /// what the fact allows.
    pub(super) fn induction_index(&mut self, array: &str) -> Option<String> {
        let facts: Vec<IndexFact> = self
            .f
            .facts
            .iter()
            .filter(|f| f.arrays.iter().any(|a| a == array))
            .cloned()
            .collect();
        if facts.is_empty() {
            return None;
        }
        let fact = self.rng.pick(&facts).clone();
        if self.trap_here() {
            let offset = if self.rng.chance(50) {
                fact.above + 1
            } else {
                -fact.below - 1
            };
            return Some(offset_index(&fact.var, offset));
        }
        if self.rng.chance(15) {
            return Some(format!("((len({array}) - 1) - {})", fact.var));
        }
        let offset = self.rng.range(-fact.below, fact.above);
        Some(offset_index(&fact.var, offset))
    }

    /// A loop over the indices of a new or aliased array: a `for` loop,
    /// or (`counted`) a `while` loop with a stepping counter.
    pub(super) fn index_loop_stmt(&mut self, counted: bool) -> bool {
        if !self.loop_affordable(INDEX_TRIP) {
            return false;
        }
        let group = self.array_group();
        let acc = self.rng.chance(70).then(|| self.accumulator(group.element));
        let invariant = self.rng.chance(60).then(|| self.invariant_prelude());
        let inner = match self.rng.below(4) {
            0 => Some(self.array_group()),
            1 => Some(group.clone()),
            _ => None,
        };
        self.charge(Cost { work: 4, prints: 0 }.times(INDEX_TRIP));
        let fact = if counted {
            self.open_index_while(&group)
        } else {
            self.open_index_for(&group)
        };
        let frame = LoopFrame {
            group,
            fact,
            acc,
            invariant,
        };
        self.index_loop_body(&frame, inner.as_ref());
        self.close_block("}");
        self.print_accumulator(frame.acc.as_ref());
        true
    }

    /// `let g = ...;`, sometimes with an alias `let g2 = g;`: a new array
    /// or another name for one in scope.
    fn array_group(&mut self) -> ArrayGroup {
        let element = if self.rng.chance(65) {
            Ty::Int
        } else {
            Ty::Float
        };
        let ty = Ty::array_of(element);
        let source = self.pick_var(|v| v.ty == ty);
        let (value, len) = match (self.rng.below(5), source) {
            (0 | 1, Some(source)) => (source.name, None),
            (0..=2, _) => {
                let len = self.rng.range(1, MAX_ARRAY_LEN);
                (format!("[{}; {len}]", self.expr(element, 1)), Some(len))
            }
            _ => (self.new_array(ty, 1), None),
        };
        let first = self.fresh("g");
        self.line(format!("let {first} = {value};"));
        self.declare(first.clone(), ty, Access::Guard);
        let mut names = vec![first.clone()];
        if self.rng.chance(35) {
            let second = self.fresh("g");
            self.line(format!("let {second} = {first};"));
            self.declare(second.clone(), ty, Access::Guard);
            names.push(second);
        }
        ArrayGroup {
            names,
            element,
            len,
        }
    }

    fn accumulator(&mut self, ty: Ty) -> Accumulator {
        let name = self.fresh("s");
        let zero = if ty == Ty::Float { "0.0" } else { "0" };
        self.line(format!("let {name} = {zero};"));
        self.declare(name.clone(), ty, Access::Mutable);
        Accumulator { name, ty }
    }

    /// Whether `name` still means a variable of type `ty` here (a `let`
    /// in the loop body may have shadowed it).
    pub(super) fn holds(&self, name: &str, ty: Ty) -> bool {
        self.visible().iter().any(|v| v.name == name && v.ty == ty)
    }

    fn print_accumulator(&mut self, acc: Option<&Accumulator>) {
        let Some(acc) = acc else { return };
        if self.holds(&acc.name, acc.ty) && self.can_print() && self.rng.chance(75) {
            self.charge(Cost { work: 1, prints: 1 });
            self.line(format!("print({});", acc.name));
        }
    }

    /// `let name = value;` for an int that stays as it is.
    fn guard_line(&mut self, name: &str, value: String) {
        self.line(format!("let {name} = {value};"));
        self.declare(name.to_string(), Ty::Int, Access::Guard);
    }

    /// Declares the invariants of a possibly trapping operation.
    fn invariant_prelude(&mut self) -> Invariant {
        if self.rng.chance(45) {
            let k = self.fresh("k");
            let value = format!("({} & 7)", self.expr(Ty::Int, 1));
            self.guard_line(&k, value);
            return Invariant::Load { k };
        }
        let consts: Vec<Var> = self
            .consts
            .iter()
            .filter(|c| c.ty == Ty::Int)
            .cloned()
            .collect();
        let x = if !consts.is_empty() && self.rng.chance(40) {
            self.rng.pick(&consts).name.clone()
        } else {
            let x = self.fresh("x");
            let value = self.expr(Ty::Int, 1);
            self.guard_line(&x, value);
            x
        };
        let d = self.fresh("d");
        let operand = self.expr(Ty::Int, 1);
        let (value, d_max) = match self.rng.below(3) {
            0 => (format!("({operand} % 3)"), 2),
            1 => (format!("({operand} & 1)"), 1),
            _ => (format!("({operand} % 2)"), 1),
        };
        self.guard_line(&d, value);
        Invariant::Quotient { x, d, d_max }
    }

    /// Opens `for I in LO..HI {` over `group`; gives the index's fact.
    fn open_index_for(&mut self, group: &ArrayGroup) -> IndexFact {
        let g = self.rng.pick(&group.names).clone();
        let var = self.fresh("i");
        let (range, below, above) = match (self.rng.below(8), group.len) {
            (0, _) => (format!("1..len({g})"), 1, 0),
            (1, _) => (format!("0..(len({g}) - 1)"), 0, 1),
            (2, _) => (format!("1..(len({g}) - 1)"), 1, 1),
            (3, Some(len)) => (format!("0..{len}"), 0, 0),
            (4, _) if !self.f.bounds.is_empty() => {
                let n = self.rng.pick(&self.f.bounds).clone();
                // `n` may exceed the length: only where the program traps.
                if self.trap_here() {
                    (format!("0..{n}"), 0, 0)
                } else {
                    (format!("0..min({n}, len({g}))"), 0, 0)
                }
            }
            _ => (format!("0..len({g})"), 0, 0),
        };
        self.open_block(format!("for {var} in {range} {{"));
        self.declare(var.clone(), Ty::Int, Access::Guard);
        IndexFact {
            var,
            arrays: group.names.clone(),
            below,
            above,
        }
    }

    /// Declares a counter and opens a `while` loop over `group` that steps
    /// it on the header line; gives the fact of the index the body uses.
    fn open_index_while(&mut self, group: &ArrayGroup) -> IndexFact {
        let g = self.rng.pick(&group.names).clone();
        let w = self.fresh("w");
        let arrays = group.names.clone();
        let roll = self.rng.below(6);
        if roll >= 3 {
            // Down to 0: the counter itself is the index.
            let (start, above) = if self.rng.chance(30) {
                (format!("len({g}) - 1"), 1)
            } else {
                (format!("len({g})"), 0)
            };
            let header = if self.rng.chance(35) {
                let k = self.step_invariant();
                format!("while {w} > {k} {{ {w} = {w} - 1 - {k};")
            } else {
                format!("while {w} > 0 {{ {w} = {w} - 1;")
            };
            self.guard_line(&w, start);
            self.open_block(header);
            return IndexFact {
                var: w,
                arrays,
                below: 0,
                above,
            };
        }
        let i = self.fresh("i");
        let (start, below) = if self.rng.chance(30) {
            ("1", 1)
        } else {
            ("0", 0)
        };
        let (limit, above) = if self.rng.chance(30) {
            (format!("len({g}) - 1"), 1)
        } else {
            (format!("len({g})"), 0)
        };
        let header = if roll == 0 {
            let exit = format!("if {w} >= {limit} {{ break; }}");
            format!("while true {{ {exit} let {i} = {w}; {w} = {w} + 1;")
        } else {
            let step = match self.rng.below(3) {
                0 => "1".to_string(),
                1 => "2".to_string(),
                _ => format!("1 + {}", self.step_invariant()),
            };
            format!("while {w} < {limit} {{ let {i} = {w}; {w} = {w} + {step};")
        };
        self.guard_line(&w, start.to_string());
        self.open_block(header);
        self.declare(i.clone(), Ty::Int, Access::Guard);
        IndexFact {
            var: i,
            arrays,
            below,
            above,
        }
    }

    /// Declares a loop-invariant `k` in `0..=3` for a counter's step.
    fn step_invariant(&mut self) -> String {
        let k = self.fresh("k");
        let value = format!("({} & 3)", self.expr(Ty::Int, 1));
        self.guard_line(&k, value);
        k
    }

    /// The body of an index loop: ordinary statements with loop patterns
    /// before and after them, and maybe a nested loop over `inner`.
    fn index_loop_body(&mut self, frame: &LoopFrame, inner: Option<&ArrayGroup>) {
        self.enter_loop(INDEX_TRIP);
        self.f.facts.push(frame.fact.clone());
        let patterns = 1 + self.rng.below(2);
        let early = self.rng.below(patterns + 1);
        for _ in 0..early {
            self.loop_pattern_stmt(frame);
        }
        self.block_contents();
        if let Some(group) = inner {
            let nested = self.f.block_depth < self.config.max_block_depth;
            if nested && self.loop_affordable(INDEX_TRIP) {
                self.inner_index_loop(frame, group);
            }
        }
        for _ in early..patterns {
            self.loop_pattern_stmt(frame);
        }
        self.f.facts.pop();
        self.leave_loop(INDEX_TRIP);
    }

    /// A loop nested in `outer`'s whose range starts or ends at `outer`'s
    /// index: over `group` from it to the end, or over `outer`'s arrays
    /// below it.
    fn inner_index_loop(&mut self, outer: &LoopFrame, group: &ArrayGroup) {
        let i = outer.fact.var.clone();
        let h = self.rng.pick(&group.names).clone();
        let j = self.fresh("j");
        let below_outer = IndexFact {
            var: j.clone(),
            arrays: outer.fact.arrays.clone(),
            below: 0,
            above: outer.fact.above + 1,
        };
        let (fact, over) = match self.rng.below(4) {
            0 | 1 => {
                let (start, below) = if self.rng.chance(60) {
                    (i.clone(), 0)
                } else {
                    (format!("({i} + 1)"), 1)
                };
                self.open_block(format!("for {j} in {start}..len({h}) {{"));
                self.declare(j.clone(), Ty::Int, Access::Guard);
                let fact = IndexFact {
                    var: j,
                    arrays: group.names.clone(),
                    below,
                    above: 0,
                };
                (fact, group.clone())
            }
            2 => {
                self.open_block(format!("for {j} in 0..{i} {{"));
                self.declare(j.clone(), Ty::Int, Access::Guard);
                (below_outer, outer.group.clone())
            }
            _ => {
                self.guard_line(&j, i.clone());
                self.open_block(format!("while {j} > 0 {{ {j} = {j} - 1;"));
                (below_outer, outer.group.clone())
            }
        };
        let frame = LoopFrame {
            group: over,
            fact,
            acc: outer.acc.clone(),
            invariant: outer.invariant.clone(),
        };
        self.index_loop_body(&frame, None);
        self.close_block("}");
    }

    /// One statement of the kinds an optimizer's loop passes care about.
    fn loop_pattern_stmt(&mut self, frame: &LoopFrame) {
        if !self.affordable(Cost {
            work: 16,
            prints: 0,
        }) {
            return;
        }
        let done = match self.rng.below(6) {
            0 | 1 => self.accumulate_stmt(frame),
            2 => self.helper_call_stmt(frame.acc.as_ref().map(|a| (a.name.as_str(), a.ty))),
            3 | 4 => self.invariant_stmt(frame),
            _ => false,
        };
        if !done {
            self.alias_store_stmt(frame);
        }
    }

    /// `s = (s + g[I]);`
    fn accumulate_stmt(&mut self, frame: &LoopFrame) -> bool {
        let Some(acc) = &frame.acc else { return false };
        if !self.holds(&acc.name, acc.ty) {
            return false;
        }
        let g = self.rng.pick(&frame.group.names).clone();
        let index = self.index(&g);
        let value = convert(format!("{g}[{index}]"), frame.group.element, acc.ty);
        self.charge(Cost { work: 5, prints: 0 });
        self.line(format!("{0} = ({0} + {value});", acc.name));
        true
    }

    /// `h[I] = (g[J] op E);`, `g` and `h` often two names of one array.
    fn alias_store_stmt(&mut self, frame: &LoopFrame) -> bool {
        let g = self.rng.pick(&frame.group.names).clone();
        let h = self.rng.pick(&frame.group.names).clone();
        let target = self.index(&h);
        let source = self.index(&g);
        let op = *self.rng.pick(&["+", "-", "*"]);
        let value = self.expr(frame.group.element, 1);
        self.charge(Cost { work: 6, prints: 0 });
        self.line(format!("{h}[{target}] = ({g}[{source}] {op} {value});"));
        true
    }

    /// A loop-invariant operation that may trap, guarded so that it does
    /// not where the program must not trap: see the module docs.
    fn invariant_stmt(&mut self, frame: &LoopFrame) -> bool {
        let (Some(invariant), Some(acc)) = (&frame.invariant, &frame.acc) else {
            return false;
        };
        if !self.holds(&acc.name, acc.ty) {
            return false;
        }
        let i = &frame.fact.var;
        let trap = self.trap_with(25);
        let t = self.fresh("t");
        let mut form = self.rng.below(3);
        let zero_trip = Cost {
            work: 8 * (MAX_ARRAY_LEN as u64 + 1),
            prints: 0,
        };
        if form == 2 && !self.affordable(zero_trip) {
            form = 0;
        }
        let (line, trip) = match invariant {
            // A constant may have been shadowed.
            Invariant::Quotient { x, .. } if !self.holds(x, Ty::Int) => return false,
            Invariant::Quotient { x, d, d_max } => {
                let op = *self.rng.pick(&["/", "%"]);
                let value = convert(format!("({x} {op} {d})"), Ty::Int, acc.ty);
                let update = format!("{0} = ({0} + {value});", acc.name);
                match (form, trap) {
                    (0, false) => (format!("if ({d} != 0) {{ {update} }}"), 1),
                    (0, true) => (update, 1),
                    (1, false) => (format!("if (({i} > 1) && ({d} != 0)) {{ {update} }}"), 1),
                    (1, true) => (format!("if ({i} > 1) {{ {update} }}"), 1),
                    (_, false) => (format!("for {t} in 0..{d} {{ {update} }}"), *d_max),
                    (_, true) => (format!("for {t} in 0..({d} + 1) {{ {update} }}"), d_max + 1),
                }
            }
            Invariant::Load { k } => {
                let g = self.rng.pick(&frame.group.names).clone();
                let h = self.rng.pick(&frame.group.names).clone();
                let value = convert(format!("{g}[{k}]"), frame.group.element, acc.ty);
                let update = format!("{0} = ({0} + {value});", acc.name);
                let past = MAX_ARRAY_LEN + 1;
                match (form, trap) {
                    (0, false) => (format!("if ({k} < len({h})) {{ {update} }}"), 1),
                    (0, true) => (update, 1),
                    (1, false) => (format!("if ({k} < {i}) {{ {update} }}"), 1),
                    (1, true) => (format!("if ({k} <= ({i} + 1)) {{ {update} }}"), 1),
                    (_, false) => (
                        format!("for {t} in 0..(len({h}) - {k}) {{ {update} }}"),
                        MAX_ARRAY_LEN,
                    ),
                    (_, true) => (
                        format!("for {t} in 0..((len({h}) + 1) - {k}) {{ {update} }}"),
                        past,
                    ),
                }
            }
        };
        self.charge(Cost { work: 8, prints: 0 }.times(trip as u64));
        self.line(line);
        true
    }
}
