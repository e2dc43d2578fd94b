//! Random, well-typed tj programs for differential testing of the tiers.
//!
//! Besides every statement, operator and builtin at every type, the
//! programs go after what an optimizing tier gets wrong, mixed in among
//! the ordinary statements by probability:
//!
//! - loops over array indices ([`loops`]): induction variables counting up
//!   by 1, 2 or `1 + k` for a loop-invariant `k`, or down to 0; bounds
//!   `len(a)`, `len(a) - 1`, a literal length or a bound parameter; nested
//!   loops whose inner range starts or ends at the outer index; accesses
//!   at `i - 1`, `i + 1` and `len(a) - 1 - i` that reach exactly the first
//!   and last element; loop-invariant divisions and loads that could trap,
//!   under guards that are false on early iterations or in loops that run
//!   zero times (hoisting them is wrong); stores through one name of an
//!   array and loads through another;
//! - small helper functions to inline ([`helpers`]): arithmetic leaves,
//!   getters, setters, divisions, alias probes, short reductions, chains
//!   of them and tiny self-recursion, called from loops; array arguments
//!   that alias (`f(a, a)`); two loads of one element around a store
//!   through another name or in a callee;
//! - edge values ([`edges`]): the int range's ends, `-1` divisors, shift
//!   counts of 64 and more or below 0, powers of two; `0.0`, `-0.0`, NaN,
//!   infinities, subnormals, `1e308`, floats near the int conversion bounds
//!   (`9.2e18`, `2^63`, `-9.3e18`), in arithmetic, `int()`, `float()`,
//!   `min`/`max`, `abs`, `sqrt` and comparisons, also negated ones and
//!   `x != x`, in loop conditions and branches.
//!
//! Contract: [`generate`] is a pure function of `(seed, config)`, and every
//! program it gives
//!
//! - **compiles**: the generator tracks every variable's type, scope and
//!   mutability, wraps every operator in parentheses (so precedence and the
//!   no-chaining rule for comparisons never matter), and ends every function
//!   that has a return type with `return EXPR;`;
//! - **terminates quickly**: every `for` range is bounded by constants
//!   (literal ends, `E & 3`, `E & 7`, `len(a)` with every array at most
//!   [`MAX_ARRAY_LEN`] long, `len(a) - k` for `k >= 0`, an invariant
//!   `d <= 2`, or a bound parameter, which every call site passes in
//!   `0..=MAX_ARRAY_LEN`); every `while` has its own counter that is
//!   bounded in the header and stepped first thing in the body (up by 1,
//!   2 or `1 + k` with `k` in `0..=3` to a bound, or down towards 0);
//!   calls form a DAG (`fK` calls only `fJ` with `J < K`) except for
//!   self-recursion on a `depth` parameter that starts at most
//!   [`MAX_RECURSION_DEPTH`] and drops by one per call; and a static cost
//!   model (an upper bound on expression nodes evaluated and on lines
//!   printed, loops multiplying, calls adding their callee's bound) keeps
//!   each program near [`GenConfig::work_budget`] and within
//!   [`GenConfig::print_budget`];
//! - **is deterministic**: no `now_ns`, `arg` or `argc`; a spawned thread,
//!   if any (only in programs that cannot trap), calls a function that
//!   never prints and is joined at once.
//!
//! Runtime errors happen only in *trapping* programs
//! ([`GenConfig::trap_percent`] of them), where a few divisors, indices and
//! array lengths are left unguarded, a few index loops step one past an
//! end, and a few invariant operations lose their guard. Everywhere else
//! a divisor is a nonzero literal or `(E | 1)`, or an invariant `d` under
//! `d != 0` or in a loop `0..d`; an index is `0`, `len(a) - 1`,
//! `abs(E % len(a))`, an index variable plus an offset its [`IndexFact`]
//! allows, or an invariant `k` under `k < len(a)`, `k < i` or in a loop
//! `0..(len(a) - k)`; an array length is in `1..=MAX_ARRAY_LEN`; and every
//! parameter gets what its [`Role`] promises.
//!
//! Layout that [`super::minimize`] relies on: one statement per line (a
//! one-line `if C { S }` or `for t in 0..E { S }` counts as one); a
//! block's `}` alone on its line or as `} else {`; a `while` loop's
//! counter step (and bound check, and an index copy `let i = w;`) and a
//! recursive function's depth guard on the same line as the opening brace,
//! and no counter step in parentheses, so that neither deleting whole lines
//! nor replacing names, numbers or groups by `0` or `1` can remove a loop's
//! bound or a recursion's base case.

