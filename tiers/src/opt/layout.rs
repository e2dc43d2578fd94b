//! Block layout: the order blocks are emitted in.
//!
//! Needs: a verified function, and the profile in [`PassContext`] (empty
//! when there is none). Gives: the same blocks in a new order, the entry
//! block first; nothing else changes.
//!
//! 1. Reverse postorder, where at each branch the successor that leaves
//!    the innermost loop is visited first (so it comes last): a loop's
//!    blocks sit together, before the code after the loop. Among the
//!    other successors, the hotter one is visited last, so it comes right
//!    after the branch, which falls into it (on a tie, as without a
//!    profile, the branch's else successor does).
//! 2. Loops whose header only tests and branches out (the shape of every
//!    `for` and `while` loop) are rotated: the header moves after the
//!    loop's other blocks, so an iteration ends in one taken backward
//!    branch instead of a jump back to a test that falls through.
//! 3. Once the instructions compiled hold [`COLD_EVIDENCE_NS`] of samples
//!    (each bytecode instruction counted once, however many copies
//!    inlining and loop versioning made), the blocks no sample landed in
//!    (the entry block aside) move after all the others, keeping their
//!    order: cold paths go out of line, and the hot blocks of a loop close
//!    up (still together, a rotated header still last).
//!
//! A block's heat is the profile's recent CPU time at the bytecode pcs of
//! its instructions and terminator, and below those that are calls, each
//! pc counted once ([`PassContext::pc_heat`], [`PassContext::call_heat`]);
//! samples of every tier count, as each maps back to bytecode pcs. The
//! profile does not tell an inlined function's callers apart, so an
//! instruction inlined from another function counts that function's time
//! at its pc, but no more than the time below the call it was inlined at
//! (at each level of inlining).
//!
//! Without a profile (eager `--tier opt`) every block's heat is 0, and
//! the layout is the static one of steps 1 and 2. With one, it seldom
//! differs much: a function is optimized about 2 ms into its hotness, one
//! to three samples, which decide a branch only when one landed in a
//! successor, and cold blocks need more (docs/opt.md has the numbers).

use super::analysis::{compute_domtree, compute_loops, Loops};
use super::ir::{Block, Func, Loc, Term};
use super::PassContext;
use crate::bytecode::FuncId;
use std::collections::HashMap;

/// How much recent CPU time (nanoseconds of samples) at the instructions
/// of a compiled function, its own and those inlined, it takes before its
/// blocks without samples count as cold: 32 samples at the 1 kHz the tier
/// policy samples at. A block that
/// none of 32 samples landed in takes, with 95% confidence, under a tenth
/// of the function's time.
pub const COLD_EVIDENCE_NS: u64 = 32_000_000;

/// Orders the blocks of `f` for emission.
pub fn lay_out_blocks(f: &mut Func, cx: &PassContext) {
    let dom = compute_domtree(f);
    let loops = compute_loops(f, &dom);
    let heat = compute_block_heat(f, cx);
    let mut layout = loop_friendly_rpo(f, &loops, &heat.of);
    for l in 0..loops.loops.len() {
        rotate(f, &loops, l, &mut layout);
    }
    if heat.sampled_ns >= COLD_EVIDENCE_NS {
        move_cold_blocks_last(f, &heat.of, &mut layout);
    }
    f.layout = layout;
}

/// What the profile says about a function's blocks.
struct BlockHeat {
    /// Recent CPU time at and below each block's instructions, by block
    /// index (nanoseconds).
    of: Vec<u64>,
    /// Recent CPU time at the instructions compiled (each bytecode
    /// instruction once, however many copies inlining and loop versioning
    /// made; none below calls): the evidence for calling a block without
    /// samples cold.
    sampled_ns: u64,
}

