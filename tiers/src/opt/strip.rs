//! Strip mining: counted loops poll once per strip of iterations instead
//! of once per iteration.
//!
//! Every loop polls the interrupt flag so that a thread stops promptly
//! when the program ends. In a tight loop that poll is a fifth of the
//! work. A loop whose test is `i < n` (`n` invariant) and whose every
//! back edge passes `i + 1` becomes two:
//!
//! ```text
//! outer(i..):  poll; lim = min(n, i + STRIP) (n if i + STRIP overflows)
//! H(i..):      if i < lim { body; H(i + 1, ..) } else { exit test }
//! exit test:   if i < n { outer(i..) } else { original exit }
//! ```
//!
//! The inner loop has no poll and runs at most `STRIP` iterations before
//! the outer one polls again (`i` grows by one each iteration and `lim`
//! is at most `STRIP` above the `i` it was computed from). Whatever `i`
//! does, the loop continues exactly while `i < n`: `i < lim` implies it,
//! and when `i >= lim` the exit test asks `i < n` itself. So nothing but
//! the poll's frequency changes.
//!
//! Runs after bounds-check and range-check elimination, which read the
//! original `i < n` test (range-check elimination may copy a loop: both
//! copies are strip-mined here).

use super::analysis::{compute_domtree, compute_loops, header_int_test};
use super::ir::{Block, BlockCall, BlockLists, Func, Inst, IntCC, Op, Term, Value};
use super::PassContext;
use crate::Type;

/// Iterations between two polls of a strip-mined loop.
pub const STRIP: i64 = 1 << 14;

/// Strip-mines the innermost counted loops of `f`.
pub fn strip_mine_loops(f: &mut Func, _: &PassContext) {
    let dom = compute_domtree(f);
    let loops = compute_loops(f, &dom);
    // Innermost loops are disjoint, and rewriting one changes only the
    // edges into its own header: these stay valid for the others.
    let preds = &dom.preds;
    let def_block = f.def_blocks();
    for l in 0..loops.loops.len() {
        let lp = &loops.loops[l];
        // Innermost only: no other loop's header inside.
        let innermost = lp
            .blocks
            .iter()
            .all(|&b| loops.innermost[b.index()] == Some(l));
        if !innermost {
            continue;
        }
        let in_loop = |b: Block| loops.innermost.get(b.index()) == Some(&Some(l));
        if let Some(plan) = plan(f, lp, &in_loop, preds, &def_block) {
            rewrite(f, lp.header, &preds[lp.header.index()], &in_loop, plan);
        }
    }
}

/// What [`rewrite`] needs to know about a counted loop.
struct Plan {
    /// The test `i < n` in the header.
    test: Inst,
    /// The counter (a header parameter) and its index.
    counter: Value,
    counter_index: usize,
    /// The bound.
    bound: Value,
    /// The poll to move out of the inner loop.
    poll: (Block, Inst),
}

fn plan(
    f: &Func,
    lp: &super::analysis::Loop,
    in_loop: &dyn Fn(Block) -> bool,
    preds: &BlockLists,
    def_block: &[Block],
) -> Option<Plan> {
    let h = lp.header;
    // Stay on the true edge, leave on the false one.
    let test = header_int_test(f, h, in_loop)?;
    let t = f.inst(test);
    if t.op != Op::Icmp(IntCC::Lt) {
        return None;
    }
    let (counter, bound) = (t.args[0], t.args[1]);
    let counter_index = f.block(h).params.iter().position(|&p| p == counter)?;
    // The bound is defined outside the loop.
    if in_loop(def_block[bound.index()]) {
        return None;
    }
    // Every back edge passes counter + 1.
    for &p in &preds[h.index()] {
        if !in_loop(p) {
            continue;
        }
        for d in f.block(p).term.successors() {
            if d.block != h {
                continue;
            }
            let next = d.args[counter_index];
            let def = f.inst(f.def_inst(next)?);
            if def.op != Op::Iadd || def.args[0] != counter || f.as_iconst(def.args[1]) != Some(1) {
                return None;
            }
        }
    }
    // Its poll, to move out.
    let poll = lp.blocks.iter().copied().find_map(|b| {
        f.block(b)
            .insts
            .iter()
            .find(|&&i| f.inst(i).op == Op::Poll)
            .map(|&i| (b, i))
    })?;
    Some(Plan {
        test,
        counter,
        counter_index,
        bound,
        poll,
    })
}

