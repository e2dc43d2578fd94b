//! Range-check elimination by loop versioning: a counted loop whose
//! bounds checks follow its counter gets a guard in front of it; when the
//! guard holds, every one of those checks would pass, and the loop runs
//! without them; when it does not, a copy of the loop with every check
//! runs instead. Nothing is speculated: the checked copy is the loop as
//! it was, so a failing check traps at the same iteration, with the same
//! location and inlined frames, as in the interpreter.
//!
//! The loops: innermost; counter `j` a header parameter, tested `j < n`
//! or `j <= n` in the header with `n` defined outside the loop; the
//! test's false edge the only edge out of the loop (a `break` or a
//! `return` makes another: such loops are left alone); every back edge
//! passing `j + s`, one `s` defined outside the loop; entered from one
//! preheader that jumps to the header (LICM makes these). The checks
//! dropped, outside the header (which also runs with `j` past the end):
//! `bounds_check a, x` with `a` defined outside the loop and `x` one of
//!
//! - `j`, `j + b`, `b + j` or `j - k` (`b` defined outside the loop, `k`
//!   a constant);
//! - `c` defined outside the loop, which needs `0 <= c < len(a)`.
//!
//! With `init` what the preheader passes for `j`, and `m` the least
//! `len(a)` of the arrays checked at one index, the guard, in tj's
//! wrapping arithmetic, is
//!
//! ```text
//! min(init, b + init, .., c, m - 1 - c, .., s, MAX - n - s) >= 0
//!     and  n <= min(m - b, ..)   (n < min(m - b, ..) for j <= n)
//! ```
//!
//! (the terms `s` and `MAX - n - s` are left out for `j < n` with `s ==
//! 1`: `j + 1 <= n` cannot wrap).
//!
//! Wrapping cannot fool it. Only a loop that runs matters, so `init <= n`,
//! and `init` is a term, so `n >= 0`. Then `MAX - n` does not wrap, nor
//! does `MAX - n - s` with `s >= 0`; so `j + s <= n + s` does not wrap and
//! the body runs only with `j` in `init..=n` (`init..n` for `j < n`).
//! With `init >= 0`, `b + init` wraps only for `b > 0`, and then to a
//! negative value; `m - b` wraps only for `b < 0`, to a negative value,
//! which is below `n`; `m - 1 - c` wraps only for `c < 0`, itself a term.
//! So when the guard holds, `b + init >= 0`, `b + n < len(a)` (`b + n <=
//! len(a)` for `j < n`) and `0 <= c < len(a)` hold in the integers, and
//! every `b + j` the loop computes is in `0..len(a)`, without wrapping.
//!
//! Terms BCE's analysis knows to be `>= 0` are left out (`init`, `s`, a
//! loop counter around); so is `b + init` when `b` and `init` are (then
//! `b + init < b + n <= len(a)` cannot wrap); and for a `c >= 0` the
//! guard tests `c < m` itself.
//!
//! Each instruction of the guard's (pure) arithmetic goes to the preheader
//! of the outermost loop its operands allow (LICM ran before and never saw
//! it), so `len(a)` and the like are computed once per entry to the loop
//! nest. A guard whose terms are all constants is decided here: the checks
//! go without a copy, or nothing changes.
//!
//! After BCE (what it proves needs no copy), before strip mining (which
//! rewrites the loop test read here, and then strip-mines both copies).

use super::analysis::{compute_domtree, compute_loops, header_int_test, DomTree, Loops};
use super::bce;
use super::ir::{Block, BlockCall, Func, Inst, IntCC, Loc, Op, Term, Value};
use super::PassContext;
use crate::Type;
use std::collections::HashMap;

/// Loops with more instructions than this are not copied.
pub const MAX_LOOP_INSTS: usize = 250;

/// The copies add at most this many instructions to a function (or as
/// many as it has, if fewer): the register allocator's time grows with
/// the code.
pub const MAX_ADDED_INSTS: usize = 2000;

