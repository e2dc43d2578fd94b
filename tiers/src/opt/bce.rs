//! Bounds-check elimination: drops a `bounds_check a, i` that provably
//! passes, i.e. where `0 <= i` and `i < len(a)` always hold.
//!
//! - `i < len(a)` comes from a dominating branch edge: the block is only
//!   entered when `i < n` (or `i <= n`, `n > i`, `!(i >= n)`, ...) was
//!   true, with `n` being `len(a)` or `len(a) - c` for a constant `c >= 0`
//!   (`i <= len(a) - c` for `c >= 1`), where `len(a)` may also be the
//!   length `a` was made with (`fold` rewrites `len(new_array(x, n))` to
//!   `n`). Also for a constant index into an
//!   array made with a constant length, and for `x % len(a)` with `x >= 0`
//!   or `abs(x % len(a))`.
//! - `0 <= i` comes from a forward analysis of non-negative values:
//!   constants, lengths, `x & m` with either side non-negative, `x % y`
//!   and `x >> c` of a non-negative `x`, `min`/`max`, `abs(x % y)`, and
//!   block parameters all of whose incoming values are non-negative
//!   (solved optimistically, so a loop counter that starts at 0 and is
//!   incremented qualifies) — where `x + c` (`c >= 0`) counts only if it
//!   cannot overflow: at its position `x < y` holds for some `y` (then
//!   `x + 1` fits) or `x` passed a bounds check (then `x < len(a)`, far
//!   below any overflow for `c < 2^32`).
//!
//! Identical repeated checks are GVN's job; this pass proves the first.

use super::analysis::{compute_domtree, DomTree};
use super::ir::{Block, BlockLists, Func, Inst, IntCC, Op, Term, Value};
use super::PassContext;

/// A fact known to hold: `x < y` (strict) or `x <= y`.
#[derive(Clone, Copy, Debug)]
struct Less {
    x: Value,
    y: Value,
    strict: bool,
}

/// Removes the bounds checks of `f` that always pass.
pub fn eliminate_bounds_checks(f: &mut Func, _: &PassContext) {
    let dom = compute_domtree(f);
    let edge_fact = edge_facts(f, &dom);
    let nonneg = nonneg_under(f, &dom, &edge_fact);
    // Phase 2: drop the checks that pass.
    walk(f, &dom, &edge_fact, |f, facts, _, i| {
        let inst = f.inst(i);
        inst.op == Op::BoundsCheck && {
            let (a, idx) = (inst.args[0], inst.args[1]);
            nonneg[idx.index()] && below_len(f, facts, idx, a)
        }
    });
}

/// Which values of `f` are never negative (see the module doc), for
/// range-check elimination, whose guards need not test those; `dom` is
/// `f`'s dominator tree.
pub(super) fn nonneg_values(f: &mut Func, dom: &DomTree) -> Vec<bool> {
    let edge_fact = edge_facts(f, dom);
    nonneg_under(f, dom, &edge_fact)
}

/// The facts holding on entry to each block (from its single
/// predecessor's branch).
fn edge_facts(f: &Func, dom: &DomTree) -> Vec<Option<Less>> {
    (0..f.blocks.len())
        .map(|b| entry_fact(f, Block(b as u32), &dom.preds))
        .collect()
}

/// Phase 1: which values are never negative, knowing which `x + c`
/// instructions cannot overflow.
fn nonneg_under(f: &mut Func, dom: &DomTree, edge_fact: &[Option<Less>]) -> Vec<bool> {
    let mut no_overflow = vec![false; f.insts.len()];
    walk(f, dom, edge_fact, |f, facts, checked, i| {
        let inst = f.inst(i);
        if inst.op == Op::Iadd {
            if let Some(c) = f.as_iconst(inst.args[1]) {
                let x = inst.args[0];
                let bounded_by_check = checked.contains(&x) && (0..1 << 32).contains(&c);
                let below_something = c == 1 && facts.iter().any(|l| l.x == x && l.strict);
                no_overflow[i.index()] = c == 0 || bounded_by_check || below_something;
            }
        }
        false
    });
    compute_nonneg(f, &no_overflow)
}

