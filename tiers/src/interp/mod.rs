//! Tier 0: the interpreter, the reference semantics for every tier.
//!
//! One dispatch loop over verified bytecode. Calls between interpreted
//! functions do not recurse on the native stack: they push a
//! [`FrameRecord`] and switch to the callee in the same loop, so the depth
//! of tj recursion is bounded by [`Limits`], not by the native stack, and a
//! too-deep recursion is the runtime error `stack overflow`.
//!
//! Every call reads the callee's [`MethodTable`] slot. While it holds
//! [`interpreter_entry`] the call stays in the loop; any other entry (code a
//! later tier installed, or a host's native function) is called through the
//! slot with the [`EntryFn`] signature, on the callee's register window.
//!
//! Needs: a module that passed [`verify_module`](crate::bytecode::verify::verify_module)
//! (registers, constants, targets in range; types as the instructions
//! require), and the same module from [`Host::module`] for as long as the
//! thread runs. Guarantees: exactly LANGUAGE.md's semantics; a runtime error
//! comes back as [`RuntimeError`] with the backtrace, and leaves the thread's
//! frame stack as it was before the call.
//!
//! Safe points: the interrupt flag is polled on every backward branch and
//! every call, so a thread stops promptly when another thread's runtime
//! error ends the program.

use crate::builtins::{self, float_max, float_min};
use crate::bytecode::{FuncId, Instr, Module};
use crate::code::{NoFrameKind, NoFrameRange};
use crate::exec::{EntryFn, FrameRecord, Host, ThreadState, NO_RESULT};
use crate::heap::ArrayRef;
use crate::trap::{RuntimeError, Trap};
use std::sync::atomic::Ordering;

/// Calls `func` with `args` (raw register bits, one per parameter) on the
/// thread `ts`; gives the result bits, if the function returns a value.
pub fn call(ts: &mut ThreadState, func: FuncId, args: &[u64]) -> Result<Option<u64>, RuntimeError> {
    let host = ts.host.clone();
    call_with(ts, &*host, func, args)
}

/// [`call`] where the caller holds the thread's host, `ts.host`, itself
/// (so that the call need not count a reference to it).
pub fn call_with(
    ts: &mut ThreadState,
    host: &dyn Host,
    func: FuncId,
    args: &[u64],
) -> Result<Option<u64>, RuntimeError> {
    let module = host.module();
    let callee = module.func(func);
    let base = match ts.frames.last() {
        Some(top) => top.base + module.func(top.func).num_regs as usize,
        None => {
            // The outermost call: generated code on this thread will run on
            // this thread's native stack.
            ts.ctx.stack_limit = crate::exec::native_stack_limit();
            0
        }
    };
    if base + args.len() > ts.regs.len() {
        return Err(ts.error(Trap::StackOverflow));
    }
    ts.regs[base..base + args.len()].copy_from_slice(args);
    let entry = host.method_table().entry_for_call(func, &ts.calling);
    if entry != interpreter_entry as EntryFn as usize {
        // Compiled code is installed: enter it, as any call would.
        // SAFETY: method-table slots hold EntryFns; the frame lies in this
        // thread's register stack with the arguments in place.
        let bits = unsafe {
            let entry = std::mem::transmute::<usize, EntryFn>(entry);
            entry(
                ts as *mut ThreadState,
                ts.regs.as_mut_ptr().add(base),
                func.0,
                0,
                0,
            )
        };
        ts.calling.store(0, Ordering::Relaxed);
        return match ts.take_pending() {
            Some(error) => Err(error),
            None => Ok(callee.ret.map(|_| bits)),
        };
    }
    let depth = ts.frames.len();
    let record = FrameRecord::new(func, base, NO_RESULT);
    if ts.push_frame(record, callee.num_regs as usize).is_err() {
        return Err(ts.error(Trap::StackOverflow));
    }
    let result = run(ts, module, depth);
    ts.position.at(0);
    ts.truncate_frames(depth);
    result.map(|bits| callee.ret.map(|_| bits))
}

