//! Inlining: replaces calls of small functions by a copy of their body.
//!
//! An inlined body is still a frame to everyone else: it gets an
//! [`InlineFrame`] (its function, the call it replaced, where its tj frame
//! would start), every instruction copied from it carries that frame in
//! its [`Loc`], and a [`Op::FrameCheck`] at its start (of a
//! [`Op::FrameOk`], which may leave loops) raises `stack
//! overflow` exactly where the call would have (the frame limit counts
//! inlined frames). Calls made from inlined code count the inlined frames
//! around them, so callees see the depth the interpreter would.
//!
//! Which calls: those whose callee has no loop (unless the profile marks
//! the call site hot: a callee with a loop spends its time there, and the
//! call costs little next to it) and at most [`MAX_CALLEE_SIZE`]
//! bytecode instructions ([`MAX_HOT_CALLEE_SIZE`] for call sites the
//! profile marks hot), up to [`MAX_INLINE_DEPTH`] frames deep, a function
//! inlined into a chain that already holds it at most
//! [`MAX_RECURSIVE_INLINE`] times (recursion unrolls that many levels;
//! one for callees over [`MAX_UNROLLED_CALLEE_SIZE`] instructions),
//! while the function stays under its growth budget.
//! Hot call sites go first when the runtime passes a profile; without
//! one, calls in deeper loops go first.

use super::analysis::{compute_domtree, compute_loops};
use super::ir::{Block, BlockCall, Func, InlineFrame, Inst, Loc, Op, Term, Value, ValueDef};
use super::PassContext;
use crate::bytecode::FuncId;
use crate::Type;
use std::collections::HashMap;

/// Callees up to this many bytecode instructions are inlined.
pub const MAX_CALLEE_SIZE: usize = 40;
/// ... and up to this many at a call site the profile says is hot.
pub const MAX_HOT_CALLEE_SIZE: usize = 120;
/// The deepest chain of inlined frames.
pub const MAX_INLINE_DEPTH: u32 = 6;
/// A chain of inlined frames holds a function at most this many times
/// besides the compiled function's own frame: recursion unrolls this many
/// levels (each level of a doubly recursive function halves its calls).
pub const MAX_RECURSIVE_INLINE: usize = 4;
/// ... for callees of at most this many bytecode instructions; a larger
/// recursive function unrolls once.
pub const MAX_UNROLLED_CALLEE_SIZE: usize = 16;
/// A function grows to at most this many times its size, plus
/// [`GROWTH_SLACK`] instructions.
pub const GROWTH_FACTOR: usize = 4;
/// See [`GROWTH_FACTOR`].
pub const GROWTH_SLACK: usize = 600;

/// Inlines calls of `f` (see the module doc for which).
pub fn inline_calls(f: &mut Func, cx: &PassContext) {
    let initial = f.inst_count();
    let budget = initial * GROWTH_FACTOR + GROWTH_SLACK;
    let mut size = initial;
    let mut callees: HashMap<FuncId, Func> = HashMap::new();
    let mut work = call_sites(f, cx);
    let mut owner = block_owners(f);
    // Highest priority last, so `pop` takes it.
    while let Some((_, call)) = work.pop() {
        let block = owner[call.index()];
        let inst = f.inst(call);
        let Op::Call {
            func: callee,
            window,
        } = inst.op
        else {
            continue;
        };
        let hot = cx.is_hot_call(f.func_of(inst.loc), inst.loc.pc);
        let limit = if hot {
            MAX_HOT_CALLEE_SIZE
        } else {
            MAX_CALLEE_SIZE
        };
        let callee_fn = cx.module.func(callee);
        // A callee with a loop of its own spends its time there: the call
        // costs little next to it, and inlining it only grows the caller.
        if !hot && has_loop(callee_fn) {
            continue;
        }
        let recursive_limit = if callee_fn.code.len() <= MAX_UNROLLED_CALLEE_SIZE {
            MAX_RECURSIVE_INLINE
        } else {
            1
        };
        if callee_fn.code.len() > limit
            || f.inline_depth(inst.loc.inline) + 1 > MAX_INLINE_DEPTH
            || occurrences(f, inst.loc.inline, callee) > recursive_limit
        {
            continue;
        }
        let body = match callees.get(&callee) {
            Some(body) => body,
            None => {
                let Ok(mut body) = super::build::build(cx.module, callee, None) else {
                    continue;
                };
                super::fold::fold_constants(&mut body, cx);
                super::dce::eliminate_dead_code(&mut body, cx);
                callees.entry(callee).or_insert(body)
            }
        };
        let grows = body.inst_count();
        if size + grows > budget {
            continue;
        }
        size += grows;
        let (new_calls, added) = splice(f, block, call, body, window);
        owner.resize(f.insts.len(), Block(u32::MAX));
        for b in added {
            for &i in &f.block(b).insts {
                owner[i.index()] = b;
            }
        }
        // Calls from the inlined body inherit the call's priority.
        let priority = work.last().map_or(0, |w| w.0);
        for c in new_calls {
            work.push((priority, c));
        }
    }
}

