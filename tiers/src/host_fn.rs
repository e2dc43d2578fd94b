//! Functions of the host that bytecode calls (`call.h`, `call.hv`).
//!
//! A module names what it imports ([`crate::bytecode::HostImport`]); the
//! host gives each import an implementation, a [`HostFn`], when it starts
//! the program, and [`crate::exec::Host::host_functions`] hands the table
//! of them, in import order, to every thread
//! ([`crate::exec::ThreadState::host_fns`]). Every tier calls one the same
//! way, through
//! [`crate::builtins::call_host`]: with the arguments' raw bits, on the
//! calling thread, while the calling frame is recorded so that a
//! backtrace, the sampler and the retirer's stack walk see the call.
//!
//! A host function must not call back into the program's runtime (it has
//! no thread state to run tj code with), and should not block for long
//! without reason: a thread inside one still answers the retirer's stack
//! walks (signals interrupt and restart its system calls), but stopping
//! the program waits for it to return.

use std::fmt;

/// The error a host function gives: tj code sees it as a runtime error,
/// `runtime error: host function 'NAME': MESSAGE`, with a backtrace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    message: String,
}

impl HostError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> HostError {
        HostError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

impl From<String> for HostError {
    fn from(message: String) -> HostError {
        HostError::new(message)
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> HostError {
        HostError::new(message)
    }
}

/// A host function as every tier calls it: the arguments' raw bits in,
/// the result's raw bits out (an `int` as `i64` bits, a `float` as `f64`
/// bits, a `bool` as 0 or 1; 0 for none). The import's signature, which
/// the verifier checked every call against, says which is which.
pub type HostFn = dyn Fn(&[u64]) -> Result<u64, HostError> + Send + Sync;

/// A module's host import linked to its implementation.
#[derive(Clone)]
pub struct LinkedHostFn {
    /// The implementation.
    pub f: std::sync::Arc<HostFn>,
    /// The number of parameters of the import.
    pub arity: usize,
}