/// The longest array a program creates; also bounds `for i in 0..len(a)`.
pub const MAX_ARRAY_LEN: i64 = 8;

/// The largest `depth` argument a recursive function is called with.
pub const MAX_RECURSION_DEPTH: i64 = 3;

mod edges;
mod exprs;
mod helpers;
mod loops;
mod stmts;

use helpers::HelperKind;

/// Size knobs of [`generate`].
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Functions besides `main` and the helpers: between 0 and this many.
    pub max_functions: usize,
    /// Small helper functions (see [`helpers`]), in some programs:
    /// between 0 and this many.
    pub max_helpers: usize,
    /// Parameters of a function: between 0 and this many.
    pub max_params: usize,
    /// `const` items: between 0 and this many.
    pub max_consts: usize,
    /// Statements in a nested block: between 1 and this many (a function
    /// body gets between half and twice as many).
    pub max_stmts: usize,
    /// How deeply `if`, `for` and `while` nest inside a function.
    pub max_block_depth: usize,
    /// How deeply operators nest inside an expression.
    pub max_expr_depth: usize,
    /// The largest literal upper bound of a loop.
    pub max_trip: i64,
    /// Upper bound on the expression nodes a run evaluates (soft: a
    /// statement may overshoot it by its own cost).
    pub work_budget: u64,
    /// Upper bound on the lines a run prints.
    pub print_budget: u64,
    /// Percentage of programs that may end in a runtime error.
    pub trap_percent: u32,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            max_functions: 6,
            max_helpers: 4,
            max_params: 10,
            max_consts: 4,
            max_stmts: 6,
            max_block_depth: 3,
            max_expr_depth: 3,
            max_trip: 6,
            work_budget: 20_000,
            print_budget: 120,
            trap_percent: 30,
        }
    }
}

/// Generates the program for `seed`: see the module docs for what holds.
pub fn generate(seed: u64, config: &GenConfig) -> String {
    Generator::new(seed, config).program()
}

/// SplitMix64: tiny, fast, and good enough to pick grammar productions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi` (`lo` when the range is empty).
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo.wrapping_add((self.next() % (hi.abs_diff(lo) + 1)) as i64)
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 < u64::from(percent)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// An index into `weights`, each chosen with probability proportional
    /// to its weight.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut roll = self.next() % u64::from(total.max(1));
        for (i, &w) in weights.iter().enumerate() {
            if roll < u64::from(w) {
                return i;
            }
            roll -= u64::from(w);
        }
        0
    }
}

/// A tj type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Int,
    Float,
    Bool,
    IntArray,
    FloatArray,
}

impl Ty {
    const ALL: [Ty; 5] = [Ty::Int, Ty::Float, Ty::Bool, Ty::IntArray, Ty::FloatArray];
    const SCALARS: [Ty; 3] = [Ty::Int, Ty::Float, Ty::Bool];

    fn name(self) -> &'static str {
        match self {
            Ty::Int => "int",
            Ty::Float => "float",
            Ty::Bool => "bool",
            Ty::IntArray => "[int]",
            Ty::FloatArray => "[float]",
        }
    }

    /// The array type of `element`s (int or float).
    fn array_of(element: Ty) -> Ty {
        if element == Ty::Float {
            Ty::FloatArray
        } else {
            Ty::IntArray
        }
    }

    fn element(self) -> Option<Ty> {
        match self {
            Ty::IntArray => Some(Ty::Int),
            Ty::FloatArray => Some(Ty::Float),
            _ => None,
        }
    }
}

/// What a program may do with a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// `let` variables and parameters: read, assign, shadow.
    Mutable,
    /// Constants and `for` variables: read and shadow.
    ReadOnly,
    /// Loop counters, `depth`, loop bounds, index variables, the arrays
    /// they index and loop invariants: read only; never assigned or
    /// shadowed, because termination or an [`IndexFact`] depends on them.
    Guard,
    /// Thread handles: never touched after their one `join`.
    Hidden,
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    ty: Ty,
    access: Access,
}