/// True if the bytecode has a backward branch.
fn has_loop(f: &crate::bytecode::Function) -> bool {
    f.code
        .iter()
        .enumerate()
        .any(|(pc, i)| i.target().is_some_and(|t| t as usize <= pc))
}

/// Every call of `f` with its priority, lowest first.
fn call_sites(f: &Func, cx: &PassContext) -> Vec<(u64, Inst)> {
    let dom = compute_domtree(f);
    let loops = compute_loops(f, &dom);
    let mut sites = Vec::new();
    for &b in f.layout.iter().rev() {
        for &i in f.block(b).insts.iter().rev() {
            let inst = f.inst(i);
            if let Op::Call { .. } = inst.op {
                let heat = cx.call_heat(f.func_of(inst.loc), inst.loc.pc);
                let priority = (heat << 8) | loops.depth(b).min(255) as u64;
                sites.push((priority, i));
            }
        }
    }
    // Stable: among equals, the earliest call ends up last (taken first).
    sites.sort_by_key(|&(p, _)| p);
    sites
}

/// How many frames of `callee` the chain ending at frame `inline`
/// already has.
fn occurrences(f: &Func, mut inline: u32, callee: FuncId) -> usize {
    let mut n = 0;
    loop {
        if f.func_of(Loc { inline, pc: 0 }) == callee {
            n += 1;
        }
        match f.inline_frame(inline) {
            Some(frame) => inline = frame.parent,
            None => return n,
        }
    }
}

/// The block each instruction is in.
fn block_owners(f: &Func) -> Vec<Block> {
    let mut owner = vec![Block(u32::MAX); f.insts.len()];
    for &b in &f.layout {
        for &i in &f.block(b).insts {
            owner[i.index()] = b;
        }
    }
    owner
}