/// Functions with more instructions than this get no copies: in so much
/// code one loop's checks are little of the run time, and the allocator's
/// time, which grows faster than the code, is much of the compile time.
pub const MAX_FUNC_INSTS: usize = 20_000;

/// What a dropped check's index is, relative to the loop counter `j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Index {
    /// `c`, defined outside the loop.
    Invariant(Value),
    /// `j + b`, `b` defined outside the loop or a constant (`j - k` is
    /// `j + -k`).
    Counter(Num),
}

/// A loop to version.
struct Plan {
    /// The loop (index into [`Loops::loops`]).
    lp: usize,
    /// The block that jumps to the header from outside.
    preheader: Block,
    /// The counter's start, bound and step; the test is `j <= bound` if
    /// `inclusive`, else `j < bound`.
    init: Value,
    bound: Value,
    inclusive: bool,
    step: Value,
    /// The checks the guard covers.
    checks: Vec<Inst>,
    /// The indices they check, each with the arrays it indexes.
    needs: Vec<(Index, Vec<Value>)>,
}

/// Versions the counted loops of `f` whose bounds checks a guard before
/// the loop can prove (see the module doc).
pub fn eliminate_range_checks(f: &mut Func, _: &PassContext) {
    let size = f.inst_count();
    let has_checks = f.layout.iter().any(|&b| {
        f.block(b)
            .insts
            .iter()
            .any(|&i| f.inst(i).op == Op::BoundsCheck)
    });
    if size > MAX_FUNC_INSTS || !has_checks {
        return;
    }
    let dom = compute_domtree(f);
    let mut loops = compute_loops(f, &dom);
    if loops.loops.is_empty() {
        return;
    }
    let mut def_block = f.def_blocks();
    let candidates: Vec<usize> = (0..loops.loops.len())
        .filter(|&l| plan(f, &loops, l, &dom, &def_block).is_some())
        .collect();
    if candidates.is_empty() {
        return;
    }
    let mut uses = outside_uses(f, &loops, &candidates);
    let nonneg = bce::nonneg_values(f, &dom);
    let mut budget = size.clamp(MAX_LOOP_INSTS, MAX_ADDED_INSTS);
    let mut lens = existing_lengths(f);
    let mut versioned = vec![false; loops.loops.len()];
    // In reverse postorder of the headers: a loop after another one in
    // its exit's dominator subtree comes after it, and is planned again
    // once that loop's values it reads are the exit block's parameters.
    // (Versioning a loop changes no other header's predecessors, unless
    // that header had one from outside ending in a branch, which `plan`
    // refuses anyway.)
    for l in candidates {
        let Some(p) = plan(f, &loops, l, &dom, &def_block) else {
            continue;
        };
        let loop_insts = loop_size(f, &loops, l);
        if loop_insts > MAX_LOOP_INSTS || loop_insts > budget {
            continue;
        }
        let chain = preheader_chain(f, &loops, &dom, l, p.preheader);
        let mut g = GuardBuilder {
            loops: &loops,
            dom: &dom,
            emitted: chain.iter().map(|&(_, b)| f.block(b).insts.len()).collect(),
            chain,
            def_block: &mut def_block,
            lens: &lens,
            made_lens: Vec::new(),
            versioned: &versioned,
            nonneg: &nonneg,
            consts: Vec::new(),
            loc: f.block(p.preheader).term_loc,
        };
        let Some(conds) = g.build(f, &p) else {
            // Take back what the guard emitted (only pure instructions at
            // the ends of the chain's blocks).
            for (b, n) in g.chain.iter().map(|&(_, b)| b).zip(g.emitted) {
                f.blocks[b.index()].insts.truncate(n);
            }
            continue;
        };
        for (a, len) in g.made_lens {
            lens.entry(a).or_default().push(len);
        }
        if conds.is_empty() {
            drop_checks(f, &loops, &p);
            continue;
        }
        budget -= loop_insts;
        versioned[l] = true;
        let first_new = f.blocks.len();
        version(f, &loops, &p, &conds, &mut uses);
        // The new blocks are in the loops around this one.
        let parent = loops.loops[l].parent;
        loops.innermost.resize(f.blocks.len(), parent);
        def_block.resize(f.values.len(), f.entry);
        for b in first_new..f.blocks.len() {
            let block = &f.blocks[b];
            let results = block.insts.iter().filter_map(|&i| f.inst(i).result);
            for v in block.params.iter().copied().chain(results) {
                def_block[v.index()] = Block(b as u32);
            }
        }
    }
}