/// What a parameter is for; every call site passes only values that fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Any value of its type.
    Plain,
    /// `depth` of a recursive function: `0..=MAX_RECURSION_DEPTH` from
    /// outside, one less per self-call.
    Depth,
    /// A loop bound: `0..=MAX_ARRAY_LEN`.
    Bound,
    /// An index into the array passed as parameter `k`: in bounds unless
    /// the program traps there.
    IndexInto(usize),
    /// A divisor: nonzero unless the program traps there.
    Divisor,
}

#[derive(Clone, Copy, Debug)]
struct Param {
    ty: Ty,
    role: Role,
}

impl Param {
    fn plain(ty: Ty) -> Param {
        Param {
            ty,
            role: Role::Plain,
        }
    }
}

/// What the generator knows about the int variable `var` wherever it is
/// visible: for every array variable in `arrays` (all [`Access::Guard`],
/// so never reassigned, and all of one length), `var - below >= 0` and
/// `var + above < len`. Loops over indices and index parameters set it.
#[derive(Clone, Debug)]
struct IndexFact {
    var: String,
    arrays: Vec<String>,
    below: i64,
    above: i64,
}

/// An upper bound on what running some code costs.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    work: u64,
    prints: u64,
}

impl Cost {
    fn times(self, n: u64) -> Cost {
        Cost {
            work: self.work.saturating_mul(n),
            prints: self.prints.saturating_mul(n),
        }
    }

    fn plus(self, other: Cost) -> Cost {
        Cost {
            work: self.work.saturating_add(other.work),
            prints: self.prints.saturating_add(other.prints),
        }
    }
}

/// A generated function, as callers see it.
#[derive(Clone, Debug)]
struct Signature {
    name: String,
    params: Vec<Param>,
    ret: Option<Ty>,
    /// What kind of small function meant to be inlined it is, if it is
    /// one (see [`helpers`]).
    helper: Option<HelperKind>,
    /// One call from outside, including all its recursion.
    cost: Cost,
}

/// The most self-call sites a recursive function body may contain; with
/// [`MAX_RECURSION_DEPTH`] this bounds one outside call to
/// `1 + 2 + 4 + 8` invocations.
const MAX_SELF_CALLS: u32 = 2;
const MAX_INVOCATIONS: u64 = 15;

/// How many times a recursive function with `self_calls` call sites runs
/// for one call from outside with the largest depth.
fn invocations(self_calls: u32) -> u64 {
    (0..=MAX_RECURSION_DEPTH as u32)
        .map(|k| u64::from(self_calls).pow(k))
        .sum()
}

/// The function being generated.
#[derive(Default)]
struct FnState {
    /// Callable functions are `funcs[..callees]`.
    callees: usize,
    ret: Option<Ty>,
    is_main: bool,
    recursive: bool,
    self_calls: u32,
    /// `vars[scopes[k]..]` were declared in the k-th open block or later.
    vars: Vec<Var>,
    scopes: Vec<usize>,
    /// What holds about index variables here; pushed and popped by the
    /// loops and functions that establish it.
    facts: Vec<IndexFact>,
    /// The [`Role::Bound`] parameters.
    bounds: Vec<String>,
    /// How many times the current statement may run per call: the product
    /// of the enclosing loops' trip bounds.
    mult: u64,
    loop_depth: usize,
    block_depth: usize,
    spent: Cost,
    budget: Cost,
    lines: Vec<String>,
}

/// The state of generating one program.
struct Generator<'c> {
    rng: Rng,
    config: &'c GenConfig,
    /// Whether this program may contain unguarded operations.
    traps: bool,
    consts: Vec<Var>,
    funcs: Vec<Signature>,
    spawned: bool,
    next_name: usize,
    f: FnState,
}