/// The method-table entry that means "interpret this function": runs
/// `func` on the frame at `frame` (which must lie in the thread's register
/// stack, right above the caller's frame). A runtime error is left pending
/// ([`ThreadState::set_pending`]) and 0 is returned.
///
/// Stack walks (the retirer's, the sampler's) cannot walk through Rust
/// frames, so from its first instruction to its last this entry keeps the
/// native caller reachable. While Rust code runs, the context names the
/// caller (`helper_pc`, `helper_fp`: the return address and frame pointer
/// the caller passes) until the frame record that links to the caller is
/// pushed, and again from the moment that record is popped
/// ([`ThreadState::pop_frame`]) until the body returns. A Rust prologue or
/// epilogue cannot do that first or last, hence this small wrapper in
/// assembly around [`interpreter_entry_body`], which publishes the site
/// before the call and restores the previous one after it. In the wrapper's
/// own instructions the walkers follow the caller through the wrapper's
/// frame, as in generated code: it keeps the `rbp` chain, and
/// [`INTERPRETER_ENTRY_NO_FRAME`] says where the return address is at the
/// three instructions where its frame is not set up
/// ([`interpreter_entry_range`]; docs/abi.md).
///
/// # Safety
/// As for every [`EntryFn`]: `ts` is the calling thread's own live
/// `ThreadState`, and `frame` points into its register stack.
// SAFETY (of the assembly): it follows the sysv64 convention: it keeps
// rbx, rbp, r12-r15 and rsp, calls the body with the stack 16-byte aligned
// and the caller's argument registers untouched, and returns the body's
// rax. Its stores go to `helper_pc`/`helper_fp` of the context at the start
// of `*ts` (ThreadState is repr(C) with the JitContext first, offsets
// checked by abi.rs's tests), which the caller owns.
#[unsafe(naked)]
pub unsafe extern "sysv64" fn interpreter_entry(
    ts: *mut ThreadState,
    frame: *mut u64,
    func: u32,
    caller_ret: usize,
    caller_fp: usize,
) -> u64 {
    // The arguments stay in their registers for the body: rdi = ts (its
    // context is at offset 0), rcx = caller_ret, r8 = caller_fp. Five pushes
    // and one slot realign the stack for the call. Keeps the rbp chain;
    // INTERPRETER_ENTRY_NO_FRAME lists the instructions outside its frame
    // (a test checks the two agree).
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "push rdi",
        "push qword ptr [rdi + {site_pc}]",
        "push qword ptr [rdi + {site_fp}]",
        "sub rsp, 8",
        "mov qword ptr [rdi + {site_pc}], rcx",
        "mov qword ptr [rdi + {site_fp}], r8",
        "call {body}",
        "add rsp, 8",
        "pop rcx",
        "pop rdx",
        "pop rdi",
        "mov qword ptr [rdi + {site_fp}], rcx",
        "mov qword ptr [rdi + {site_pc}], rdx",
        "pop rbp",
        "ret",
        site_pc = const crate::abi::CTX_HELPER_PC,
        site_fp = const crate::abi::CTX_HELPER_FP,
        body = sym interpreter_entry_body,
    )
}

/// Where [`interpreter_entry`]'s own frame is not set up, as offsets from
/// its first instruction, in the format of generated code's no-frame tables
/// (docs/abi.md): its `push rbp`, its `mov rbp, rsp` and its final `ret`,
/// which is its last byte, so the last entry's end is the wrapper's length.
/// At every other instruction `rbp` is the wrapper's frame, with the
/// caller's `rbp` at `[rbp]` and the return address at `[rbp + 8]`. Stack
/// walkers interrupted in the wrapper read this table to reach its caller
/// (the context's site is half written at some of those instructions, and
/// not yet or no longer this call's at others). A test decodes the
/// wrapper and checks the table against its instructions.
pub const INTERPRETER_ENTRY_NO_FRAME: [NoFrameRange; 3] = [
    NoFrameRange {
        start: 0,
        end: 1,
        kind: NoFrameKind::ReturnAtSp,
    },
    NoFrameRange {
        start: 1,
        end: 4,
        kind: NoFrameKind::ReturnAboveSavedRbp,
    },
    NoFrameRange {
        start: 0x2c,
        end: 0x2d,
        kind: NoFrameKind::ReturnAtSp,
    },
];