/// The blocks outside each candidate loop that use a value its header
/// defines (no other value of the loop can be used outside it: see
/// `plan`), by value.
fn outside_uses(f: &Func, loops: &Loops, candidates: &[usize]) -> HashMap<Value, Vec<Block>> {
    let mut header_of = HashMap::new();
    for &l in candidates {
        let h = loops.loops[l].header;
        let block = f.block(h);
        let results = block.insts.iter().filter_map(|&i| f.inst(i).result);
        for v in block.params.iter().copied().chain(results) {
            header_of.insert(v, l);
        }
    }
    let mut uses: HashMap<Value, Vec<Block>> = HashMap::new();
    for &b in &f.layout {
        let mut note = |v: Value| {
            if let Some(&l) = header_of.get(&v) {
                if loops.innermost[b.index()] != Some(l) {
                    let blocks = uses.entry(v).or_default();
                    if blocks.last() != Some(&b) {
                        blocks.push(b);
                    }
                }
            }
        };
        for &i in &f.block(b).insts {
            f.inst(i).args.iter().copied().for_each(&mut note);
        }
        f.block(b).term.for_each_use(&mut note);
    }
    uses
}

/// The plan for loop `l`, if it is a counted loop with checks to drop.
fn plan(f: &Func, loops: &Loops, l: usize, dom: &DomTree, def_block: &[Block]) -> Option<Plan> {
    let lp = &loops.loops[l];
    let in_loop = |b: Block| loops.innermost.get(b.index()) == Some(&Some(l));
    // Innermost only.
    if !lp.blocks.iter().all(|&b| in_loop(b)) {
        return None;
    }
    let h = lp.header;
    let test = header_int_test(f, h, in_loop)?;
    // The only edge out of the loop is the header's false edge.
    for &b in &lp.blocks {
        let exits = f.succs(b).filter(|&s| !in_loop(s)).count();
        if exits != usize::from(b == h) {
            return None;
        }
    }
    let t = f.inst(test);
    // `j < n` or `j <= n` (or `n > j`, `n >= j`).
    let (counter, bound, inclusive) = match t.op {
        Op::Icmp(IntCC::Lt) => (t.args[0], t.args[1], false),
        Op::Icmp(IntCC::Le) => (t.args[0], t.args[1], true),
        Op::Icmp(IntCC::Gt) => (t.args[1], t.args[0], false),
        Op::Icmp(IntCC::Ge) => (t.args[1], t.args[0], true),
        _ => return None,
    };
    let counter_index = f.block(h).params.iter().position(|&p| p == counter)?;
    let invariant = |v: Value| !in_loop(def_block[v.index()]);
    if !invariant(bound) {
        return None;
    }
    // One preheader jumping to the header; every back edge passes
    // `j + s`, one `s` for all, from outside the loop.
    let mut preheader = None;
    let mut step = None;
    for &p in &dom.preds[h.index()] {
        if !in_loop(p) {
            match (preheader, &f.block(p).term) {
                (None, Term::Jump(_)) if dom.is_reachable(p) => preheader = Some(p),
                _ => return None,
            }
            continue;
        }
        for d in f.block(p).term.successors().filter(|d| d.block == h) {
            let def = f.inst(f.def_inst(d.args[counter_index])?);
            let s = def.args[1];
            let same = step.is_none() || step == Some(s);
            if def.op != Op::Iadd || def.args[0] != counter || !invariant(s) || !same {
                return None;
            }
            step = Some(s);
        }
    }
    let step = step?;
    let preheader = preheader?;
    let Term::Jump(entry) = &f.block(preheader).term else {
        return None;
    };
    let init = entry.args[counter_index];
    // The checks, in the body (the header also runs with j == n).
    let mut checks = Vec::new();
    let mut needs: Vec<(Index, Vec<Value>)> = Vec::new();
    for &b in lp.blocks.iter().filter(|&&b| b != h) {
        for &i in &f.block(b).insts {
            let inst = f.inst(i);
            if inst.op != Op::BoundsCheck || !invariant(inst.args[0]) {
                continue;
            }
            let Some(index) = classify(f, inst.args[1], counter, &invariant) else {
                continue;
            };
            checks.push(i);
            let a = inst.args[0];
            match needs.iter_mut().find(|(x, _)| *x == index) {
                Some((_, arrays)) if arrays.contains(&a) => {}
                Some((_, arrays)) => arrays.push(a),
                None => needs.push((index, vec![a])),
            }
        }
    }
    if checks.is_empty() {
        return None;
    }
    Some(Plan {
        lp: l,
        preheader,
        init,
        bound,
        inclusive,
        step,
        checks,
        needs,
    })
}