impl<'c> Generator<'c> {
    fn new(seed: u64, config: &'c GenConfig) -> Self {
        let mut rng = Rng(seed);
        let traps = rng.chance(config.trap_percent);
        Generator {
            rng,
            config,
            traps,
            consts: Vec::new(),
            funcs: Vec::new(),
            spawned: false,
            next_name: 0,
            f: FnState::default(),
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    /// Whether to leave this operation unguarded.
    fn trap_here(&mut self) -> bool {
        self.trap_with(6)
    }

    /// [`Self::trap_here`] with `percent` chance in a trapping program,
    /// for rare constructs whose trapping variant matters.
    fn trap_with(&mut self, percent: u32) -> bool {
        self.traps && self.rng.chance(percent)
    }

    // ---- items -------------------------------------------------------

    fn program(mut self) -> String {
        let mut items = Vec::new();
        for _ in 0..self.rng.below(self.config.max_consts + 1) {
            items.push(self.const_item());
        }
        // Small helpers and ordinary functions interleave, so that each
        // kind calls the other (calls go to earlier functions only).
        let mut helper_slots = vec![false; self.rng.below(self.config.max_functions + 1)];
        if self.rng.chance(60) {
            helper_slots.extend(vec![true; self.rng.below(self.config.max_helpers + 1)]);
        }
        self.rng.shuffle(&mut helper_slots);
        for helper in helper_slots {
            let item = if helper {
                self.helper()
            } else {
                self.function()
            };
            items.push(item);
        }
        items.push(self.main());
        // Items may come in any order; shuffle so callers sometimes
        // precede their callees and constants their dependencies.
        self.rng.shuffle(&mut items);
        items.join("\n")
    }

    fn const_item(&mut self) -> String {
        let ty = *self.rng.pick(&Ty::SCALARS);
        let name = format!("K{}", self.consts.len());
        let value = self.const_expr(ty, 2);
        self.consts.push(Var {
            name: name.clone(),
            ty,
            access: Access::ReadOnly,
        });
        format!("const {name}: {} = {value};\n", ty.name())
    }

    /// A constant expression: literals, earlier constants and operators,
    /// never a division by zero (a compile error in constants).
    fn const_expr(&mut self, ty: Ty, depth: usize) -> String {
        let earlier: Vec<String> = self
            .consts
            .iter()
            .filter(|c| c.ty == ty)
            .map(|c| c.name.clone())
            .collect();
        if depth == 0 || self.rng.chance(30) {
            if !earlier.is_empty() && self.rng.chance(40) {
                return self.rng.pick(&earlier).clone();
            }
            return self.literal(ty);
        }
        let d = depth - 1;
        match ty {
            Ty::Int => match self.rng.below(4) {
                0 => {
                    let op = *self.rng.pick(&["+", "-", "*", "&", "|", "^", "<<", ">>"]);
                    let (a, b) = (self.const_expr(ty, d), self.const_expr(ty, d));
                    format!("({a} {op} {b})")
                }
                1 => {
                    let op = *self.rng.pick(&["/", "%"]);
                    let divisor = *self.rng.pick(edges::SAFE_DIVISORS);
                    format!("({} {op} {divisor})", self.const_expr(ty, d))
                }
                2 => format!("({}{})", self.rng.pick(&["-", "~"]), self.const_expr(ty, d)),
                _ => self.literal(ty),
            },
            Ty::Float => match self.rng.below(3) {
                0 => format!("(-{})", self.const_expr(ty, d)),
                _ => {
                    let op = *self.rng.pick(&["+", "-", "*", "/"]);
                    let (a, b) = (self.const_expr(ty, d), self.const_expr(ty, d));
                    format!("({a} {op} {b})")
                }
            },
            _ => match self.rng.below(4) {
                0 => format!("(!{})", self.const_expr(ty, d)),
                1 => {
                    let op = *self.rng.pick(&["&&", "||", "==", "!="]);
                    let (a, b) = (self.const_expr(ty, d), self.const_expr(ty, d));
                    format!("({a} {op} {b})")
                }
                _ => {
                    let operand = *self.rng.pick(&[Ty::Int, Ty::Float]);
                    let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                    let a = self.const_expr(operand, d);
                    let b = self.const_expr(operand, d);
                    format!("({a} {op} {b})")
                }
            },
        }
    }

    fn function(&mut self) -> String {
        let index = self.funcs.len();
        let name = format!("f{index}");
        let recursive = self.rng.chance(20);
        let mut params = Vec::new();
        if recursive {
            params.push(Param {
                ty: Ty::Int,
                role: Role::Depth,
            });
        }
        for _ in 0..self.rng.below(self.config.max_params + 1) {
            params.push(Param::plain(*self.rng.pick(&Ty::ALL)));
        }
        if self.rng.chance(25) {
            let at = self.rng.range(i64::from(recursive), params.len() as i64) as usize;
            let bound = Param {
                ty: Ty::Int,
                role: Role::Bound,
            };
            params.insert(at, bound);
        }
        let ret = match self.rng.below(8) {
            0 | 1 => None,
            2..=4 => Some(Ty::Int),
            5 => Some(Ty::Float),
            6 => Some(Ty::Bool),
            _ => Some(*self.rng.pick(&[Ty::IntArray, Ty::FloatArray])),
        };
        let mut budget = Cost {
            work: self.rng.range(20, 200) as u64 * self.config.work_budget / 1000,
            prints: self.rng.below(self.config.print_budget as usize / 6 + 1) as u64,
        };
        if self.rng.chance(30) {
            budget.prints = 0;
        }
        if recursive {
            budget.work /= MAX_INVOCATIONS;
            budget.prints /= MAX_INVOCATIONS;
        }
        // Visible to its own body only when recursive; callers see it once
        // its cost is known.
        self.funcs.push(Signature {
            name: name.clone(),
            params: params.clone(),
            ret,
            helper: None,
            cost: Cost::default(),
        });
        self.begin_function(index, ret, recursive, budget);
        let names = self.declare_params(&params);
        let mut header = Self::fn_header(&name, &names, &params, ret);
        if recursive {
            let base = ret.map_or(String::new(), |t| format!(" {}", self.leaf(t)));
            header.push_str(&format!(" if depth <= 0 {{ return{base}; }}"));
        }
        let body = self.function_body(header, ret);
        self.finish_signature(index);
        body
    }

    /// Sets the cost of `funcs[index]`, whose body was just generated:
    /// what its body spent, times how often one outside call runs it.
    fn finish_signature(&mut self, index: usize) {
        let calls = if self.f.recursive {
            invocations(self.f.self_calls)
        } else {
            1
        };
        self.funcs[index].cost = self.f.spent.plus(Cost { work: 4, prints: 0 }).times(calls);
    }

    fn main(&mut self) -> String {
        let ret = self.rng.chance(50).then_some(Ty::Int);
        let budget = Cost {
            work: self.config.work_budget,
            prints: self.config.print_budget,
        };
        let callees = self.funcs.len();
        self.begin_function(callees, ret, false, budget);
        self.f.is_main = true;
        let ret_text = ret.map_or("", |_| " -> int");
        self.function_body(format!("fn main(){ret_text} {{"), ret)
    }

    fn begin_function(&mut self, callees: usize, ret: Option<Ty>, recursive: bool, budget: Cost) {
        self.f = FnState {
            callees,
            ret,
            recursive,
            mult: 1,
            budget,
            ..FnState::default()
        };
        self.f.scopes.push(0);
    }

    /// Declares the parameters; gives their names. A parameter
    /// with a role other than [`Role::Plain`], or that one indexes, is
    /// [`Access::Guard`]: what callers promise about it must stay true.
    fn declare_params(&mut self, params: &[Param]) -> Vec<String> {
        let mut names = Vec::new();
        for param in params {
            let name = match param.role {
                Role::Depth => "depth".to_string(),
                Role::Bound => self.fresh("n"),
                Role::IndexInto(_) => self.fresh("i"),
                Role::Divisor => self.fresh("d"),
                Role::Plain => self.fresh("p"),
            };
            names.push(name);
        }
        for (k, param) in params.iter().enumerate() {
            let name = names[k].clone();
            let indexed = params.iter().any(|q| q.role == Role::IndexInto(k));
            let access = if param.role == Role::Plain && !indexed {
                Access::Mutable
            } else {
                Access::Guard
            };
            match param.role {
                Role::Bound => self.f.bounds.push(name.clone()),
                Role::IndexInto(array) => self.f.facts.push(IndexFact {
                    var: name.clone(),
                    arrays: vec![names[array].clone()],
                    below: 0,
                    above: 0,
                }),
                _ => {}
            }
            self.declare(name, param.ty, access);
        }
        names
    }

    /// `fn NAME(PARAMS) -> RET {` for parameters named `names`.
    fn fn_header(name: &str, names: &[String], params: &[Param], ret: Option<Ty>) -> String {
        let list: Vec<String> = names
            .iter()
            .zip(params)
            .map(|(name, p)| format!("{name}: {}", p.ty.name()))
            .collect();
        let ret_text = ret.map_or(String::new(), |t| format!(" -> {}", t.name()));
        format!("fn {name}({}){ret_text} {{", list.join(", "))
    }

    fn function_body(&mut self, header: String, ret: Option<Ty>) -> String {
        self.f.lines.push(header);
        self.block_contents();
        if self.f.is_main {
            self.final_prints();
        }
        if let Some(ty) = ret {
            let value = self.expr(ty, self.config.max_expr_depth);
            self.line(format!("return {value};"));
        }
        self.close_function()
    }

    /// Closes the function being generated; gives its text.
    fn close_function(&mut self) -> String {
        self.f.lines.push("}".to_string());
        let mut text = self.f.lines.join("\n");
        text.push('\n');
        text
    }

    /// Prints some of `main`'s variables at the end, so that what the
    /// program computed shows up in its output.
    fn final_prints(&mut self) {
        let scalars: Vec<Var> = self
            .visible()
            .into_iter()
            .filter(|v| matches!(v.ty, Ty::Int | Ty::Float | Ty::Bool))
            .collect();
        for _ in 0..self.rng.below(4) {
            if scalars.is_empty() || !self.can_print() {
                break;
            }
            let name = self.rng.pick(&scalars).name.clone();
            self.charge(Cost { work: 1, prints: 1 });
            self.line(format!("print({name});"));
        }
    }

    // ---- scopes, budget and output ----------------------------------

    fn line(&mut self, text: String) {
        let indent = "    ".repeat(self.f.scopes.len());
        self.f.lines.push(format!("{indent}{text}"));
    }

    fn open_block(&mut self, header: String) {
        self.line(header);
        self.f.scopes.push(self.f.vars.len());
        self.f.block_depth += 1;
    }

    fn close_block(&mut self, closer: &str) {
        self.end_scope();
        self.line(closer.to_string());
    }

    fn end_scope(&mut self) {
        let start = self.f.scopes.pop().unwrap_or(0);
        self.f.vars.truncate(start);
        self.f.block_depth -= 1;
    }

    fn declare(&mut self, name: String, ty: Ty, access: Access) {
        self.f.vars.push(Var { name, ty, access });
    }

    /// The variables and constants in scope, innermost binding per name.
    fn visible(&self) -> Vec<Var> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for var in self.f.vars.iter().rev().chain(self.consts.iter()) {
            if seen.contains(&var.name.as_str()) {
                continue;
            }
            seen.push(&var.name);
            if var.access != Access::Hidden {
                out.push(var.clone());
            }
        }
        out
    }

    fn vars_where(&self, keep: impl Fn(&Var) -> bool) -> Vec<Var> {
        self.visible().into_iter().filter(|v| keep(v)).collect()
    }

    fn pick_var(&mut self, keep: impl Fn(&Var) -> bool) -> Option<Var> {
        let vars = self.vars_where(keep);
        (!vars.is_empty()).then(|| self.rng.pick(&vars).clone())
    }

    fn charge(&mut self, cost: Cost) {
        self.f.spent = self.f.spent.plus(cost.times(self.f.mult));
    }

    fn affordable(&self, cost: Cost) -> bool {
        let total = self.f.spent.plus(cost.times(self.f.mult));
        total.work <= self.f.budget.work && total.prints <= self.f.budget.prints
    }

    fn can_print(&self) -> bool {
        self.affordable(Cost { work: 1, prints: 1 })
    }

    /// Whether a loop running its body `trip` times still leaves room for
    /// a modest body.
    fn loop_affordable(&self, trip: u64) -> bool {
        let body = Cost {
            work: 40 * trip.max(1),
            prints: 0,
        };
        self.f.loop_depth < 3 && self.f.mult * trip.max(1) <= 200 && self.affordable(body)
    }
}

#[cfg(test)]
mod tests {
    use super::exprs::{fmt_float, fmt_int};
    use super::*;
    use crate::fuzz::host::compile;

