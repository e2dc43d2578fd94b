//! What every tier needs from the runtime, and what a running thread owns.
//!
//! The tiers crate does not own threads, output or process-wide policy: the
//! host (the `tierjit` runtime) does, behind the [`Host`] trait. A thread
//! running tj code owns a [`ThreadState`]: its register stack (every frame's
//! registers, callee windows overlapping caller windows), its frame records
//! (function and pc of every active call, innermost last: the backtrace and,
//! later, the profiler read them), and its output buffer.
//!
//! Calls go through the [`MethodTable`]: one slot per function holding the
//! address of the code to run. A slot holding [`interpreter_entry`] means
//! "interpret"; installing compiled code is one aligned store of its
//! address into the slot.

use crate::bytecode::{FuncId, Module};
use crate::heap::Heap;
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The runtime errors of LANGUAGE.md, plus `Terminated`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// `x / 0` or `x % 0`.
    DivisionByZero,
    /// An array index outside `0..len`.
    IndexOutOfBounds,
    /// `[v; n]` with `n < 0`.
    NegativeArrayLength,
    /// Recursion deeper than the runtime allows.
    StackOverflow,
    /// `arg(i)` with a missing or non-integer argument.
    BadArgument,
    /// `join` of a bad, already joined or own handle.
    BadThreadHandle,
    /// An array too large to allocate.
    OutOfMemory,
    /// Not an error of this thread: another thread's runtime error is ending
    /// the program, and this thread stopped at a safe point.
    Terminated,
}

impl Trap {
    /// The MESSAGE of LANGUAGE.md's `runtime error: MESSAGE`.
    pub fn message(self) -> &'static str {
        match self {
            Trap::DivisionByZero => "division by zero",
            Trap::IndexOutOfBounds => "index out of bounds",
            Trap::NegativeArrayLength => "negative array length",
            Trap::StackOverflow => "stack overflow",
            Trap::BadArgument => "bad argument",
            Trap::BadThreadHandle => "bad thread handle",
            Trap::OutOfMemory => "out of memory",
            Trap::Terminated => "terminated by another thread's runtime error",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A runtime error with the stack it happened on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError {
    /// What went wrong.
    pub trap: Trap,
    /// `(function, pc)` of every active frame, innermost first; a caller's
    /// pc is that of its call instruction.
    pub frames: Vec<(FuncId, u32)>,
}

/// How much stack a thread may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most nested calls (frames) a thread may have.
    pub max_frames: usize,
    /// Size of each thread's register stack, in 64-bit slots.
    pub register_slots: usize,
}

impl Default for Limits {
    /// 1,000,000 frames and 16 Mi register slots (128 MiB of address space
    /// per thread, touched only as deep as the program recurses).
    fn default() -> Limits {
        Limits {
            max_frames: 1_000_000,
            register_slots: 16 << 20,
        }
    }
}

/// The services a host runtime gives to running code.
pub trait Host: Send + Sync {
    /// The program.
    fn module(&self) -> &Module;
    /// Where each function's code is.
    fn method_table(&self) -> &MethodTable;
    /// Where arrays are allocated.
    fn heap(&self) -> &Heap;
    /// The program's command-line arguments.
    fn args(&self) -> &[String];
    /// True if every line should be written out as soon as it is complete.
    fn line_buffered(&self) -> bool;
    /// Writes whole lines from a thread's buffer to stdout (as one piece,
    /// never interleaved with another thread's lines) and clears it.
    fn write_output(&self, lines: &mut Vec<u8>);
    /// Starts `func(args)` on a new thread; gives its handle.
    fn spawn(&self, func: FuncId, args: Vec<u64>) -> Result<i64, Trap>;
    /// Waits for thread `handle` and gives its result. `caller` is the
    /// joining thread's own handle (joining oneself is an error).
    fn join(&self, caller: i64, handle: i64) -> Result<i64, Trap>;
}

/// One active call.
#[derive(Clone, Copy, Debug)]
pub struct FrameRecord {
    /// The function running in this frame.
    pub func: FuncId,
    /// The pc being executed: for a caller, its call instruction.
    pub pc: u32,
    /// Index of the frame's register 0 in the register stack.
    pub base: usize,
    /// Where the caller wants the result (`NO_RESULT` if nowhere).
    pub ret_dst: u32,
}

/// `FrameRecord::ret_dst` of a call whose result is dropped.
pub const NO_RESULT: u32 = u32::MAX;

/// Everything a thread running tj code owns.
pub struct ThreadState {
    /// The runtime.
    pub host: Arc<dyn Host>,
    /// This thread's handle (0 for the main thread).
    pub handle: i64,
    /// The register stack.
    pub regs: Box<[u64]>,
    /// Active calls, outermost first.
    pub frames: Vec<FrameRecord>,
    /// The most frames allowed.
    pub max_frames: usize,
    /// Set when the thread must stop at its next safe point.
    pub interrupt: Arc<AtomicBool>,
    /// Printed lines not yet written out (whole lines only).
    pub out: Arc<Mutex<Vec<u8>>>,
    /// A runtime error raised below a method-table call, for the caller to
    /// pick up when the call returns.
    pub pending: Option<RuntimeError>,
}

impl ThreadState {
    /// A thread state with empty stacks.
    pub fn new(
        host: Arc<dyn Host>,
        handle: i64,
        limits: Limits,
        interrupt: Arc<AtomicBool>,
        out: Arc<Mutex<Vec<u8>>>,
    ) -> ThreadState {
        ThreadState {
            host,
            handle,
            // A zeroed allocation this large comes straight from mmap: pages
            // cost nothing until a deep recursion touches them.
            regs: vec![0u64; limits.register_slots.max(1)].into_boxed_slice(),
            frames: Vec::with_capacity(limits.max_frames.min(1 << 16)),
            max_frames: limits.max_frames,
            interrupt,
            out,
            pending: None,
        }
    }

    /// The error `trap` with this thread's backtrace, innermost first.
    pub fn error(&self, trap: Trap) -> RuntimeError {
        RuntimeError {
            trap,
            frames: self.frames.iter().rev().map(|f| (f.func, f.pc)).collect(),
        }
    }
}

/// The signature of every method-table entry: run function `func` with its
/// frame (arguments in its first registers) at `frame`, and give the result
/// bits. A runtime error is left in the thread's pending state; see
/// `interp::interpreter_entry`.
///
/// # Safety
/// Callers pass the calling thread's own live `ThreadState` and a frame
/// inside its register stack whose first registers hold the arguments.
pub type EntryFn =
    unsafe extern "sysv64" fn(ts: *mut ThreadState, frame: *mut u64, func: u32) -> u64;

/// One slot per function: the address of the code that runs it.
pub struct MethodTable {
    slots: Box<[AtomicUsize]>,
}

impl MethodTable {
    /// A table of `n` slots, each set to `entry`.
    pub fn new(n: usize, entry: EntryFn) -> MethodTable {
        MethodTable {
            slots: (0..n).map(|_| AtomicUsize::new(entry as usize)).collect(),
        }
    }

    /// The code address for `func`.
    #[inline(always)]
    pub fn entry(&self, func: FuncId) -> usize {
        self.slots[func.index()].load(Ordering::Acquire)
    }

    /// Installs new code for `func`: one aligned 8-byte store.
    pub fn install(&self, func: FuncId, entry: EntryFn) {
        self.slots[func.index()].store(entry as usize, Ordering::Release);
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
