//! The contract between generated code and the runtime.
//!
//! Read `docs/abi.md` for the prose; this module holds the numbers.
//!
//! - **Context register.** Generated code keeps `r15` pointing at the
//!   thread's [`JitContext`], which is the first field of its
//!   [`ThreadState`](crate::exec::ThreadState) (so one pointer serves both).
//!   Everything external is reached through it: the method table, the
//!   helper table, the interrupt flag, the frame-depth counter and the
//!   register-stack limit. Generated code holds no absolute address.
//! - **Frame register.** `rbx` points at register 0 of the current tj frame
//!   in the thread's register stack; `R[i]` is `[rbx + 8*i]`.
//! - **Entry convention** ([`EntryFn`](crate::exec::EntryFn), SysV):
//!   `rdi` = context, `rsi` = callee frame (its window in the caller's
//!   frame), `edx` = callee's function id, `rcx` = the caller's return
//!   address and `r8` = its `rbp` if the caller is generated code (0 if it is
//!   the interpreter); result bits in `rax`. Every call, in any tier, goes
//!   through `call [methods + 8*id]`.
//! - **Frames.** Generated code keeps the `rbp` chain: `push rbp; mov rbp,
//!   rsp; push rbx; push r15`. A native pc maps back to its chain of
//!   bytecode frames (inlined ones included) through the blob's pc map
//!   ([`crate::code`]); a caller is found from `[rbp + 8]`.
//! - **Runtime errors** unwind by return: the trap helper records the error
//!   (with the backtrace) and sets [`JitContext::pending`]; every function
//!   checks `pending` after each call and returns at once if it is set.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize};

/// The part of a thread's state that generated code reads, at fixed offsets.
#[repr(C)]
#[derive(Debug)]
pub struct JitContext {
    /// Base of the method table: slot `i` holds function `i`'s entry.
    pub methods: *const AtomicUsize,
    /// Base of the helper table ([`crate::helpers::HELPERS`]).
    pub helpers: *const usize,
    /// Raised when the thread must stop at its next safe point.
    pub interrupt: *const AtomicBool,
    /// Non-zero while a runtime error unwinds the native frames.
    pub pending: u64,
    /// Active tj frames on this thread, in every tier.
    pub depth: u64,
    /// The most frames allowed: a call beyond it is `stack overflow`.
    pub max_depth: u64,
    /// One past the last slot of the register stack.
    pub regs_end: *mut u64,
    /// The lowest `rsp` generated code may run with (native stack guard).
    pub stack_limit: usize,
    /// While generated code is inside a runtime helper: the return address
    /// into it (0 otherwise), so stack walkers can find its frames.
    pub helper_pc: usize,
    /// ... and that code's `rbp`.
    pub helper_fp: usize,
    /// Base of the per-function OSR flags
    /// ([`crate::exec::MethodTable::osr_flags`]): baseline code tests its
    /// function's byte at every loop header.
    pub osr_flags: *const AtomicU8,
}

/// Offset of [`JitContext::methods`].
pub const CTX_METHODS: i32 = 0;
/// Offset of [`JitContext::helpers`].
pub const CTX_HELPERS: i32 = 8;
/// Offset of [`JitContext::interrupt`].
pub const CTX_INTERRUPT: i32 = 16;
/// Offset of [`JitContext::pending`].
pub const CTX_PENDING: i32 = 24;
/// Offset of [`JitContext::depth`].
pub const CTX_DEPTH: i32 = 32;
/// Offset of [`JitContext::max_depth`].
pub const CTX_MAX_DEPTH: i32 = 40;
/// Offset of [`JitContext::regs_end`].
pub const CTX_REGS_END: i32 = 48;
/// Offset of [`JitContext::stack_limit`].
pub const CTX_STACK_LIMIT: i32 = 56;
/// Offset of [`JitContext::helper_pc`].
pub const CTX_HELPER_PC: i32 = 64;
/// Offset of [`JitContext::helper_fp`].
pub const CTX_HELPER_FP: i32 = 72;
/// Offset of [`JitContext::osr_flags`].
pub const CTX_OSR_FLAGS: i32 = 80;

/// Bytes generated code needs below `stack_limit` to call any helper
/// (helpers run on the same native stack).
pub const HELPER_STACK_RESERVE: usize = 64 * 1024;

