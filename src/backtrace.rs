//! Printing runtime errors the way LANGUAGE.md specifies.
//!
//! ```text
//! runtime error: MESSAGE
//!   at FUNCTION (path/to/file.tj:LINE)
//!   at CALLER (path/to/file.tj:LINE)
//! ```
//!
//! Innermost frame first. A backtrace of more than 64 frames shows the 32
//! innermost and the 32 outermost frames with one line between them:
//! `  ... N frames left out ...`.

use std::fmt::Write;
use tierjit_tiers::bytecode::Module;
use tierjit_tiers::trap::RuntimeError;

/// Frames shown at each end of a long backtrace.
const SHOWN_AT_EACH_END: usize = 32;

/// The full text of a runtime error, for the source file at `path`.
pub fn render(error: &RuntimeError, module: &Module, path: &str) -> String {
    let mut out = format!("runtime error: {}\n", error.message());
    let frames = &error.frames;
    let frame_line = |out: &mut String, &(func, pc): &(tierjit_tiers::bytecode::FuncId, u32)| {
        let f = module.func(func);
        let _ = writeln!(out, "  at {} ({}:{})", f.name, path, f.lines.line(pc));
    };
    if frames.len() <= 2 * SHOWN_AT_EACH_END {
        frames.iter().for_each(|f| frame_line(&mut out, f));
    } else {
        frames[..SHOWN_AT_EACH_END]
            .iter()
            .for_each(|f| frame_line(&mut out, f));
        let left_out = frames.len() - 2 * SHOWN_AT_EACH_END;
        let _ = writeln!(out, "  ... {left_out} frames left out ...");
        frames[frames.len() - SHOWN_AT_EACH_END..]
            .iter()
            .for_each(|f| frame_line(&mut out, f));
    }
    out
}