/// What index `x` is relative to `counter`, if a form the guard covers.
fn classify(
    f: &Func,
    x: Value,
    counter: Value,
    invariant: &dyn Fn(Value) -> bool,
) -> Option<Index> {
    if x == counter {
        return Some(Index::Counter(Num::Const(0)));
    }
    if invariant(x) {
        return Some(Index::Invariant(x));
    }
    let def = f.inst(f.def_inst(x)?);
    let (a, b) = (def.args.first().copied()?, def.args.get(1).copied()?);
    let other = match def.op {
        Op::Iadd if a == counter => b,
        Op::Iadd if b == counter => a,
        Op::Isub if a == counter => {
            let k = f.as_iconst(b)?;
            return k.checked_neg().map(|k| Index::Counter(Num::Const(k)));
        }
        _ => return None,
    };
    if let Some(k) = f.as_iconst(other) {
        return Some(Index::Counter(Num::Const(k)));
    }
    invariant(other).then_some(Index::Counter(Num::Val(other)))
}

/// Instructions in loop `l`, terminators included.
fn loop_size(f: &Func, loops: &Loops, l: usize) -> usize {
    loops.loops[l]
        .blocks
        .iter()
        .map(|&b| f.block(b).insts.len() + 1)
        .sum()
}

/// The loop's preheader, then those of the loops around it that have one
/// (a block outside the loop, the header's only predecessor from outside,
/// ending in a jump to it), innermost first, each with its loop.
fn preheader_chain(
    f: &Func,
    loops: &Loops,
    dom: &DomTree,
    l: usize,
    preheader: Block,
) -> Vec<(usize, Block)> {
    let mut chain = vec![(l, preheader)];
    let mut outer = loops.loops[l].parent;
    while let Some(p) = outer {
        let h = loops.loops[p].header;
        let mut outside = dom.preds[h.index()]
            .iter()
            .copied()
            .filter(|&b| !loops.contains(p, b));
        let (Some(pre), None) = (outside.next(), outside.next()) else {
            break;
        };
        if pre == f.entry || !matches!(f.block(pre).term, Term::Jump(_)) {
            break;
        }
        chain.push((p, pre));
        outer = loops.loops[p].parent;
    }
    chain
}

