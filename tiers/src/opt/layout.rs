//! Block layout: the order blocks are emitted in.
//!
//! 1. Reverse postorder, where at each branch the successor that leaves
//!    the innermost loop is visited first (so it comes last): a loop's
//!    blocks sit together, before the code after the loop.
//! 2. Loops whose header only tests and branches out (the shape of every
//!    `for` and `while` loop) are rotated: the header moves after the
//!    loop's other blocks, so an iteration ends in one taken backward
//!    branch instead of a jump back to a test that falls through.
//!
//! Hotness from the profile would refine this; today samples reach the
//! optimizer per call site, not per block.

use super::analysis::{compute_domtree, compute_loops, Loops};
use super::ir::{Block, Func, Term};
use super::PassContext;

/// Orders the blocks of `f` for emission.
pub fn lay_out_blocks(f: &mut Func, _: &PassContext) {
    let dom = compute_domtree(f);
    let loops = compute_loops(f, &dom);
    let mut layout = loop_friendly_rpo(f, &loops);
    for l in 0..loops.loops.len() {
        rotate(f, &loops, l, &mut layout);
    }
    f.layout = layout;
}

fn loop_friendly_rpo(f: &Func, loops: &Loops) -> Vec<Block> {
    let mut seen = vec![false; f.blocks.len()];
    let mut post = Vec::with_capacity(f.layout.len());
    let mut stack: Vec<(Block, Vec<Block>)> = Vec::new();
    let succs_of = |b: Block| -> Vec<Block> {
        let mut s: Vec<Block> = f.succs(b).collect();
        // Visit exits first (they end up last); among the rest keep the
        // branch's order (then before else) by reversing for the stack.
        let inner = loops.innermost[b.index()];
        let leaves = |t: &Block| match inner {
            Some(l) => !loops.contains(l, *t),
            None => false,
        };
        s.sort_by_key(|t| !leaves(t));
        // Later entries are popped first.
        s.reverse();
        s
    };
    seen[f.entry.index()] = true;
    stack.push((f.entry, succs_of(f.entry)));
    while let Some((b, pending)) = stack.last_mut() {
        match pending.pop() {
            Some(s) if !seen[s.index()] => {
                seen[s.index()] = true;
                let next = succs_of(s);
                stack.push((s, next));
            }
            Some(_) => {}
            None => {
                post.push(*b);
                stack.pop();
            }
        }
    }
    post.reverse();
    post
}

/// Moves loop `l`'s header after its other blocks if the header is a
/// test that leaves the loop and the loop's blocks are contiguous.
fn rotate(f: &Func, loops: &Loops, l: usize, layout: &mut [Block]) {
    let lp = &loops.loops[l];
    let h = lp.header;
    if h == f.entry || !f.block(h).insts.iter().all(|&i| is_test_part(f, i)) {
        return;
    }
    let Term::Branch {
        then_dest,
        else_dest,
        ..
    } = &f.block(h).term
    else {
        return;
    };
    let exits = [then_dest.block, else_dest.block]
        .iter()
        .filter(|b| !loops.contains(l, **b))
        .count();
    if exits != 1 {
        return;
    }
    let Some(start) = layout.iter().position(|&b| b == h) else {
        return;
    };
    let n = lp.blocks.len();
    if start + n > layout.len()
        || !layout[start..start + n]
            .iter()
            .all(|&b| loops.contains(l, b))
    {
        return;
    }
    layout[start..start + n].rotate_left(1);
}

/// Instructions a loop test may have besides its branch (a poll and the
/// comparison).
fn is_test_part(f: &Func, i: super::ir::Inst) -> bool {
    use super::ir::Op;
    matches!(
        f.inst(i).op,
        Op::Poll | Op::Icmp(_) | Op::Fcmp(_) | Op::Iconst(_) | Op::Bnot | Op::Len
    )
}