/// The addresses of [`interpreter_entry`]'s instructions (the range
/// [`INTERPRETER_ENTRY_NO_FRAME`] describes).
pub fn interpreter_entry_range() -> std::ops::Range<usize> {
    let start = interpreter_entry as EntryFn as usize;
    start..start + INTERPRETER_ENTRY_NO_FRAME[2].end as usize
}

/// [`interpreter_entry`] past its wrapper (which has published the native
/// caller as the context's site).
///
/// # Safety
/// As for [`interpreter_entry`].
unsafe extern "sysv64" fn interpreter_entry_body(
    ts: *mut ThreadState,
    frame: *mut u64,
    func: u32,
    caller_ret: usize,
    caller_fp: usize,
) -> u64 {
    // SAFETY: method-table entries are only called by code running on the
    // thread that owns `ts`, which passes its own live ThreadState and
    // nothing else refers to it during the call.
    let ts = unsafe { &mut *ts };
    interpret_entry(ts, frame, func, caller_ret, caller_fp)
}

/// The body of [`interpreter_entry`].
fn interpret_entry(
    ts: &mut ThreadState,
    frame: *mut u64,
    func: u32,
    caller_ret: usize,
    caller_fp: usize,
) -> u64 {
    let host = ts.host.clone();
    let module = host.module();
    let base = (frame as usize).wrapping_sub(ts.regs.as_ptr() as usize) / 8;
    let func = FuncId(func);
    let record = FrameRecord {
        native_fp: caller_fp,
        native_ret: caller_ret,
        ..FrameRecord::new(func, base, NO_RESULT)
    };
    let native_caller = record.native_caller();
    let depth = ts.frames.len();
    if ts
        .push_frame(record, module.func(func).num_regs as usize)
        .is_err()
    {
        let error = match native_caller {
            // The caller in generated code is the innermost frame.
            Some((fp, ret)) => {
                let mut own = Vec::new();
                host.native_frames(ret.wrapping_sub(1), &mut own);
                ts.native_error(Trap::StackOverflow, own, fp)
            }
            None => ts.error(Trap::StackOverflow),
        };
        ts.set_pending(error);
        return 0;
    }
    // The record links to the native caller now: stack walks must see the
    // interpreted frames as innermost, not the caller.
    ts.set_helper_site(0, 0);
    // Popping the record (in `run`, or here after an error) names the
    // native caller in the context again (`ThreadState::pop_frame`).
    let result = run(ts, module, depth);
    ts.position.at(0);
    ts.truncate_frames(depth);
    result.unwrap_or_else(|e| {
        ts.set_pending(e);
        0
    })
}

/// The outcome of an attempted on-stack replacement.
enum Osr {
    /// No entry for this loop, or the code changed: keep interpreting.
    NotNow,
    /// The compiled code ran the activation to its end.
    Returned(u64, FrameRecord),
    /// The compiled code raised a runtime error.
    Failed(RuntimeError),
}