/// `len(a)` values already computed, by array.
fn existing_lengths(f: &Func) -> HashMap<Value, Vec<Value>> {
    let mut lens: HashMap<Value, Vec<Value>> = HashMap::new();
    for &b in &f.layout {
        for &i in &f.block(b).insts {
            let inst = f.inst(i);
            if let (Op::Len, Some(r)) = (inst.op, inst.result) {
                lens.entry(inst.args[0]).or_default().push(r);
            }
        }
    }
    lens
}

/// Emits a guard's arithmetic, each instruction in the outermost
/// preheader its operands allow, folding what is constant.
struct GuardBuilder<'a> {
    loops: &'a Loops,
    dom: &'a DomTree,
    /// [`preheader_chain`] of the loop.
    chain: Vec<(usize, Block)>,
    /// How many instructions each block of `chain` had before.
    emitted: Vec<usize>,
    /// The block defining each value (kept up to date for new ones).
    def_block: &'a mut Vec<Block>,
    /// `len(a)` values, by array.
    lens: &'a HashMap<Value, Vec<Value>>,
    /// `len(a)` values made for this guard: (array, length).
    made_lens: Vec<(Value, Value)>,
    /// The loops versioned so far: a value of one of them no longer
    /// dominates the code after it.
    versioned: &'a [bool],
    /// Values never negative ([`bce::nonneg_values`], before this pass).
    nonneg: &'a [bool],
    /// Constants emitted for this guard.
    consts: Vec<(i64, Value)>,
    loc: Loc,
}

/// A guard term: a value, or a constant not emitted yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Num {
    Val(Value),
    Const(i64),
}