fn rewrite(
    f: &mut Func,
    h: Block,
    header_preds: &[Block],
    in_loop: &dyn Fn(Block) -> bool,
    plan: Plan,
) {
    let loc = f.inst(plan.poll.1).loc;
    let term_loc = f.block(h).term_loc;
    let types: Vec<Type> = f.block(h).params.iter().map(|&p| f.ty(p)).collect();
    // outer(i..): poll; t = i + STRIP; brif t < i, overflow, in range
    let outer = f.add_block();
    let params: Vec<Value> = types.iter().map(|&t| f.add_param(outer, t)).collect();
    let i = params[plan.counter_index];
    f.blocks[plan.poll.0.index()]
        .insts
        .retain(|&x| x != plan.poll.1);
    f.blocks[outer.index()].insts.push(plan.poll.1);
    let strip = f
        .append(outer, Op::Iconst(STRIP), vec![], Some(Type::Int), loc)
        .expect("value");
    let t = f
        .append(outer, Op::Iadd, vec![i, strip], Some(Type::Int), loc)
        .expect("value");
    let overflow = f
        .append(
            outer,
            Op::Icmp(IntCC::Lt),
            vec![t, i],
            Some(Type::Bool),
            loc,
        )
        .expect("value");
    let wrapped = f.add_block();
    let in_range = f.add_block();
    let merge = f.add_block();
    let lim = f.add_param(merge, Type::Int);
    f.set_term(
        outer,
        Term::Branch {
            cond: overflow,
            then_dest: BlockCall::new(wrapped, vec![]),
            else_dest: BlockCall::new(in_range, vec![]),
        },
        loc,
    );
    f.set_term(
        wrapped,
        Term::Jump(BlockCall::new(merge, vec![plan.bound])),
        loc,
    );
    let m = f
        .append(
            in_range,
            Op::Imin,
            vec![plan.bound, t],
            Some(Type::Int),
            loc,
        )
        .expect("value");
    f.set_term(in_range, Term::Jump(BlockCall::new(merge, vec![m])), loc);
    f.set_term(merge, Term::Jump(BlockCall::new(h, params.clone())), loc);
    // Entries from outside the loop go to the outer loop.
    for p in dedup(header_preds.to_vec()) {
        if in_loop(p) {
            continue;
        }
        for d in f.blocks[p.index()].term.successors_mut() {
            if d.block == h {
                d.block = outer;
            }
        }
    }
    // The inner test is against the strip's limit; its false edge asks
    // the original question.
    let exit_test = f.add_block();
    let again = f
        .append(
            exit_test,
            Op::Icmp(IntCC::Lt),
            vec![plan.counter, plan.bound],
            Some(Type::Bool),
            term_loc,
        )
        .expect("value");
    let inner_cond = f
        .append(
            h,
            Op::Icmp(IntCC::Lt),
            vec![plan.counter, lim],
            Some(Type::Bool),
            f.inst(plan.test).loc,
        )
        .expect("value");
    let header_params = f.block(h).params.clone();
    let Term::Branch {
        cond, else_dest, ..
    } = &mut f.blocks[h.index()].term
    else {
        unreachable!("planned on a branch");
    };
    *cond = inner_cond;
    let exit = std::mem::replace(else_dest, BlockCall::new(exit_test, vec![]));
    f.set_term(
        exit_test,
        Term::Branch {
            cond: again,
            then_dest: BlockCall::new(outer, header_params),
            else_dest: exit,
        },
        term_loc,
    );
    // Layout: the outer blocks right before the header, the exit test
    // right after it (the layout pass orders them for good).
    let added = [outer, wrapped, in_range, merge, exit_test];
    f.layout.truncate(f.layout.len() - added.len());
    let at = f.layout.iter().position(|&b| b == h).expect("live");
    f.layout.splice(at..at, [outer, wrapped, in_range, merge]);
    f.layout.insert(at + 5, exit_test);
}

fn dedup(mut v: Vec<Block>) -> Vec<Block> {
    v.sort();
    v.dedup();
    v
}