/// Index of each runtime helper in the helper table. A helper is called as
/// `mov rax, [r15 + CTX_HELPERS]; call [rax + 8*index]` with the context in
/// `rdi`. Fallible helpers return a [`HelperResult`] (`rax` = value,
/// `rdx` = trap code, 0 for none).
#[repr(usize)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Helper {
    /// `trap(ctx, code, func, pc, fp)`: records a runtime error whose
    /// innermost frame is (`func`, `pc`) with native frame pointer `fp`
    /// (`func = u32::MAX`: no own frame, the error belongs to the caller
    /// found from `fp`, as for a stack overflow found in a prologue).
    Trap,
    /// `new_array(ctx, len, init) -> HelperResult`.
    NewArray,
    /// `spawn(ctx, func, args) -> HelperResult`: args points at the window.
    Spawn,
    /// `join(ctx, handle) -> HelperResult`.
    Join,
    /// `print_int(ctx, value)`.
    PrintInt,
    /// `print_float(ctx, bits)`.
    PrintFloat,
    /// `print_bool(ctx, value)`.
    PrintBool,
    /// `print_str(ctx, string index)`.
    PrintStr,
    /// `arg(ctx, index) -> HelperResult`.
    Arg,
    /// `argc(ctx) -> value`.
    Argc,
    /// `now_ns(ctx) -> value`.
    NowNs,
    /// `osr_poll(ctx, func, pc) -> entry`: baseline code at loop header
    /// `pc` of `func` whose OSR flag is set asks for optimized code to
    /// continue in (0: none yet; [`crate::exec::Host::optimized_osr_entry`]).
    OsrPoll,
    /// `call_host(ctx, host, args) -> HelperResult`: host import `host`
    /// with its arguments in the window `args` points at.
    CallHost,
}

/// The trap helper's `func` argument that means "the frames are those the
/// pc map names at the trap stub's helper call" (optimized code, whose
/// stubs may stand for inlined frames).
pub const TRAP_FRAMES_FROM_PC: u32 = u32::MAX - 1;

/// Number of helpers.
pub const HELPER_COUNT: usize = Helper::CallHost as usize + 1;

/// Two-register result of a fallible helper: `rax` = value, `rdx` = trap.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperResult {
    /// The result bits.
    pub value: u64,
    /// 0, or a [`trap_code`] of the runtime error.
    pub trap: u64,
}

/// The codes by which generated code names runtime errors.
pub mod trap_code {
    use crate::trap::Trap;

    /// The code of `trap` (never 0).
    pub fn of(trap: Trap) -> u32 {
        trap as u32 + 1
    }

    /// The trap with code `code`, if any.
    pub fn to_trap(code: u64) -> Option<Trap> {
        const ALL: [Trap; 9] = [
            Trap::DivisionByZero,
            Trap::IndexOutOfBounds,
            Trap::NegativeArrayLength,
            Trap::StackOverflow,
            Trap::BadArgument,
            Trap::BadThreadHandle,
            Trap::OutOfMemory,
            Trap::Host,
            Trap::Terminated,
        ];
        ALL.iter().copied().find(|&t| u64::from(of(t)) == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn offsets_match_the_struct() {
        assert_eq!(offset_of!(JitContext, methods), CTX_METHODS as usize);
        assert_eq!(offset_of!(JitContext, helpers), CTX_HELPERS as usize);
        assert_eq!(offset_of!(JitContext, interrupt), CTX_INTERRUPT as usize);
        assert_eq!(offset_of!(JitContext, pending), CTX_PENDING as usize);
        assert_eq!(offset_of!(JitContext, depth), CTX_DEPTH as usize);
        assert_eq!(offset_of!(JitContext, max_depth), CTX_MAX_DEPTH as usize);
        assert_eq!(offset_of!(JitContext, regs_end), CTX_REGS_END as usize);
        assert_eq!(
            offset_of!(JitContext, stack_limit),
            CTX_STACK_LIMIT as usize
        );
        assert_eq!(offset_of!(JitContext, helper_pc), CTX_HELPER_PC as usize);
        assert_eq!(offset_of!(JitContext, helper_fp), CTX_HELPER_FP as usize);
        assert_eq!(offset_of!(JitContext, osr_flags), CTX_OSR_FLAGS as usize);
    }

    #[test]
    fn trap_codes_round_trip() {
        use crate::trap::Trap;
        for t in [Trap::DivisionByZero, Trap::Terminated, Trap::OutOfMemory] {
            assert_eq!(trap_code::to_trap(trap_code::of(t) as u64), Some(t));
        }
        assert_eq!(trap_code::to_trap(0), None);
    }
}