/// Visits the instructions in dominator-tree preorder with the facts
/// that hold there and the indices already bounds-checked on every path
/// to them; removes those for which `visit` says so.
fn walk(
    f: &mut Func,
    dom: &DomTree,
    edge_fact: &[Option<Less>],
    mut visit: impl FnMut(&Func, &[Less], &[Value], Inst) -> bool,
) {
    let mut facts: Vec<Less> = Vec::new();
    let mut checked: Vec<Value> = Vec::new();
    // (block, facts length, checked length) to restore after the subtree.
    let mut stack: Vec<(Block, usize, usize, bool)> = vec![(f.entry, 0, 0, false)];
    // The block's instructions, and those it keeps (buffers reused from
    // block to block).
    let mut insts: Vec<Inst> = Vec::new();
    let mut kept: Vec<Inst> = Vec::new();
    while let Some((b, nf, nc, done)) = stack.pop() {
        if done {
            facts.truncate(nf);
            checked.truncate(nc);
            continue;
        }
        stack.push((b, facts.len(), checked.len(), true));
        if let Some(fact) = edge_fact[b.index()] {
            facts.push(fact);
        }
        insts.clear();
        insts.extend_from_slice(&f.blocks[b.index()].insts);
        kept.clear();
        for &i in &insts {
            if visit(f, &facts, &checked, i) {
                continue;
            }
            let inst = f.inst(i);
            if inst.op == Op::BoundsCheck {
                checked.push(inst.args[1]);
            }
            kept.push(i);
        }
        let block_insts = &mut f.blocks[b.index()].insts;
        block_insts.clear();
        block_insts.extend_from_slice(&kept);
        for &c in dom.children(b).iter().rev() {
            stack.push((c, 0, 0, false));
        }
    }
}

/// The comparison known to hold on entry to `b`, if `b`'s only
/// predecessor ends in a branch on a comparison (and both edges do not
/// lead to `b`).
fn entry_fact(f: &Func, b: Block, preds: &BlockLists) -> Option<Less> {
    let [p] = preds[b.index()][..] else {
        return None;
    };
    let Term::Branch {
        cond,
        then_dest,
        else_dest,
    } = &f.block(p).term
    else {
        return None;
    };
    if then_dest.block == else_dest.block {
        return None;
    }
    let taken = then_dest.block == b;
    let inst = f.inst(f.def_inst(*cond)?);
    let Op::Icmp(cc) = inst.op else {
        return None;
    };
    if f.ty(inst.args[0]) != crate::Type::Int {
        return None;
    }
    let cc = if taken { cc } else { cc.invert() };
    let (a, c) = (inst.args[0], inst.args[1]);
    match cc {
        IntCC::Lt => Some(Less {
            x: a,
            y: c,
            strict: true,
        }),
        IntCC::Le => Some(Less {
            x: a,
            y: c,
            strict: false,
        }),
        IntCC::Gt => Some(Less {
            x: c,
            y: a,
            strict: true,
        }),
        IntCC::Ge => Some(Less {
            x: c,
            y: a,
            strict: false,
        }),
        IntCC::Eq | IntCC::Ne => None,
    }
}

/// `len(a) + k` if `n` is that, with the constant `k`. `len(a)` is a
/// `len a`, or the length `a` was made with (`new_array x, n`, which
/// traps unless `n >= 0`): fold rewrites `len a` to it.
fn len_plus(f: &Func, n: Value, a: Value) -> Option<i64> {
    let made_with = f
        .def_inst(a)
        .map(|d| f.inst(d))
        .filter(|d| d.op == Op::NewArray)
        .map(|d| d.args[1]);
    let is_len = |v: Value| {
        Some(v) == made_with
            || f.def_inst(v)
                .map(|d| f.inst(d))
                .is_some_and(|d| d.op == Op::Len && d.args[0] == a)
    };
    if is_len(n) {
        return Some(0);
    }
    let def = f.inst(f.def_inst(n)?);
    match def.op {
        Op::Iadd => {
            let k = f.as_iconst(def.args[1])?;
            is_len(def.args[0]).then_some(k)
        }
        _ => None,
    }
}