fn compute_block_heat(f: &Func, cx: &PassContext) -> BlockHeat {
    let mut heat = BlockHeat {
        of: vec![0; f.blocks.len()],
        sampled_ns: 0,
    };
    if cx.pc_heat.is_empty() && cx.call_heat.is_empty() {
        return heat;
    }
    // The most each bytecode instruction's copies were found to take.
    let mut sampled: HashMap<(FuncId, u32), u64> = HashMap::new();
    let mut locs: Vec<Loc> = Vec::new();
    for &b in &f.layout {
        let block = f.block(b);
        locs.clear();
        locs.extend(block.insts.iter().map(|&i| f.inst(i).loc));
        locs.push(block.term_loc);
        locs.sort_unstable_by_key(|l| (l.inline, l.pc));
        locs.dedup();
        for &loc in &locs {
            let (at, at_and_below) = loc_heat(f, cx, loc);
            heat.of[b.index()] = heat.of[b.index()].saturating_add(at_and_below);
            let most = sampled.entry((f.func_of(loc), loc.pc)).or_insert(0);
            *most = (*most).max(at);
        }
    }
    heat.sampled_ns = sampled.values().fold(0, |sum, &ns| sum.saturating_add(ns));
    heat
}

/// Recent CPU time at the instruction at `loc`, and at and below it; for
/// an inlined instruction, each no more than the time at and below every
/// call it was inlined at.
fn loc_heat(f: &Func, cx: &PassContext, loc: Loc) -> (u64, u64) {
    let func = f.func_of(loc);
    let mut at = cx.pc_heat(func, loc.pc);
    let mut at_and_below = at.saturating_add(cx.call_heat(func, loc.pc));
    let mut frame = loc.inline;
    // A frame's parent comes before it (the verifier checks), so the walk
    // ends; the bound keeps it finite on any input.
    for _ in 0..f.inlines.len() {
        let Some(inlined) = f.inline_frame(frame) else {
            break;
        };
        let call = Loc {
            inline: inlined.parent,
            pc: inlined.call_pc,
        };
        let caller = f.func_of(call);
        let cap = cx
            .pc_heat(caller, call.pc)
            .saturating_add(cx.call_heat(caller, call.pc));
        at = at.min(cap);
        at_and_below = at_and_below.min(cap);
        frame = inlined.parent;
    }
    (at, at_and_below)
}