/// Moves the running activation of `func` (frame at `fp`, about to run loop
/// header `header`) into compiled code: the installed code's OSR entry for
/// that header, or optimized code the host compiled for entry there
/// ([`Host::osr_entry`]). Every tier's frames have the interpreter's
/// layout, so the registers are already where the compiled code expects
/// them: the interpreter stops counting its frame record and enters the
/// OSR entry on the same frame.
fn on_stack_replace(
    ts: &mut ThreadState,
    host: &dyn Host,
    func: FuncId,
    header: u32,
    fp: *mut u64,
) -> Osr {
    let slot = host.method_table().entry(func);
    // The host publishes the entry in `calling` before it lets go of it,
    // so the retirer either has not retired that code or sees it in use.
    let Some(entry) = host.osr_entry(func, header, slot, &ts.calling) else {
        return Osr::NotNow;
    };
    // The record stays, marked replaced, so stack walks still follow its
    // link to a native caller; the compiled frame counts instead of it.
    ts.frames.last_mut().expect("a frame is running").replaced = 1;
    ts.ctx.depth -= 1;
    // SAFETY: `entry` is an OSR entry of code for `func` at `header`
    // (Host::osr_entry), which follows the EntryFn convention and stays
    // alive while `calling` names it; `fp` is this activation's frame in
    // the register stack, and its registers live at the header hold
    // values of the types the bytecode verifier proved.
    let result = unsafe {
        let entry = std::mem::transmute::<usize, EntryFn>(entry);
        entry(ts as *mut ThreadState, fp, func.0, 0, 0)
    };
    ts.ctx.depth += 1;
    ts.calling.store(0, Ordering::Relaxed);
    match ts.take_pending() {
        Some(error) => Osr::Failed(error),
        None => Osr::Returned(result, ts.pop_frame().expect("the replaced record")),
    }
}

/// The dispatch loop: runs the top frame until the frame stack is back to
/// `entry_depth` frames, and gives the returned bits (0 for no value).
///
/// The thread's test-mode flag ([`ThreadState::osr_every_loop`]) is read
/// once, here, to pick one of two copies of the loop: the normal one is
/// exactly the loop without the test mode (a flag kept live in the loop,
/// even with no instruction added per branch, made a tight loop 20-25%
/// slower in timing, docs/tiering.md), the other asks the host for an
/// OSR entry at every backward branch.
fn run(ts: &mut ThreadState, module: &Module, entry_depth: usize) -> Result<u64, RuntimeError> {
    if ts.osr_every_loop {
        dispatch::<true>(ts, module, entry_depth)
    } else {
        dispatch::<false>(ts, module, entry_depth)
    }
}

