//! Loop-invariant code motion: computations whose operands do not change
//! in a loop move to the loop's preheader, so they run once per entry to
//! the loop instead of once per iteration.
//!
//! Only instructions that cannot trap move: pure ones (arithmetic,
//! comparisons, constants, array lengths: an array's length never
//! changes, so `len(a)` of an invariant `a` is invariant), and `/` and `%`
//! by a constant other than zero. A hoisted instruction may run when the
//! loop body would not have (the loop runs zero times, or it sat under a
//! condition): that is why nothing that traps, reads memory or has an
//! effect moves. Bounds checks stay; bounds-check elimination removes the
//! ones it can prove.
//!
//! Every loop gets a preheader first: a block that is the header's only
//! predecessor from outside the loop and jumps straight to it.

use super::analysis::{compute_domtree, compute_loops, Loops};
use super::ir::{Block, BlockCall, Func, Loc, Op, Term, Value};
use super::PassContext;

/// Hoists loop-invariant computations in `f`.
pub fn hoist_loop_invariants(f: &mut Func, _: &PassContext) {
    let dom = compute_domtree(f);
    let mut loops = compute_loops(f, &dom);
    if loops.loops.is_empty() {
        return;
    }
    // Innermost loops first: what leaves an inner loop may then leave
    // the outer one too.
    let mut order: Vec<usize> = (0..loops.loops.len()).collect();
    order.sort_by_key(|&l| std::cmp::Reverse(loops.loops[l].depth));
    // Block -> position in reverse postorder, to visit loop blocks in
    // dominance order.
    // A preheader sorts right before its header.
    let mut sort_key: Vec<(u32, u32)> = dom.rpo_index.iter().map(|&i| (i, 1)).collect();
    let mut preds = dom.preds.to_vecs();
    // `defined_inside[v] == stamp` marks values defined in the loop being
    // processed (one array for all loops).
    let mut defined_inside = vec![u32::MAX; f.values.len()];
    for (stamp, l) in order.into_iter().enumerate() {
        let stamp = stamp as u32;
        let pre = ensure_preheader(f, &mut loops, l, &mut preds);
        forward_unchanged_params(f, loops.loops[l].header, pre, &preds);
        if sort_key.len() <= pre.index() {
            sort_key.resize(pre.index() + 1, (u32::MAX, 0));
            let header = loops.loops[l].header;
            sort_key[pre.index()] = (sort_key[header.index()].0, 0);
        }
        let mut blocks = loops.loops[l].blocks.clone();
        blocks.sort_by_key(|b| sort_key[b.index()]);
        // Values defined in the loop (params and results of instructions
        // still in it).
        defined_inside.resize(f.values.len(), u32::MAX);
        for &b in &blocks {
            for &p in &f.block(b).params {
                defined_inside[p.index()] = stamp;
            }
            for &i in &f.block(b).insts {
                if let Some(r) = f.inst(i).result {
                    defined_inside[r.index()] = stamp;
                }
            }
        }
        let mut hoisted = Vec::new();
        for &b in &blocks {
            let insts = std::mem::take(&mut f.blocks[b.index()].insts);
            let mut kept = Vec::with_capacity(insts.len());
            for i in insts {
                let inst = f.inst(i);
                let invariant = can_hoist(f, inst.op, &inst.args)
                    && inst.args.iter().all(|a| defined_inside[a.index()] != stamp);
                if invariant {
                    if let Some(r) = inst.result {
                        defined_inside[r.index()] = u32::MAX;
                    }
                    hoisted.push(i);
                } else {
                    kept.push(i);
                }
            }
            f.blocks[b.index()].insts = kept;
        }
        f.blocks[pre.index()].insts.extend(hoisted);
    }
}

/// Replaces each parameter of loop header `header` that every latch
/// passes back unchanged by the value the preheader `pre` passes for it:
/// it holds that value all through the loop. The builder's trivial-param
/// removal catches these when the header has one entry; a header with
/// several entries (code compiled for on-stack replacement at an inner
/// loop: the OSR entry and the outer loop both enter it) has them until
/// the preheader merges the entries, and then code that uses them is
/// invariant too.
fn forward_unchanged_params(f: &mut Func, header: Block, pre: Block, preds: &[Vec<Block>]) {
    let Term::Jump(entry) = &f.block(pre).term else {
        return;
    };
    let entry_args = entry.args.clone();
    let params = f.block(header).params.clone();
    let latches: Vec<Block> = preds[header.index()]
        .iter()
        .copied()
        .filter(|&b| b != pre)
        .collect();
    let mut map: Option<Vec<Value>> = None;
    for (k, &p) in params.iter().enumerate() {
        let unchanged = latches.iter().all(|&b| {
            f.block(b)
                .term
                .successors()
                .filter(|d| d.block == header)
                .all(|d| d.args[k] == p)
        });
        if unchanged && entry_args[k] != p {
            map.get_or_insert_with(|| f.identity_map())[p.index()] = entry_args[k];
        }
    }
    if let Some(map) = map {
        f.substitute(&map);
    }
}

/// True for instructions that may run whether or not the loop body would
/// have (see the module doc).
fn can_hoist(f: &Func, op: Op, args: &[Value]) -> bool {
    match op {
        Op::Copy => false,
        Op::Idiv | Op::Irem => f.as_iconst(args[1]).is_some_and(|c| c != 0),
        _ => op.is_pure(),
    }
}

/// The preheader of loop `l`, made if there is none (and then added to
/// every loop that contains `l`); keeps `preds` up to date.
fn ensure_preheader(
    f: &mut Func,
    loops: &mut Loops,
    l: usize,
    preds: &mut Vec<Vec<Block>>,
) -> Block {
    let header = loops.loops[l].header;
    let outside: Vec<Block> = dedup(
        preds[header.index()]
            .iter()
            .copied()
            .filter(|&p| !loops.contains(l, p))
            .collect(),
    );
    if let [p] = outside[..] {
        if matches!(f.block(p).term, Term::Jump(_)) && p != f.entry {
            return p;
        }
    }
    let pre = f.add_block();
    // `add_block` put it last in the layout: it belongs right before the
    // header.
    f.layout.pop();
    let at = f
        .layout
        .iter()
        .position(|&b| b == header)
        .expect("the header is live");
    f.layout.insert(at, pre);
    // The preheader is in every loop containing `l`.
    loops.innermost.resize(f.blocks.len(), None);
    loops.innermost[pre.index()] = loops.loops[l].parent;
    let types: Vec<_> = f.block(header).params.iter().map(|&p| f.ty(p)).collect();
    let params: Vec<Value> = types.into_iter().map(|t| f.add_param(pre, t)).collect();
    let loc: Loc = f.block(header).term_loc;
    preds.resize(f.blocks.len(), Vec::new());
    for &p in &outside {
        for d in f.blocks[p.index()].term.successors_mut() {
            if d.block == header {
                d.block = pre;
                preds[pre.index()].push(p);
            }
        }
    }
    preds[header.index()].retain(|p| !outside.contains(p));
    preds[header.index()].push(pre);
    f.set_term(pre, Term::Jump(BlockCall::new(header, params)), loc);
    let mut outer = loops.loops[l].parent;
    while let Some(o) = outer {
        loops.loops[o].blocks.push(pre);
        outer = loops.loops[o].parent;
    }
    pre
}

fn dedup(mut v: Vec<Block>) -> Vec<Block> {
    v.sort();
    v.dedup();
    v
}