fn loop_friendly_rpo(f: &Func, loops: &Loops, heat: &[u64]) -> Vec<Block> {
    let mut seen = vec![false; f.blocks.len()];
    let mut post = Vec::with_capacity(f.layout.len());
    let mut stack: Vec<(Block, Vec<Block>)> = Vec::new();
    let succs_of = |b: Block| -> Vec<Block> {
        let mut s: Vec<Block> = f.succs(b).collect();
        // Visit exits first (they end up last), then the rest coolest
        // first: the last one visited comes right after `b`. The sort is
        // stable, so on a tie the branch's then successor is visited
        // before its else successor, which comes next.
        let inner = loops.innermost[b.index()];
        let leaves = |t: &Block| match inner {
            Some(l) => !loops.contains(l, *t),
            None => false,
        };
        s.sort_by_key(|t| (!leaves(t), heat[t.index()]));
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

/// Moves the blocks without heat, but the entry block, after the others;
/// both keep their order.
fn move_cold_blocks_last(f: &Func, heat: &[u64], layout: &mut Vec<Block>) {
    let (hot, cold): (Vec<Block>, Vec<Block>) = layout
        .iter()
        .partition(|&&b| b == f.entry || heat[b.index()] > 0);
    *layout = hot;
    layout.extend(cold);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::Module;
    use crate::opt::ir::parse::parse_func;
    use crate::opt::ir::verify::verify;

    /// A loop whose body branches: `block3` (pcs 3-4) or `block4` (pc 5),
    /// joining at `block5`; `block6` returns after the loop.
    const DIAMOND_IN_LOOP: &str = "\
function f0 \"f\" -> int regs 4 entry_regs 0
block0(v0: int):
    v1 = iconst 0 @0
    jump block1(v1, v1) @0
block1(v2: int, v3: int):
    poll @1
    v4 = icmp.lt v2, v0 @1
    brif v4, block2, block6 @1
block2:
    v5 = icmp.eq v2, v1 @2
    brif v5, block3, block4 @2
block3:
    v6 = iadd v3, v2 @3
    jump block5(v6) @4
block4:
    v7 = isub v3, v2 @5
    jump block5(v7) @5
block5(v8: int):
    v9 = iconst 1 @6
    v10 = iadd v2, v9 @6
    jump block1(v10, v8) @7
block6:
    ret v3 @8
";

    type Heat = HashMap<(FuncId, u32), u64>;

    /// Heat of `(function, pc, nanoseconds)`.
    fn heat(entries: &[(u32, u32, u64)]) -> Heat {
        entries
            .iter()
            .map(|&(func, pc, ns)| ((FuncId(func), pc), ns))
            .collect()
    }

    /// The block numbers of `text`'s function laid out with this profile.
    fn lay_out(text: &str, pc_heat: &Heat, call_heat: &Heat) -> Vec<u32> {
        let mut f = parse_func(text).expect("parses");
        let module = Module::default();
        let cx = PassContext {
            module: &module,
            call_heat,
            pc_heat,
        };
        lay_out_blocks(&mut f, &cx);
        verify(&f).expect("still valid");
        f.layout.iter().map(|b| b.0).collect()
    }

    const MS: u64 = 1_000_000;

    // The profiles below have 33 ms of samples: enough to call blocks
    // cold; half of it is not.
    const _: () = assert!(33 * MS >= COLD_EVIDENCE_NS && 33 * MS / 2 < COLD_EVIDENCE_NS);

    #[test]
    fn without_samples_the_else_side_falls_through_and_the_loop_rotates() {
        let none = Heat::new();
        let stat = vec![0, 2, 4, 3, 5, 1, 6];
        assert_eq!(lay_out(DIAMOND_IN_LOOP, &none, &none), stat);
        // Samples only in other functions change nothing.
        let elsewhere = heat(&[(1, 3, 50 * MS), (1, 5, 50 * MS)]);
        assert_eq!(lay_out(DIAMOND_IN_LOOP, &elsewhere, &elsewhere), stat);
    }

    #[test]
    fn the_hotter_successor_falls_through() {
        // One sample is enough to choose a side: then (block3) is hotter.
        let pcs = heat(&[(0, 1, MS), (0, 3, MS)]);
        assert_eq!(
            lay_out(DIAMOND_IN_LOOP, &pcs, &Heat::new()),
            [0, 2, 3, 4, 5, 1, 6]
        );
        // Time below a call counts for the call's block too.
        let calls = heat(&[(0, 4, 2 * MS)]);
        let pcs = heat(&[(0, 5, MS)]);
        assert_eq!(
            lay_out(DIAMOND_IN_LOOP, &pcs, &calls),
            [0, 2, 3, 4, 5, 1, 6]
        );
        // The else side (block4) hotter: the static order.
        let pcs = heat(&[(0, 3, MS), (0, 5, 2 * MS)]);
        assert_eq!(
            lay_out(DIAMOND_IN_LOOP, &pcs, &Heat::new()),
            [0, 2, 4, 3, 5, 1, 6]
        );
    }

    #[test]
    fn blocks_without_samples_move_after_the_hot_code_once_samples_are_many() {
        // The loop ran, block4 (pc 5) never did, and nothing ran after it.
        let hot = |scale: u64| {
            heat(&[
                (0, 1, 10 * scale),
                (0, 2, 10 * scale),
                (0, 3, 4 * scale),
                (0, 6, 8 * scale),
                (0, 7, scale),
            ])
        };
        let few = hot(MS / 2);
        assert_eq!(
            lay_out(DIAMOND_IN_LOOP, &few, &Heat::new()),
            [0, 2, 3, 4, 5, 1, 6]
        );
        // Now enough samples: block4 and block6 go last (block6 already
        // was), the loop's hot blocks stay together, its header last.
        let many = hot(MS);
        assert_eq!(
            lay_out(DIAMOND_IN_LOOP, &many, &Heat::new()),
            [0, 2, 3, 5, 1, 4, 6]
        );
    }

    #[test]
    fn the_entry_block_stays_first_even_when_cold() {
        // Nothing at pc 0: block0 is cold by its heat and stays first;
        // the else side ran, the then side (block3) did not.
        let many = heat(&[
            (0, 1, 20 * MS),
            (0, 2, 20 * MS),
            (0, 5, 20 * MS),
            (0, 6, 20 * MS),
        ]);
        let layout = lay_out(DIAMOND_IN_LOOP, &many, &Heat::new());
        assert_eq!(layout, [0, 2, 4, 5, 1, 3, 6]);
    }

    /// [`DIAMOND_IN_LOOP`] with both sides of the diamond inlined from
    /// `f1` (pcs 3 and 5 there), called at pc 2.
    const INLINED_DIAMOND: &str = "\
function f0 \"f\" -> int regs 8 entry_regs 0
inline 1 = f1 parent 0 call_pc 2 reg_base 4 depth 1 regs 4
block0(v0: int):
    v1 = iconst 0 @0
    jump block1(v1, v1) @0
block1(v2: int, v3: int):
    poll @1
    v4 = icmp.lt v2, v0 @1
    brif v4, block2, block6 @1
block2:
    v5 = icmp.eq v2, v1 @1:2
    brif v5, block3, block4 @1:2
block3:
    v6 = iadd v3, v2 @1:3
    jump block5(v6) @1:3
block4:
    v7 = isub v3, v2 @1:5
    jump block5(v7) @1:5
block5(v8: int):
    v9 = iconst 1 @6
    v10 = iadd v2, v9 @6
    jump block1(v10, v8) @7
block6:
    ret v3 @8
";

    #[test]
    fn inlined_code_counts_its_function_s_time_up_to_the_call_site_s() {
        // f1's then side is hot, wherever it was called from.
        let pcs = heat(&[(1, 3, 3 * MS), (1, 5, MS)]);
        let stat = vec![0, 2, 4, 3, 5, 1, 6];
        assert_eq!(lay_out(INLINED_DIAMOND, &pcs, &Heat::new()), stat);
        // With time below this call site, f1's profile decides.
        let calls = heat(&[(0, 2, 4 * MS)]);
        assert_eq!(
            lay_out(INLINED_DIAMOND, &pcs, &calls),
            [0, 2, 3, 4, 5, 1, 6]
        );
        // Capped at the call site's time, both sides tie: the static order.
        let calls = heat(&[(0, 2, MS / 2)]);
        assert_eq!(lay_out(INLINED_DIAMOND, &pcs, &calls), stat);
    }

    #[test]
    fn copies_of_an_instruction_are_one_instruction_s_evidence() {
        // f1's pc 3 inlined twice (frames 1 and 2); block4 never ran.
        let text = "\
function f0 \"f\" -> int regs 12 entry_regs 0
inline 1 = f1 parent 0 call_pc 2 reg_base 4 depth 1 regs 4
inline 2 = f1 parent 0 call_pc 3 reg_base 8 depth 1 regs 4
block0(v0: int):
    v1 = iconst 0 @0
    v2 = icmp.eq v0, v1 @1
    brif v2, block1, block4 @1
block1:
    v3 = iadd v0, v0 @1:3
    jump block2(v3) @1:3
block4:
    v4 = isub v0, v0 @5
    jump block2(v4) @5
block2(v5: int):
    v6 = iadd v5, v0 @2:3
    jump block3(v6) @2:3
block3(v7: int):
    ret v7 @4
";
        let calls = heat(&[(0, 2, 40 * MS), (0, 3, 40 * MS)]);
        let evidence = |ns| heat(&[(1, 3, ns), (0, 4, MS)]);
        // 21 ms, not 41: too few samples to call block4 cold; only the
        // branch goes the hot way.
        assert_eq!(lay_out(text, &evidence(20 * MS), &calls), [0, 1, 4, 2, 3]);
        assert_eq!(lay_out(text, &evidence(31 * MS), &calls), [0, 1, 2, 3, 4]);
    }
}