// `!(a < b)` on floats is deliberate: it is true when either is NaN.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
/// [`run`]'s loop; with `OSR_EVERY_LOOP`, every backward branch tries
/// on-stack replacement, whatever the function's method-table slot holds.
fn dispatch<const OSR_EVERY_LOOP: bool>(
    ts: &mut ThreadState,
    module: &Module,
    entry_depth: usize,
) -> Result<u64, RuntimeError> {
    let host_arc = ts.host.clone();
    let host: &dyn Host = &*host_arc;
    let methods = host.method_table();
    let interp_entry = interpreter_entry as EntryFn as usize;
    let regs_start = ts.regs.as_mut_ptr();
    let interrupt = ts.interrupt.clone();

    let top = *ts.frames.last().expect("run starts with a pushed frame");
    let mut func = module.func(top.func);
    let mut func_id = top.func;
    let mut code: *const Instr = func.code.as_ptr();
    let mut consts: &[u64] = &func.consts;
    let mut base = top.base;
    // SAFETY: `base` is inside the register stack (checked when the frame
    // was pushed, with room for the whole frame).
    let mut fp: *mut u64 = unsafe { regs_start.add(base) };
    // The next instruction. SAFETY (for every read through it): the
    // verifier proved every branch target is inside the code and the last
    // instruction never falls through, so `ip` always points into `code`.
    let mut ip: *const Instr = unsafe { code.add(top.pc as usize) };
    // The pc of the instruction being executed (after `ip` moved past it).
    macro_rules! current_pc {
        () => {
            (unsafe { ip.offset_from(code) } - 1) as u32
        };
    }

    // Register access. SAFETY (for every use): the verifier proved each
    // register operand is below the function's `num_regs`, and every frame
    // is pushed only after checking `base + num_regs <= regs.len()`, so
    // `fp + r` is inside the register stack, which nothing else aliases
    // while this loop runs.
    macro_rules! get {
        ($r:expr) => {
            unsafe { *fp.add($r.0 as usize) }
        };
    }
    macro_rules! set {
        ($r:expr, $v:expr) => {{
            let v: u64 = $v;
            unsafe { *fp.add($r.0 as usize) = v }
        }};
    }
    macro_rules! int {
        ($r:expr) => {
            get!($r) as i64
        };
    }
    macro_rules! float {
        ($r:expr) => {
            f64::from_bits(get!($r))
        };
    }
    macro_rules! array {
        // SAFETY: the verifier proved the register holds an array, and
        // arrays live as long as the host's heap.
        ($r:expr) => {{
            let bits = get!($r);
            unsafe { ArrayRef::from_bits(bits) }
        }};
    }
    macro_rules! trap {
        ($t:expr) => {{
            ts.frames.last_mut().expect("a frame is running").pc = current_pc!();
            let error = ts.error($t);
            ts.truncate_frames(entry_depth);
            return Err(error);
        }};
    }
    macro_rules! jump {
        ($target:expr) => {{
            let target = unsafe { code.add($target as usize) };
            if target < ip {
                // A loop iterates: record where, for the sampling profiler,
                // and stop if the program is ending.
                ts.frames.last_mut().expect("a frame is running").pc = current_pc!();
                if interrupt.load(Ordering::Relaxed) {
                    trap!(Trap::Terminated);
                }
                if OSR_EVERY_LOOP || methods.entry(func_id) != interp_entry {
                    // Compiled code exists (or the test mode asks for it):
                    // continue this activation there.
                    match on_stack_replace(ts, host, func_id, $target as u32, fp) {
                        Osr::NotNow => {}
                        Osr::Returned(result, done) => {
                            return_to_caller!(result, done);
                            continue;
                        }
                        Osr::Failed(error) => {
                            ts.truncate_frames(entry_depth);
                            return Err(error);
                        }
                    }
                }
            }
            ip = target;
        }};
    }
    macro_rules! return_to_caller {
        // The frame `$done` (already popped) returned `$result`.
        ($result:expr, $done:expr) => {{
            let result: u64 = $result;
            let done: FrameRecord = $done;
            if ts.frames.len() == entry_depth {
                return Ok(result);
            }
            let caller = *ts.frames.last().expect("checked above");
            enter!(caller);
            ip = unsafe { code.add(caller.pc as usize + 1) };
            if done.ret_dst != NO_RESULT {
                // SAFETY: as for `set!`: ret_dst is a verified register
                // operand of the caller's call instruction.
                unsafe { *fp.add(done.ret_dst as usize) = result };
            }
        }};
    }
    macro_rules! enter {
        // Switches the loop's cached state to the frame record `$f`.
        ($f:expr) => {{
            let f: FrameRecord = $f;
            func_id = f.func;
            func = module.func(f.func);
            code = func.code.as_ptr();
            consts = &func.consts;
            base = f.base;
            // SAFETY: as for the first frame.
            fp = unsafe { regs_start.add(base) };
            ts.position.enter(func_id.0 as usize, code as usize);
        }};
    }

    ts.position.enter(func_id.0 as usize, code as usize);
    loop {
        ts.position.at(ip as usize);
        let instr = unsafe { *ip };
        ip = unsafe { ip.add(1) };
        match instr {
            Instr::Mov { dst, src } => set!(dst, get!(src)),
            Instr::LoadInt { dst, imm } => set!(dst, imm as i64 as u64),
            Instr::LoadConstInt { dst, k } | Instr::LoadConstFloat { dst, k } => {
                set!(dst, consts[k as usize])
            }
            Instr::LoadBool { dst, imm } => set!(dst, (imm != 0) as u64),

            Instr::AddInt { dst, a, b } => set!(dst, int!(a).wrapping_add(int!(b)) as u64),
            Instr::AddIntImm { dst, a, imm } => set!(dst, int!(a).wrapping_add(imm as i64) as u64),
            Instr::SubInt { dst, a, b } => set!(dst, int!(a).wrapping_sub(int!(b)) as u64),
            Instr::MulInt { dst, a, b } => set!(dst, int!(a).wrapping_mul(int!(b)) as u64),
            Instr::DivInt { dst, a, b } => {
                let d = int!(b);
                if d == 0 {
                    trap!(Trap::DivisionByZero);
                }
                set!(dst, int!(a).wrapping_div(d) as u64)
            }
            Instr::RemInt { dst, a, b } => {
                let d = int!(b);
                if d == 0 {
                    trap!(Trap::DivisionByZero);
                }
                set!(dst, int!(a).wrapping_rem(d) as u64)
            }
            Instr::AndInt { dst, a, b } => set!(dst, get!(a) & get!(b)),
            Instr::OrInt { dst, a, b } => set!(dst, get!(a) | get!(b)),
            Instr::XorInt { dst, a, b } => set!(dst, get!(a) ^ get!(b)),
            Instr::ShlInt { dst, a, b } => set!(dst, int!(a).wrapping_shl(get!(b) as u32) as u64),
            Instr::ShrInt { dst, a, b } => set!(dst, int!(a).wrapping_shr(get!(b) as u32) as u64),
            Instr::NegInt { dst, a } => set!(dst, int!(a).wrapping_neg() as u64),
            Instr::NotInt { dst, a } => set!(dst, !get!(a)),
            Instr::AbsInt { dst, a } => set!(dst, int!(a).wrapping_abs() as u64),
            Instr::MinInt { dst, a, b } => set!(dst, int!(a).min(int!(b)) as u64),
            Instr::MaxInt { dst, a, b } => set!(dst, int!(a).max(int!(b)) as u64),

            Instr::AddFloat { dst, a, b } => set!(dst, (float!(a) + float!(b)).to_bits()),
            Instr::SubFloat { dst, a, b } => set!(dst, (float!(a) - float!(b)).to_bits()),
            Instr::MulFloat { dst, a, b } => set!(dst, (float!(a) * float!(b)).to_bits()),
            Instr::DivFloat { dst, a, b } => set!(dst, (float!(a) / float!(b)).to_bits()),
            Instr::NegFloat { dst, a } => set!(dst, get!(a) ^ (1 << 63)),
            Instr::AbsFloat { dst, a } => set!(dst, get!(a) & !(1 << 63)),
            Instr::SqrtFloat { dst, a } => set!(dst, float!(a).sqrt().to_bits()),
            Instr::MinFloat { dst, a, b } => set!(dst, float_min(float!(a), float!(b)).to_bits()),
            Instr::MaxFloat { dst, a, b } => set!(dst, float_max(float!(a), float!(b)).to_bits()),
            Instr::IntToFloat { dst, a } => set!(dst, (int!(a) as f64).to_bits()),
            Instr::FloatToInt { dst, a } => set!(dst, float!(a) as i64 as u64),

            Instr::EqInt { dst, a, b } => set!(dst, (get!(a) == get!(b)) as u64),
            Instr::NeInt { dst, a, b } => set!(dst, (get!(a) != get!(b)) as u64),
            Instr::LtInt { dst, a, b } => set!(dst, (int!(a) < int!(b)) as u64),
            Instr::LeInt { dst, a, b } => set!(dst, (int!(a) <= int!(b)) as u64),
            Instr::EqFloat { dst, a, b } => set!(dst, (float!(a) == float!(b)) as u64),
            Instr::NeFloat { dst, a, b } => set!(dst, (float!(a) != float!(b)) as u64),
            Instr::LtFloat { dst, a, b } => set!(dst, (float!(a) < float!(b)) as u64),
            Instr::LeFloat { dst, a, b } => set!(dst, (float!(a) <= float!(b)) as u64),
            Instr::EqBool { dst, a, b } => set!(dst, (get!(a) == get!(b)) as u64),
            Instr::NeBool { dst, a, b } => set!(dst, (get!(a) != get!(b)) as u64),
            Instr::NotBool { dst, a } => set!(dst, get!(a) ^ 1),

            Instr::Jump { target } => jump!(target),
            Instr::JumpIfTrue { cond, target } => {
                if get!(cond) != 0 {
                    jump!(target)
                }
            }
            Instr::JumpIfFalse { cond, target } => {
                if get!(cond) == 0 {
                    jump!(target)
                }
            }
            Instr::JumpEqInt { a, b, target } => {
                if get!(a) == get!(b) {
                    jump!(target)
                }
            }
            Instr::JumpNeInt { a, b, target } => {
                if get!(a) != get!(b) {
                    jump!(target)
                }
            }
            Instr::JumpLtInt { a, b, target } => {
                if int!(a) < int!(b) {
                    jump!(target)
                }
            }
            Instr::JumpLeInt { a, b, target } => {
                if int!(a) <= int!(b) {
                    jump!(target)
                }
            }
            Instr::JumpEqFloat { a, b, target } => {
                if float!(a) == float!(b) {
                    jump!(target)
                }
            }
            Instr::JumpNeFloat { a, b, target } => {
                if float!(a) != float!(b) {
                    jump!(target)
                }
            }
            Instr::JumpLtFloat { a, b, target } => {
                if float!(a) < float!(b) {
                    jump!(target)
                }
            }
            Instr::JumpLeFloat { a, b, target } => {
                if float!(a) <= float!(b) {
                    jump!(target)
                }
            }
            Instr::JumpNotLtFloat { a, b, target } => {
                if !(float!(a) < float!(b)) {
                    jump!(target)
                }
            }
            Instr::JumpNotLeFloat { a, b, target } => {
                if !(float!(a) <= float!(b)) {
                    jump!(target)
                }
            }
            Instr::JumpEqIntImm { a, imm, target } => {
                if int!(a) == imm as i64 {
                    jump!(target)
                }
            }
            Instr::JumpNeIntImm { a, imm, target } => {
                if int!(a) != imm as i64 {
                    jump!(target)
                }
            }
            Instr::JumpLtIntImm { a, imm, target } => {
                if int!(a) < imm as i64 {
                    jump!(target)
                }
            }
            Instr::JumpLeIntImm { a, imm, target } => {
                if int!(a) <= imm as i64 {
                    jump!(target)
                }
            }
            Instr::JumpGtIntImm { a, imm, target } => {
                if int!(a) > imm as i64 {
                    jump!(target)
                }
            }
            Instr::JumpGeIntImm { a, imm, target } => {
                if int!(a) >= imm as i64 {
                    jump!(target)
                }
            }

            Instr::NewIntArray { dst, init, len } | Instr::NewFloatArray { dst, init, len } => {
                match builtins::new_array(host, int!(len), get!(init)) {
                    Ok(array) => set!(dst, array),
                    Err(t) => trap!(t),
                }
            }
            Instr::ArrayLen { dst, arr } => set!(dst, array!(arr).len() as u64),
            Instr::LoadIntElem { dst, arr, idx } | Instr::LoadFloatElem { dst, arr, idx } => {
                match array!(arr).get(int!(idx)) {
                    Some(v) => set!(dst, v),
                    None => trap!(Trap::IndexOutOfBounds),
                }
            }
            Instr::StoreIntElem { arr, idx, val } | Instr::StoreFloatElem { arr, idx, val } => {
                if array!(arr).set(int!(idx), get!(val)).is_none() {
                    trap!(Trap::IndexOutOfBounds);
                }
            }
            Instr::AtomicAdd { dst, arr, idx, val } => {
                match array!(arr).fetch_add(int!(idx), int!(val)) {
                    Some(old) => set!(dst, old as u64),
                    None => trap!(Trap::IndexOutOfBounds),
                }
            }

            Instr::Call {
                func: callee,
                base: window,
                ..
            }
            | Instr::CallVoid {
                func: callee,
                base: window,
            } => {
                let ret_dst = match instr {
                    Instr::Call { dst, .. } => dst.0 as u32,
                    _ => NO_RESULT,
                };
                if interrupt.load(Ordering::Relaxed) {
                    trap!(Trap::Terminated);
                }
                ts.frames.last_mut().expect("a frame is running").pc = current_pc!();
                let entry = methods.entry(callee);
                let new_base = base + window.0 as usize;
                if entry != interp_entry {
                    let entry = methods.entry_for_call(callee, &ts.calling);
                    // SAFETY: every method-table slot holds an EntryFn (the
                    // table is only written through `MethodTable::install`),
                    // and the window lies in this frame (verified).
                    let result = unsafe {
                        let entry: EntryFn = std::mem::transmute::<usize, EntryFn>(entry);
                        entry(
                            ts as *mut ThreadState,
                            fp.add(window.0 as usize),
                            callee.0,
                            0,
                            0,
                        )
                    };
                    ts.calling.store(0, Ordering::Relaxed);
                    // The callee may have run the interpreter too.
                    ts.position.enter(func_id.0 as usize, code as usize);
                    if let Some(error) = ts.take_pending() {
                        ts.truncate_frames(entry_depth);
                        return Err(error);
                    }
                    if ret_dst != NO_RESULT {
                        // SAFETY: as for `set!`.
                        unsafe { *fp.add(ret_dst as usize) = result };
                    }
                    continue;
                }
                let record = FrameRecord::new(callee, new_base, ret_dst);
                if ts
                    .push_frame(record, module.func(callee).num_regs as usize)
                    .is_err()
                {
                    trap!(Trap::StackOverflow);
                }
                enter!(record);
                ip = code;
            }
            Instr::Return { .. } | Instr::ReturnVoid {} => {
                let result = match instr {
                    Instr::Return { src } => get!(src),
                    _ => 0,
                };
                let done = ts.pop_frame().expect("a frame is running");
                return_to_caller!(result, done);
            }
            Instr::Spawn {
                dst,
                func: callee,
                base: window,
            } => {
                let n = module.func(callee).params.len();
                let first = base + window.0 as usize;
                let args = ts.regs[first..first + n].to_vec();
                match builtins::spawn(ts, callee, args) {
                    Ok(handle) => set!(dst, handle as u64),
                    Err(t) => trap!(t),
                }
            }
            Instr::CallHost {
                host: id,
                base: window,
                ..
            }
            | Instr::CallHostVoid {
                host: id,
                base: window,
            } => {
                ts.frames.last_mut().expect("a frame is running").pc = current_pc!();
                let first = base + window.0 as usize;
                let n = module.host(id).params.len();
                let args = &ts.regs[first..first + n];
                match builtins::call_host(&*ts.host, &ts.host_fns, id, args, &mut ts.host_error) {
                    Ok(v) => {
                        if let Instr::CallHost { dst, .. } = instr {
                            set!(dst, v);
                        }
                    }
                    Err(t) => trap!(t),
                }
            }
            Instr::Join { dst, handle } => {
                ts.frames.last_mut().expect("a frame is running").pc = current_pc!();
                match builtins::join(ts, int!(handle)) {
                    Ok(v) => set!(dst, v as u64),
                    Err(t) => trap!(t),
                }
            }

            Instr::PrintInt { src } => builtins::print_int(ts, int!(src)),
            Instr::PrintFloat { src } => builtins::print_float(ts, float!(src)),
            Instr::PrintBool { src } => builtins::print_bool(ts, get!(src) != 0),
            Instr::PrintStr { s } => builtins::print_str(ts, s),
            Instr::Arg { dst, idx } => match builtins::program_arg(host.args(), int!(idx)) {
                Ok(v) => set!(dst, v as u64),
                Err(t) => trap!(t),
            },
            Instr::Argc { dst } => set!(dst, host.args().len() as u64),
            Instr::NowNs { dst } => set!(dst, builtins::now_ns() as u64),
        }
    }
}

#[cfg(test)]
mod tests;
