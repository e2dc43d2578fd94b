//! The tj front end: source text to verified-ready bytecode.
//!
//! ```text
//! bytes --lexer--> tokens --parser--> AST --checker--> typed AST --lower--> Module
//! ```
//!
//! Each stage reports [`Diagnostic`]s instead of failing at the first
//! problem; [`compile`] stops after the first stage that reported any.

pub mod ast;
pub mod checker;
pub mod diag;
pub mod lexer;
pub mod lower;
pub mod parser;

pub use diag::Diagnostic;
use tierjit_tiers::bytecode::Module;

/// Compiles tj source to a bytecode module, or gives every error found.
pub fn compile(source: &[u8]) -> Result<Module, Vec<Diagnostic>> {
    let (mut program, errors) = parser::parse(source);
    if !errors.is_empty() {
        return Err(errors);
    }
    let errors = checker::check(&mut program);
    if !errors.is_empty() {
        return Err(errors);
    }
    lower::lower(&program).map_err(|e| vec![e])
}
