//! Problems that do not stop a program, such as an output file that could
//! not be created or written (the perf map, the jitdump).
//!
//! The Vm reports each through the [`Warnings`] of its options and goes
//! on; by default a warning is one line on stderr, `tierjit: warning: ...`.
//! An embedder can send them elsewhere.

use std::io::Write;
use std::sync::Arc;

/// Where a Vm's warnings go.
#[derive(Clone)]
pub struct Warnings(Arc<dyn Fn(&str) + Send + Sync>);

impl Warnings {
    /// Warnings that go to `report`, one message (no newline) per call.
    /// It may be called from any thread.
    pub fn new(report: impl Fn(&str) + Send + Sync + 'static) -> Warnings {
        Warnings(Arc::new(report))
    }

    /// Warnings printed as `tierjit: warning: MESSAGE` lines on stderr.
    pub fn to_stderr() -> Warnings {
        Warnings::new(print_to_stderr)
    }

    /// Reports `message` (one line, no newline).
    pub fn warn(&self, message: &str) {
        (self.0)(message)
    }
}

impl Default for Warnings {
    fn default() -> Warnings {
        Warnings::to_stderr()
    }
}

impl std::fmt::Debug for Warnings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Warnings(..)")
    }
}

/// One `tierjit: warning:` line, written whole; a stderr that cannot be
/// written loses it.
pub fn print_to_stderr(message: &str) {
    let line = format!("tierjit: warning: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
