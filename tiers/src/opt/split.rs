//! Loop-entry copies: where a loop that calls out (a call or a runtime
//! helper anywhere in it) enters an inner loop, every value the entering
//! branch passes to the inner loop's header parameters is copied first,
//! at the end of the block that enters.
//!
//! regalloc2 gives a block parameter and the values its branches pass one
//! allocation where their live ranges allow (it merges their bundles),
//! and it splits a spilled bundle without regard to loops. Around a call,
//! a value carried by the outer loop can only sit in one of three
//! callee-saved registers or in a spill slot; if it went to the slot and
//! becomes an inner loop's accumulator, the inner loop loaded and stored
//! it every iteration (a loop nest with `now_ns()` in its outer loop ran
//! 4x slower for it). With a copy on the way in, the inner loop's
//! parameters and the values passed around its back edges form bundles
//! of their own, confined to it. Elsewhere the copies only cost: one
//! `mov` per entry, and nbody's short inner loops, entered thousands of
//! times, ran 15% slower with a copy at every loop entry. Runs last among
//! the passes that change values (copy propagation would remove the
//! copies).

use super::analysis::{compute_domtree, compute_loops};
use super::ir::{Func, Op, Value};
use super::PassContext;

/// Whether `op` calls out of the code (a call, or a runtime helper).
fn calls_out(op: Op) -> bool {
    matches!(
        op,
        Op::Call { .. }
            | Op::Spawn { .. }
            | Op::CallHost { .. }
            | Op::Join
            | Op::Arg
            | Op::Argc
            | Op::NowNs
            | Op::NewArray
            | Op::PrintInt
            | Op::PrintBool
            | Op::PrintFloat
            | Op::PrintStr(_)
    )
}

/// Copies the arguments of every branch that enters a loop from inside an
/// enclosing loop that calls out somewhere: there, values carried around
/// the enclosing loop live across a call. Elsewhere the copies only cost
/// (nbody's short inner loops, entered thousands of times, ran 15% slower
/// with a copy at every loop entry; fannkuch ran 5% more instructions).
pub fn copy_loop_entry_args(f: &mut Func, _: &PassContext) {
    let dom = compute_domtree(f);
    let loops = compute_loops(f, &dom);
    let mut has_call = vec![false; loops.loops.len()];
    for &b in &f.layout {
        if f.block(b).insts.iter().any(|&i| calls_out(f.inst(i).op)) {
            // The block's loop and every loop around it.
            let mut l = loops.innermost[b.index()];
            while let Some(i) = l {
                has_call[i] = true;
                l = loops.loops[i].parent;
            }
        }
    }
    // A branch into a block that dominates it is a back edge; its target
    // is a loop header.
    let mut header = vec![false; f.blocks.len()];
    for &p in &f.layout {
        for s in f.succs(p) {
            if dom.dominates(s, p) {
                header[s.index()] = true;
            }
        }
    }
    for b in f.layout.clone() {
        if !loops.innermost[b.index()].is_some_and(|l| has_call[l]) {
            continue;
        }
        let loc = f.blocks[b.index()].term_loc;
        let entering: Vec<bool> = f.blocks[b.index()]
            .term
            .successors()
            .map(|call| header[call.block.index()] && !dom.dominates(call.block, b))
            .collect();
        if !entering.contains(&true) {
            continue;
        }
        let mut term = std::mem::replace(&mut f.blocks[b.index()].term, super::ir::Term::None);
        let mut copies: Vec<(Value, Value)> = Vec::new();
        for (call, &enters) in term.successors_mut().zip(&entering) {
            if !enters {
                continue;
            }
            for arg in call.args.iter_mut() {
                if matches!(
                    f.def_op(*arg),
                    Some(Op::Iconst(_) | Op::Fconst(_) | Op::Bconst(_))
                ) {
                    continue;
                }
                let copy = match copies.iter().find(|&&(v, _)| v == *arg) {
                    Some(&(_, c)) => c,
                    None => {
                        let ty = f.ty(*arg);
                        let c = f.append(b, Op::Copy, vec![*arg], Some(ty), loc);
                        let c = c.expect("copies have results");
                        copies.push((*arg, c));
                        c
                    }
                };
                *arg = copy;
            }
        }
        f.blocks[b.index()].term = term;
    }
}
