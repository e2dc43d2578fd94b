//! Dead code elimination: drops unreachable blocks, instructions whose
//! result nobody uses and that may be dropped, and block parameters that
//! nobody uses.
//!
//! An instruction may be dropped only if it neither traps nor has a side
//! effect ([`Op::has_side_effect`], [`Op::may_trap`]): a division whose
//! quotient is unused still raises `division by zero`. Loads may go (the
//! bounds check before them stays).

use super::analysis::compute_rpo;
use super::build::drop_params;
use super::ir::{Func, Op, Term, Value};

/// Removes dead code from `f`.
pub fn eliminate_dead_code(f: &mut Func, _: &super::PassContext) {
    remove_unreachable_blocks(f);
    merge_jump_chains(f);
    let mut uses = count_uses(f);
    // Instructions, last first, so chains die in one sweep; params then
    // free their arguments, which may free more instructions.
    loop {
        let mut changed = false;
        for bi in (0..f.layout.len()).rev() {
            let b = f.layout[bi];
            let insts = std::mem::take(&mut f.blocks[b.index()].insts);
            let mut kept = Vec::with_capacity(insts.len());
            for &i in insts.iter().rev() {
                let inst = &f.insts[i.index()];
                let dead = inst.result.is_none_or(|r| uses[r.index()] == 0) && removable(inst.op);
                if dead {
                    for &a in &inst.args {
                        uses[a.index()] -= 1;
                    }
                    changed = true;
                } else {
                    kept.push(i);
                }
            }
            kept.reverse();
            f.blocks[b.index()].insts = kept;
        }
        if remove_unused_params(f, &mut uses) {
            changed = true;
        }
        if !changed {
            return;
        }
    }
}

/// True if an instruction whose result is unused can be dropped.
fn removable(op: Op) -> bool {
    !op.may_trap() && !op.has_side_effect()
}

/// How many times each value is read by the live code.
pub fn count_uses(f: &Func) -> Vec<u32> {
    let mut uses = vec![0u32; f.values.len()];
    for &b in &f.layout {
        let block = f.block(b);
        for &i in &block.insts {
            for &a in &f.inst(i).args {
                uses[a.index()] += 1;
            }
        }
        block.term.for_each_use(|v| uses[v.index()] += 1);
    }
    uses
}

/// Drops parameters (of blocks other than the entry) that nobody reads
/// except as the argument passed back to themselves.
fn remove_unused_params(f: &mut Func, uses: &mut [u32]) -> bool {
    let preds = f.compute_preds();
    let mut changed = false;
    for &b in &f.layout.clone() {
        if b == f.entry {
            continue;
        }
        let params = f.blocks[b.index()].params.clone();
        let mut keep = Vec::with_capacity(params.len());
        for (idx, &p) in params.iter().enumerate() {
            // Uses that are this parameter passed to itself do not count.
            let self_uses = self_args(f, b, idx, p, &preds[b.index()]);
            if uses[p.index()] > self_uses {
                keep.push(idx);
            }
        }
        if keep.len() == params.len() {
            continue;
        }
        changed = true;
        let mut seen = Vec::new();
        for &pred in &preds[b.index()] {
            if seen.contains(&pred) {
                continue;
            }
            seen.push(pred);
            for d in f.blocks[pred.index()].term.successors() {
                if d.block == b {
                    for (idx, &a) in d.args.iter().enumerate() {
                        if !keep.contains(&idx) {
                            uses[a.index()] -= 1;
                        }
                    }
                }
            }
        }
        drop_params(f, b, &keep, &preds[b.index()]);
    }
    changed
}

fn self_args(
    f: &Func,
    b: super::ir::Block,
    idx: usize,
    p: Value,
    preds: &[super::ir::Block],
) -> u32 {
    let mut n = 0;
    let mut seen = Vec::new();
    for &pred in preds {
        if seen.contains(&pred) {
            continue;
        }
        seen.push(pred);
        for d in f.block(pred).term.successors() {
            if d.block == b && d.args[idx] == p {
                n += 1;
            }
        }
    }
    n
}

/// Takes blocks that the entry cannot reach out of the layout.
pub fn remove_unreachable_blocks(f: &mut Func) {
    let rpo = compute_rpo(f);
    if rpo.len() == f.layout.len() {
        return;
    }
    let mut live = vec![false; f.blocks.len()];
    for &b in &rpo {
        live[b.index()] = true;
    }
    f.layout.retain(|b| live[b.index()]);
}

/// Merges each block that ends in a jump with its destination when the
/// destination has no other predecessor (and is not the entry): the
/// destination's parameters become the jump's arguments, its instructions
/// and terminator move up. Chains collapse in one call. Inlining, the
/// builder's entry jump and branch folding leave many such jumps; each
/// costs a block in every later pass, in the allocator and in the code.
pub fn merge_jump_chains(f: &mut Func) {
    let mut pred_count = vec![0u32; f.blocks.len()];
    for &b in &f.layout {
        for d in f.blocks[b.index()].term.successors() {
            pred_count[d.block.index()] += 1;
        }
    }
    let mut map: Option<Vec<Value>> = None;
    let mut merged = vec![false; f.blocks.len()];
    for li in 0..f.layout.len() {
        let b = f.layout[li];
        if merged[b.index()] {
            continue;
        }
        while let Term::Jump(dest) = &f.blocks[b.index()].term {
            let c = dest.block;
            if c == b || c == f.entry || pred_count[c.index()] != 1 {
                break;
            }
            let Term::Jump(dest) = std::mem::replace(&mut f.blocks[b.index()].term, Term::None)
            else {
                unreachable!("checked above");
            };
            let from = &mut f.blocks[c.index()];
            let insts = std::mem::take(&mut from.insts);
            let term = std::mem::replace(&mut from.term, Term::None);
            let term_loc = from.term_loc;
            if !from.params.is_empty() {
                let map = map.get_or_insert_with(|| f.identity_map());
                for (&p, &a) in f.blocks[c.index()].params.iter().zip(&dest.args) {
                    map[p.index()] = a;
                }
            }
            let block = &mut f.blocks[b.index()];
            block.insts.extend(insts);
            block.term = term;
            block.term_loc = term_loc;
            merged[c.index()] = true;
        }
    }
    if !merged.contains(&true) {
        return;
    }
    f.layout.retain(|b| !merged[b.index()]);
    if let Some(mut map) = map {
        // An argument may itself be a merged parameter.
        f.substitute_chains(&mut map);
    }
}

/// Replaces a branch whose two destinations are the same block with the
/// same arguments by a jump.
pub fn merge_identical_branch_targets(f: &mut Func) {
    for &b in &f.layout.clone() {
        let block = &mut f.blocks[b.index()];
        if let Term::Branch {
            then_dest,
            else_dest,
            ..
        } = &block.term
        {
            if then_dest == else_dest {
                block.term = Term::Jump(then_dest.clone());
            }
        }
    }
}