    #[test]
    fn every_program_compiles() {
        let config = GenConfig::default();
        for seed in 0..300 {
            let program = generate(seed, &config);
            if let Err(errors) = compile(program.as_bytes()) {
                let first = errors[0].render("generated.tj");
                panic!("seed {seed} does not compile: {first}\n{program}");
            }
        }
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let config = GenConfig::default();
        assert_eq!(generate(7, &config), generate(7, &config));
        assert_ne!(generate(7, &config), generate(8, &config));
    }

    #[test]
    fn small_and_large_configs_compile() {
        let tiny = GenConfig {
            max_functions: 0,
            max_stmts: 1,
            max_block_depth: 0,
            max_expr_depth: 0,
            ..GenConfig::default()
        };
        let large = GenConfig {
            max_functions: 12,
            max_stmts: 10,
            max_block_depth: 5,
            max_expr_depth: 5,
            ..GenConfig::default()
        };
        for seed in 0..50 {
            for config in [&tiny, &large] {
                let program = generate(seed, config);
                assert!(
                    compile(program.as_bytes()).is_ok(),
                    "seed {seed}:\n{program}"
                );
            }
        }
    }

    #[test]
    fn literals_read_back() {
        for v in [0.0, -0.0, 5e-324, 1e308, 0.1, -2.5e-3] {
            let text = fmt_float(v);
            let digits = text.trim_start_matches("(-").trim_end_matches(')');
            assert_eq!(digits.parse::<f64>().unwrap(), v.abs(), "{text}");
        }
        assert_eq!(fmt_int(i64::MIN), "(-9223372036854775808)");
        assert_eq!(fmt_int(-5), "(-5)");
    }