impl GuardBuilder<'_> {
    /// The guard's conditions (bools: the copy without checks may run
    /// when all hold), or `None` if it can never hold.
    fn build(&mut self, f: &mut Func, p: &Plan) -> Option<Vec<Value>> {
        let init = self.term(f, p.init);
        let bound = self.term(f, p.bound);
        // Terms that must be >= 0, and terms that must be >= bound.
        let mut lower = Vec::new();
        let mut upper = Vec::new();
        let mut counted = false;
        // Indices `c >= 0` with the least length `m` they index: `c < m`.
        let mut below = Vec::new();
        let mut min_lens: Vec<(Vec<Value>, Num)> = Vec::new();
        for (index, arrays) in &p.needs {
            let mut key = arrays.clone();
            key.sort();
            let m = match min_lens.iter().find(|(k, _)| *k == key) {
                Some(&(_, m)) => m,
                None => {
                    let mut m = None;
                    for &a in &key {
                        let len = self.len(f, a);
                        m = Some(match m {
                            None => len,
                            Some(m) => self.emit(f, Op::Imin, m, len),
                        });
                    }
                    let m = m.expect("an index checks some array");
                    min_lens.push((key, m));
                    m
                }
            };
            match *index {
                Index::Invariant(c) => {
                    let c = self.term(f, c);
                    if self.nonneg(c) {
                        below.push((c, m));
                    } else {
                        lower.push(c);
                        let last = self.emit(f, Op::Isub, m, Num::Const(1));
                        lower.push(self.emit(f, Op::Isub, last, c));
                    }
                }
                Index::Counter(b) => {
                    counted = true;
                    // With `b, init >= 0`, `b + init < b + n <= m`.
                    if !(self.nonneg(b) && self.nonneg(init)) {
                        lower.push(self.emit(f, Op::Iadd, b, init));
                    }
                    upper.push(self.emit(f, Op::Isub, m, b));
                }
            }
        }
        if counted {
            lower.push(init);
            // `j + s` must not wrap: `0 <= s <= MAX - n` (with `j < n` and
            // `s == 1`, `j + 1 <= n` cannot).
            let step = self.term(f, p.step);
            if p.inclusive || step != Num::Const(1) {
                lower.push(step);
                let room = self.emit(f, Op::Isub, Num::Const(i64::MAX), bound);
                lower.push(self.emit(f, Op::Isub, room, step));
            }
        }
        // Constant terms of the lower bound decide alone; those known to
        // be >= 0 need no test.
        if lower.iter().any(|&t| matches!(t, Num::Const(c) if c < 0)) {
            return None;
        }
        lower.retain(|&t| !self.nonneg(t));
        let mut conds = Vec::new();
        for (c, m) in below {
            match (c, m) {
                (Num::Const(c), Num::Const(m)) if c < m => {}
                (Num::Const(_), Num::Const(_)) => return None,
                (c, m) if c == m => return None,
                _ => conds.push(self.compare(f, IntCC::Lt, c, m)),
            }
        }
        if let Some(low) = self.min_of(f, &lower) {
            match low {
                Num::Const(c) if c >= 0 => {}
                Num::Const(_) => return None,
                Num::Val(_) => conds.push(self.compare(f, IntCC::Ge, low, Num::Const(0))),
            }
        }
        // The last `j` is below `n` (`j < n`) or `n` itself (`j <= n`).
        if let Some(up) = self.min_of(f, &upper) {
            let cc = if p.inclusive { IntCC::Lt } else { IntCC::Le };
            match (bound, up) {
                (Num::Const(n), Num::Const(m)) if cc.eval(n, m) => {}
                (Num::Const(_), Num::Const(_)) => return None,
                (n, m) if n == m && !p.inclusive => {}
                (n, m) if n == m => return None,
                _ => conds.push(self.compare(f, cc, bound, up)),
            }
        }
        Some(conds)
    }

    /// True if `t` is known to be `>= 0` (a constant, or BCE's analysis
    /// says so).
    fn nonneg(&self, t: Num) -> bool {
        match t {
            Num::Const(c) => c >= 0,
            Num::Val(v) => self.nonneg.get(v.index()).copied().unwrap_or(false),
        }
    }

    /// `v` as a term (constants are folded).
    fn term(&self, f: &Func, v: Value) -> Num {
        f.as_iconst(v).map_or(Num::Val(v), Num::Const)
    }

    /// The minimum of `terms` (`None` for none): the constants folded
    /// first, each value once.
    fn min_of(&mut self, f: &mut Func, terms: &[Num]) -> Option<Num> {
        let konst = terms
            .iter()
            .filter_map(|&t| match t {
                Num::Const(c) => Some(c),
                Num::Val(_) => None,
            })
            .min();
        let mut values: Vec<Num> = Vec::new();
        for &t in terms {
            if matches!(t, Num::Val(_)) && !values.contains(&t) {
                values.push(t);
            }
        }
        values.extend(konst.map(Num::Const));
        let mut it = values.into_iter();
        let first = it.next()?;
        Some(it.fold(first, |m, t| self.emit(f, Op::Imin, m, t)))
    }

    /// `len(a)`: the length a `new_array` was given (it traps unless
    /// that is its length), a `len(a)` that dominates the loop, or a new
    /// one.
    fn len(&mut self, f: &mut Func, a: Value) -> Num {
        if let Some(def) = f.def_inst(a).map(|i| f.inst(i)) {
            if def.op == Op::NewArray {
                return self.term(f, def.args[1]);
            }
        }
        let pre = self.chain[0].1;
        let found = self.lens.get(&a).and_then(|vs| {
            vs.iter().copied().find(|v| {
                let b = self.def_block[v.index()];
                let in_versioned =
                    self.loops.innermost[b.index()].is_some_and(|l| self.versioned[l]);
                !in_versioned && self.dom.dominates(b, pre)
            })
        });
        let made = self.made_lens.iter().find(|&&(b, _)| b == a);
        if let Some(v) = found.or(made.map(|&(_, v)| v)) {
            return Num::Val(v);
        }
        let v = self.inst(f, Op::Len, vec![a], Type::Int);
        self.made_lens.push((a, v));
        Num::Val(v)
    }

    /// `x op y` on ints, folded when it can be.
    fn emit(&mut self, f: &mut Func, op: Op, x: Num, y: Num) -> Num {
        if let (Num::Const(a), Num::Const(b)) = (x, y) {
            return Num::Const(match op {
                Op::Iadd => a.wrapping_add(b),
                Op::Isub => a.wrapping_sub(b),
                Op::Imin => a.min(b),
                _ => unreachable!("the guard uses iadd, isub, imin"),
            });
        }
        match (op, y) {
            (Op::Iadd | Op::Isub, Num::Const(0)) => return x,
            (Op::Iadd, _) if x == Num::Const(0) => return y,
            (Op::Imin, _) if x == y => return x,
            _ => {}
        }
        // Constants second (as fold leaves them: lowering makes them
        // immediates).
        let (x, y) = match (op, x) {
            (Op::Iadd | Op::Imin, Num::Const(_)) => (y, x),
            _ => (x, y),
        };
        let args = vec![self.value(f, x), self.value(f, y)];
        Num::Val(self.inst(f, op, args, Type::Int))
    }

    /// `x cc y` as a bool.
    fn compare(&mut self, f: &mut Func, cc: IntCC, x: Num, y: Num) -> Value {
        let args = vec![self.value(f, x), self.value(f, y)];
        self.inst(f, Op::Icmp(cc), args, Type::Bool)
    }

    /// The term as a value (constants emitted once).
    fn value(&mut self, f: &mut Func, t: Num) -> Value {
        match t {
            Num::Val(v) => v,
            Num::Const(c) => {
                if let Some(&(_, v)) = self.consts.iter().find(|(k, _)| *k == c) {
                    return v;
                }
                let v = self.inst(f, Op::Iconst(c), vec![], Type::Int);
                self.consts.push((c, v));
                v
            }
        }
    }

    /// A new pure instruction, at the end of the outermost preheader of
    /// the chain outside whose loop all its operands are defined.
    fn inst(&mut self, f: &mut Func, op: Op, args: Vec<Value>, ty: Type) -> Value {
        let mut at = self.chain[0].1;
        for &(l, pre) in &self.chain[1..] {
            if args
                .iter()
                .any(|a| self.loops.contains(l, self.def_block[a.index()]))
            {
                break;
            }
            at = pre;
        }
        let v = f.append(at, op, args, Some(ty), self.loc).expect("a value");
        self.def_block.resize(f.values.len(), f.entry);
        self.def_block[v.index()] = at;
        v
    }
}

