//! Constant rematerialization: every block that uses a constant defined
//! in another block gets its own copy of it, just before its first use.
//!
//! GVN merges equal constants and LICM hoists them out of loops, so a
//! constant ends up defined once and used everywhere: one value live
//! across every loop and call between its definition and its last use.
//! regalloc2 does not rematerialize, so such a value holds a register for
//! its whole range, or lives in a spill slot and is reloaded; and with
//! fifteen registers, a few of those push a loop's own values out of
//! registers (a loop nest with a helper call in its outer loop ran 4x
//! slower for it: its accumulator went through a spill slot every
//! iteration). A `mov` of an immediate costs less than either, so after
//! every pass that merges or hoists, constants become block-local; the
//! original definitions that lose their last use are deleted. Lowering
//! still folds small constants into the instructions that take
//! immediates, which this keeps working (the copies are constants too).

use super::ir::{Func, Op, Value};
use super::PassContext;
use std::collections::HashMap;

/// Int and bool constants: one `mov` of an immediate. Float constants
/// stay where they are: making one takes two instructions, and the sixteen
/// xmm registers are seldom short.
fn is_constant(op: Option<Op>) -> bool {
    matches!(op, Some(Op::Iconst(_) | Op::Bconst(_)))
}

/// Gives each block its own copies of the constants it uses.
pub fn rematerialize_constants(f: &mut Func, _: &PassContext) {
    let def_block = f.def_blocks();
    let constant: Vec<bool> = (0..f.values.len())
        .map(|v| is_constant(f.def_op(Value(v as u32))))
        .collect();
    let foreign = |v: Value, b| constant[v.index()] && def_block[v.index()] != b;
    for b in f.layout.clone() {
        let mut copies: HashMap<Value, Value> = HashMap::new();
        let old = std::mem::take(&mut f.blocks[b.index()].insts);
        let mut insts = Vec::with_capacity(old.len());
        for i in old {
            for n in 0..f.inst(i).args.len() {
                let v = f.inst(i).args[n];
                if foreign(v, b) {
                    let loc = f.inst(i).loc;
                    let copy = *copies.entry(v).or_insert_with(|| {
                        let (op, ty) = (f.def_op(v).expect("a constant"), f.ty(v));
                        let c = f.make_inst(op, Vec::new(), Some(ty), loc);
                        insts.push(c);
                        f.inst(c).result.expect("constants have results")
                    });
                    f.insts[i.index()].args[n] = copy;
                }
            }
            insts.push(i);
        }
        // The terminator's constants (branch arguments, a constant
        // condition) come last, before it.
        let mut term = std::mem::replace(&mut f.blocks[b.index()].term, super::ir::Term::None);
        let loc = f.blocks[b.index()].term_loc;
        term.map_uses(|v| {
            if !foreign(v, b) {
                return v;
            }
            *copies.entry(v).or_insert_with(|| {
                let (op, ty) = (f.def_op(v).expect("a constant"), f.ty(v));
                let c = f.make_inst(op, Vec::new(), Some(ty), loc);
                insts.push(c);
                f.inst(c).result.expect("constants have results")
            })
        });
        f.blocks[b.index()].term = term;
        f.blocks[b.index()].insts = insts;
    }
    remove_unused_constants(f);
}

/// Deletes constant definitions nothing uses any more.
fn remove_unused_constants(f: &mut Func) {
    let mut used = vec![false; f.values.len()];
    for &b in &f.layout {
        for &i in &f.blocks[b.index()].insts {
            for &a in &f.insts[i.index()].args {
                used[a.index()] = true;
            }
        }
        f.blocks[b.index()]
            .term
            .for_each_use(|v| used[v.index()] = true);
    }
    for b in f.layout.clone() {
        let insts = std::mem::take(&mut f.blocks[b.index()].insts);
        let kept = insts
            .into_iter()
            .filter(|&i| {
                let inst = f.inst(i);
                !is_constant(Some(inst.op)) || inst.result.is_some_and(|r| used[r.index()])
            })
            .collect();
        f.blocks[b.index()].insts = kept;
    }
}