    /// How many of 300 programs show each construct the generator aims at
    /// optimizers: each must stay common enough to matter.
    #[test]
    fn optimizer_constructs_appear() {
        fn while_line(l: &str) -> bool {
            l.trim_start().starts_with("while ")
        }
        type LineCheck = fn(&str) -> bool;
        let checks: &[(&str, LineCheck)] = &[
            ("nested index loop", |l| {
                l.contains("for j") || l.contains("while j")
            }),
            ("counter step 2", |l| while_line(l) && l.ends_with(" + 2;")),
            ("invariant counter step", |l| {
                while_line(l) && l.contains(" + 1 + k")
            }),
            ("counting down", |l| while_line(l) && l.contains(" - 1;")),
            ("bound len(a) - 1", |l| {
                l.contains(") - 1) {") || l.contains(") - 1 {")
            }),
            ("bound parameter", |l| l.contains("..min(n")),
            ("offset access", |l| {
                l.contains(" + 1)]") || l.contains(" - 1)]")
            }),
            ("guarded invariant division", |l| {
                l.contains("(d") && l.contains(" != 0)")
            }),
            ("zero-trip invariant loop", |l| {
                l.trim_start().starts_with("for t")
            }),
            ("guarded invariant load", |l| {
                l.contains("if (k") && l.contains("{ s")
            }),
            ("alias of a guarded array", |l| {
                l.trim_start().starts_with("let g") && l.contains(" = g")
            }),
            ("getter", |l| {
                l.starts_with("    return p") && l.ends_with("];")
            }),
            ("setter", |l| {
                l.starts_with("    p") && l.contains("[i") && l.contains("] = p")
            }),
            ("NaN", |l| l.contains("(0.0 / 0.0)")),
            ("negative zero", |l| l.contains("(-0.0)")),
            ("near the int bounds", |l| {
                l.contains("9.2e18") || l.contains("9.3e18")
            }),
            ("int minimum", |l| l.contains("9223372036854775808")),
            ("negated comparison", |l| l.contains("(!((")),
        ];
        let programs: Vec<String> = (0..300)
            .map(|seed| generate(seed, &GenConfig::default()))
            .collect();
        for (name, check) in checks {
            let count = programs.iter().filter(|p| p.lines().any(*check)).count();
            assert!(count >= 10, "{name}: only in {count} of 300 programs");
        }
    }

    #[test]
    fn recursion_is_bounded() {
        assert_eq!(invocations(0), 1);
        assert_eq!(invocations(1), 4);
        assert_eq!(invocations(MAX_SELF_CALLS), MAX_INVOCATIONS);
    }
}