/// Versions loop `p.lp` on `conds` (all true: the original loop, its
/// planned checks dropped, runs; else a copy with every check).
/// `uses`: [`outside_uses`].
fn version(
    f: &mut Func,
    loops: &Loops,
    p: &Plan,
    conds: &[Value],
    uses: &mut HashMap<Value, Vec<Block>>,
) {
    let blocks = loops.loops[p.lp].blocks.clone();
    let h = blocks[0];
    let (vmap, copies) = copy_blocks(f, &blocks);
    // The header's values used after the loop reach it through a new
    // exit block, which both copies leave to: it dominates those uses,
    // as the header's false edge was the only way out.
    let header = f.block(h);
    let results = header.insts.iter().filter_map(|&i| f.inst(i).result);
    let live_out: Vec<Value> = header
        .params
        .iter()
        .copied()
        .chain(results)
        .filter(|v| uses.contains_key(v))
        .collect();
    if !live_out.is_empty() {
        let exit = f.add_block();
        let mut map = HashMap::new();
        let mut users = Vec::new();
        for &v in &live_out {
            map.insert(v, f.add_param(exit, f.ty(v)));
            users.extend(uses.remove(&v).unwrap_or_default());
        }
        users.sort();
        users.dedup();
        let m = |v: Value| map.get(&v).copied().unwrap_or(v);
        for b in users {
            let block = &mut f.blocks[b.index()];
            for &i in &block.insts {
                for a in f.insts[i.index()].args.iter_mut() {
                    *a = m(*a);
                }
            }
            block.term.map_uses(m);
        }
        let exit_loc = f.block(h).term_loc;
        for (header, copy) in [(h, false), (copies[0], true)] {
            let args = live_out
                .iter()
                .map(|&v| if copy { vmap[&v] } else { v })
                .collect();
            let Term::Branch { else_dest, .. } = &mut f.blocks[header.index()].term else {
                unreachable!("planned on a branch");
            };
            let target = std::mem::replace(else_dest, BlockCall::new(exit, args));
            if !copy {
                let args = target.args.iter().map(|&v| m(v)).collect();
                f.set_term(
                    exit,
                    Term::Jump(BlockCall::new(target.block, args)),
                    exit_loc,
                );
            }
        }
    }
    // The copy keeps the checks; the original loses them.
    drop_checks(f, loops, p);
    // The guard: all conditions true enter the original loop.
    let Term::Jump(entry) = f.block(p.preheader).term.clone() else {
        unreachable!("planned on a jump");
    };
    let checked = BlockCall::new(copies[0], entry.args.clone());
    let loc = f.block(p.preheader).term_loc;
    let mut from = p.preheader;
    for (k, &c) in conds.iter().enumerate() {
        let pass = if k + 1 == conds.len() {
            entry.clone()
        } else {
            BlockCall::new(f.add_block(), vec![])
        };
        let next = pass.block;
        f.set_term(
            from,
            Term::Branch {
                cond: c,
                then_dest: pass,
                else_dest: checked.clone(),
            },
            loc,
        );
        from = next;
    }
}