/// Replaces call `call` (in `block`) by a copy of `body`; gives the calls
/// the copy contains and the blocks it added.
fn splice(
    f: &mut Func,
    block: Block,
    call: Inst,
    body: &Func,
    window: u32,
) -> (Vec<Inst>, Vec<Block>) {
    let inst = f.inst(call).clone();
    let parent = inst.loc.inline;
    f.inlines.push(InlineFrame {
        func: body.id,
        parent,
        call_pc: inst.loc.pc,
        reg_base: window,
        depth: f.inline_depth(parent) + 1,
        num_regs: body.num_regs,
    });
    let k = f.inlines.len() as u32;
    // The continuation: everything after the call, with the call's
    // result (if any) as its parameter.
    let cont = f.add_block();
    let pos = f.blocks[block.index()]
        .insts
        .iter()
        .position(|&i| i == call)
        .expect("the call is in its block");
    let tail = f.blocks[block.index()].insts.split_off(pos + 1);
    f.blocks[block.index()].insts.pop();
    let term = std::mem::replace(&mut f.blocks[block.index()].term, Term::None);
    let term_loc = f.blocks[block.index()].term_loc;
    f.set_term(cont, term, term_loc);
    f.blocks[cont.index()].insts = tail;
    if let Some(r) = inst.result {
        f.values[r.index()].def = ValueDef::Param(cont, 0);
        f.blocks[cont.index()].params.push(r);
    }
    // The body's blocks and values, renamed.
    let mut vmap: Vec<Option<Value>> = vec![None; body.values.len()];
    for (&p, &a) in body.block(body.entry).params.iter().zip(&inst.args) {
        vmap[p.index()] = Some(a);
    }
    let mut bmap: HashMap<Block, Block> = HashMap::new();
    for &b in &body.layout {
        let nb = f.add_block();
        bmap.insert(b, nb);
        if b != body.entry {
            for &p in &body.block(b).params {
                let np = f.add_param(nb, body.ty(p));
                vmap[p.index()] = Some(np);
            }
        }
    }
    let loc_of = |l: Loc| Loc {
        inline: if l.inline == 0 { k } else { l.inline + k },
        pc: l.pc,
    };
    let mut calls = Vec::new();
    for &b in &body.layout {
        let nb = bmap[&b];
        for &i in &body.block(b).insts {
            let old = body.inst(i);
            let op = match old.op {
                Op::Call { func, window: w } => Op::Call {
                    func,
                    window: w + window,
                },
                Op::Spawn { func, window: w } => Op::Spawn {
                    func,
                    window: w + window,
                },
                Op::CallHost { host, window: w } => Op::CallHost {
                    host,
                    window: w + window,
                },
                other => other,
            };
            let args = old
                .args
                .iter()
                .map(|a| vmap[a.index()].expect("defined before use (RPO layout)"))
                .collect();
            let ty = old.result.map(|r| body.ty(r));
            let ni = f.make_inst(op, args, ty, loc_of(old.loc));
            f.blocks[nb.index()].insts.push(ni);
            if let (Some(r), Some(nr)) = (old.result, f.inst(ni).result) {
                vmap[r.index()] = Some(nr);
            }
            if matches!(op, Op::Call { .. }) {
                calls.push(ni);
            }
        }
    }
    // Terminators last: block arguments may come from any block.
    for &b in &body.layout {
        let nb = bmap[&b];
        let map_v = |v: Value| vmap[v.index()].expect("every body value is defined");
        let map_call = |d: &BlockCall| {
            BlockCall::new(bmap[&d.block], d.args.iter().map(|&v| map_v(v)).collect())
        };
        let term = match &body.block(b).term {
            Term::Jump(d) => Term::Jump(map_call(d)),
            Term::Branch {
                cond,
                then_dest,
                else_dest,
            } => Term::Branch {
                cond: map_v(*cond),
                then_dest: map_call(then_dest),
                else_dest: map_call(else_dest),
            },
            // The value goes to the continuation's parameter, if the call
            // keeps it (a call statement drops it).
            Term::Return(v) => Term::Jump(BlockCall::new(
                cont,
                v.iter()
                    .filter(|_| inst.result.is_some())
                    .map(|&v| map_v(v))
                    .collect(),
            )),
            Term::None => Term::None,
        };
        let loc = loc_of(body.block(b).term_loc);
        f.set_term(nb, term, loc);
    }
    // The call site: check that the frame fits, then enter the body.
    let ok = f
        .append(
            block,
            Op::FrameOk(k),
            Vec::new(),
            Some(Type::Bool),
            inst.loc,
        )
        .expect("a bool");
    f.append(block, Op::FrameCheck(k), vec![ok], None, inst.loc);
    f.set_term(
        block,
        Term::Jump(BlockCall::new(bmap[&body.entry], Vec::new())),
        inst.loc,
    );
    // Layout: the body and the continuation right after the call's block.
    let added: Vec<Block> = body.layout.iter().map(|b| bmap[b]).chain([cont]).collect();
    // `add_block` appended them to the layout: move them.
    f.layout.truncate(f.layout.len() - added.len());
    let at = f.layout.iter().position(|&b| b == block).expect("live") + 1;
    f.layout.splice(at..at, added.iter().copied());
    (calls, added)
}
