//! Compile errors: `file:line:col: error: message`.

use super::ast::Pos;
use std::fmt;

/// One compile error at a source position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the error is.
    pub pos: Pos,
    /// What is wrong, lower case, no trailing period.
    pub message: String,
}

impl Diagnostic {
    /// A new error at `pos`.
    pub fn new(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos,
            message: message.into(),
        }
    }

    /// The line LANGUAGE.md prescribes, for the file at `path`.
    pub fn render(&self, path: &str) -> String {
        format!(
            "{}:{}:{}: error: {}",
            path, self.pos.line, self.pos.col, self.message
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: error: {}",
            self.pos.line, self.pos.col, self.message
        )
    }
}

/// At most this many errors are reported for one file; the rest are
/// summarised in one line, so that garbage input cannot flood the terminal.
pub const MAX_DIAGNOSTICS: usize = 50;
