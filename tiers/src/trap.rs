//! Runtime errors: what can go wrong while tj code runs ([`Trap`]) and
//! the error a thread ends with ([`RuntimeError`]).
//!
//! A leaf module: it needs only [`FuncId`], so the ABI (`abi.rs`, which
//! numbers traps for generated code) and every tier can use it without
//! depending on the execution machinery in `exec.rs`.

use crate::bytecode::FuncId;
use std::fmt;

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
    /// A host function gave an error ([`RuntimeError::detail`] has it).
    Host,
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
            Trap::Host => "host function failed",
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
    /// What to say instead of the trap's own message: for [`Trap::Host`],
    /// the host function's name and its message.
    pub detail: Option<String>,
}

impl RuntimeError {
    /// An error with no detail.
    pub fn new(trap: Trap, frames: Vec<(FuncId, u32)>) -> RuntimeError {
        RuntimeError {
            trap,
            frames,
            detail: None,
        }
    }

    /// The MESSAGE of `runtime error: MESSAGE`: the trap's, or for a host
    /// function's error, its detail.
    pub fn message(&self) -> &str {
        self.detail.as_deref().unwrap_or(self.trap.message())
    }
}

/// `runtime error: MESSAGE` (the frames are `(function id, pc)` pairs,
/// which only the module can name: `tierjit::backtrace::render` does).
impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "runtime error: {}", self.message())
    }
}

impl std::error::Error for RuntimeError {}