/// Removes the planned checks from the loop.
fn drop_checks(f: &mut Func, loops: &Loops, p: &Plan) {
    for &b in &loops.loops[p.lp].blocks {
        f.blocks[b.index()].insts.retain(|i| !p.checks.contains(i));
    }
}

/// Copies the loop's blocks (the copy's edges out of the loop go where the
/// original's do). Gives the values' copies and the blocks', in `blocks`
/// order.
fn copy_blocks(f: &mut Func, blocks: &[Block]) -> (HashMap<Value, Value>, Vec<Block>) {
    let mut vmap = HashMap::new();
    let mut bmap = HashMap::new();
    let copies: Vec<Block> = blocks.iter().map(|_| f.add_block()).collect();
    for (&b, &c) in blocks.iter().zip(&copies) {
        bmap.insert(b, c);
        for k in 0..f.block(b).params.len() {
            let p = f.block(b).params[k];
            let q = f.add_param(c, f.ty(p));
            vmap.insert(p, q);
        }
        for k in 0..f.block(b).insts.len() {
            let i = f.block(b).insts[k];
            let inst = f.inst(i).clone();
            let ty = inst.result.map(|r| f.ty(r));
            let j = f.make_inst(inst.op, inst.args, ty, inst.loc);
            if let (Some(r), Some(s)) = (inst.result, f.inst(j).result) {
                vmap.insert(r, s);
            }
            f.blocks[c.index()].insts.push(j);
        }
    }
    // Operands after every value has its copy: a use may come before its
    // definition in `blocks` order.
    let map = |v: Value| vmap.get(&v).copied().unwrap_or(v);
    for (&b, &c) in blocks.iter().zip(&copies) {
        for k in 0..f.block(c).insts.len() {
            let i = f.block(c).insts[k];
            for a in f.insts[i.index()].args.iter_mut() {
                *a = map(*a);
            }
        }
        let mut term = f.block(b).term.clone();
        term.map_uses(map);
        for d in term.successors_mut() {
            if let Some(&c) = bmap.get(&d.block) {
                d.block = c;
            }
        }
        let loc = f.block(b).term_loc;
        f.set_term(c, term, loc);
    }
    (vmap, copies)
}