/// True if `i < len(a)` holds where `facts` do.
fn below_len(f: &Func, facts: &[Less], i: Value, a: Value) -> bool {
    let from_facts = facts.iter().any(|l| {
        l.x == i && len_plus(f, l.y, a).is_some_and(|k| if l.strict { k <= 0 } else { k <= -1 })
    });
    from_facts || below_len_by_form(f, i, a)
}

/// `i < len(a)` from the shapes of `i` and `a` alone.
fn below_len_by_form(f: &Func, i: Value, a: Value) -> bool {
    let array_len = f
        .def_inst(a)
        .map(|d| f.inst(d))
        .filter(|d| d.op == Op::NewArray)
        .and_then(|d| f.as_iconst(d.args[1]));
    if let (Some(c), Some(len)) = (f.as_iconst(i), array_len) {
        return c < len;
    }
    let Some(def) = f.def_inst(i).map(|d| f.inst(d)) else {
        return false;
    };
    let rem_of_len = |v: Value| {
        f.def_inst(v)
            .map(|d| f.inst(d))
            .is_some_and(|d| d.op == Op::Irem && len_plus(f, d.args[1], a) == Some(0))
    };
    match def.op {
        // |x % len| < len for len > 0 (and a check on an empty array
        // fails anyway: x % 0 traps before).
        Op::Iabs => rem_of_len(def.args[0]),
        // x % len < len when x >= 0; the caller proves i >= 0 separately,
        // and a negative x gives a negative i.
        Op::Irem => rem_of_len(i),
        _ => false,
    }
}

/// Which values are never negative (see the module doc).
fn compute_nonneg(f: &Func, no_overflow: &[bool]) -> Vec<bool> {
    // Optimistic for block parameters: assume non-negative, then refute
    // until nothing changes.
    let mut nonneg = vec![false; f.values.len()];
    for &b in &f.layout {
        if b != f.entry {
            for &p in &f.block(b).params {
                nonneg[p.index()] = f.ty(p) == crate::Type::Int;
            }
        }
    }
    loop {
        let mut changed = false;
        for &b in &f.layout {
            for &i in &f.block(b).insts {
                let inst = f.inst(i);
                let Some(r) = inst.result else { continue };
                let now = inst_nonneg(f, inst.op, &inst.args, &nonneg, no_overflow[i.index()]);
                if now != nonneg[r.index()] {
                    nonneg[r.index()] = now;
                    changed = true;
                }
            }
            for d in f.block(b).term.successors() {
                let params = &f.block(d.block).params;
                for (&p, &a) in params.iter().zip(&d.args) {
                    if nonneg[p.index()] && !nonneg[a.index()] {
                        nonneg[p.index()] = false;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            return nonneg;
        }
    }
}

fn inst_nonneg(f: &Func, op: Op, args: &[Value], nonneg: &[bool], no_overflow: bool) -> bool {
    let n = |k: usize| nonneg[args[k].index()];
    match op {
        Op::Iconst(c) => c >= 0,
        Op::Len => true,
        Op::Iand => n(0) || n(1),
        Op::Irem | Op::Ishr => n(0),
        Op::Imin | Op::Ior => n(0) && n(1),
        Op::Imax => n(0) || n(1),
        Op::Iadd => n(0) && f.as_iconst(args[1]).is_some_and(|c| c >= 0) && no_overflow,
        Op::Iabs => f.def_op(args[0]) == Some(Op::Irem),
        _ => false,
    }
}
