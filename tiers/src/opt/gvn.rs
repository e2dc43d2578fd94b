//! Global value numbering: an instruction that computes what a
//! dominating instruction already computed is replaced by that result.
//!
//! A walk of the dominator tree keeps a scoped table from (op, operands)
//! to the value that computed it. Which instructions take part:
//!
//! - pure ones (arithmetic, comparisons, constants, `len`: arrays never
//!   change length), commutative operands sorted;
//! - `idiv`/`irem` and `bounds_check`: once a dominating identical one ran
//!   without trapping, a repeat cannot trap and gives the same result (a
//!   repeated index into the same array is checked once);
//! - loads, within an extended basic block only (a chain of blocks each
//!   the single successor-target of the one before) and only while no
//!   store, call, atomic, join or poll came between: memory is keyed by a
//!   generation that each of those, and each merge point, renews.

use super::analysis::compute_domtree;
use super::ir::{Func, Op, Value};
use super::PassContext;
use rustc_hash::FxHashMap as HashMap;

/// What an instruction computes, as a table key: no allocation (pure
/// instructions have at most three operands; the others do not take
/// part).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    op: Op,
    args: [Value; 3],
    /// Memory generation, for loads; 0 for everything else.
    memory: u32,
}

/// Replaces redundant computations in `f`.
pub fn number_values(f: &mut Func, _: &PassContext) {
    let dom = compute_domtree(f);
    let preds = &dom.preds;
    let mut map = f.identity_map();
    let mut table: HashMap<Key, Option<Value>> = HashMap::default();
    let mut undo: Vec<Key> = Vec::new();
    let mut generation = 0u32;
    // (block, memory generation at its entry, undo-log length to restore
    // when its subtree is done); `None` marks the end of a subtree.
    let mut stack = vec![Some((f.entry, 0u32))];
    let mut marks: Vec<usize> = Vec::new();
    while let Some(item) = stack.pop() {
        let Some((b, entry_generation)) = item else {
            let mark = marks.pop().expect("a mark per subtree");
            for key in undo.drain(mark..) {
                table.remove(&key);
            }
            continue;
        };
        marks.push(undo.len());
        stack.push(None);
        let mut memory = entry_generation;
        let insts = std::mem::take(&mut f.blocks[b.index()].insts);
        let mut kept = Vec::with_capacity(insts.len());
        for i in insts {
            for a in f.insts[i.index()].args.iter_mut() {
                *a = map[a.index()];
            }
            let inst = &f.insts[i.index()];
            if clobbers_memory(inst.op) {
                generation += 1;
                memory = generation;
            }
            let Some(key) = key_of(inst.op, &inst.args, memory) else {
                kept.push(i);
                continue;
            };
            match table.get(&key) {
                Some(&existing) => {
                    if let (Some(r), Some(e)) = (inst.result, existing) {
                        map[r.index()] = e;
                    }
                }
                None => {
                    table.insert(key, inst.result);
                    undo.push(key);
                    kept.push(i);
                }
            }
        }
        f.blocks[b.index()].insts = kept;
        let m = &map;
        f.blocks[b.index()].term.map_uses(|v| m[v.index()]);
        for &c in dom.children(b).iter().rev() {
            // Memory state flows only into a block with this one as its
            // only predecessor.
            let only_pred = preds[c.index()].len() == 1;
            let g = if only_pred {
                memory
            } else {
                generation += 1;
                generation
            };
            stack.push(Some((c, g)));
        }
    }
    f.substitute(&map);
}

/// True for instructions after which loaded values may have changed.
fn clobbers_memory(op: Op) -> bool {
    matches!(
        op,
        Op::Store | Op::AtomicAdd | Op::Call { .. } | Op::Spawn { .. } | Op::Join | Op::Poll
    )
}

fn key_of(op: Op, args: &[Value], memory: u32) -> Option<Key> {
    let memory = match op {
        Op::Load => memory,
        Op::Idiv | Op::Irem | Op::BoundsCheck => 0,
        _ if op.is_pure() && op != Op::Copy => 0,
        _ => return None,
    };
    if args.len() > 3 {
        return None;
    }
    let mut key_args = [Value(u32::MAX); 3];
    key_args[..args.len()].copy_from_slice(args);
    if matches!(
        op,
        Op::Iadd | Op::Imul | Op::Iand | Op::Ior | Op::Ixor | Op::Imin | Op::Imax
    ) && key_args[1] < key_args[0]
    {
        key_args.swap(0, 1);
    }
    Some(Key {
        op,
        args: key_args,
        memory,
    })
}
