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
use tierjit_tiers::bytecode::{HostImport, Module};

/// Compiles tj source to a bytecode module, or gives every error found.
pub fn compile(source: &[u8]) -> Result<Module, Vec<Diagnostic>> {
    compile_with_imports(source, &[])
}

/// [`compile`] for an embedding host: a call may also name one of the
/// host functions `imports` (`HostFunctions::imports`), which the module
/// then imports, all of them, in this order. A function of the program or
/// a builtin of the same name takes precedence.
pub fn compile_with_imports(
    source: &[u8],
    imports: &[HostImport],
) -> Result<Module, Vec<Diagnostic>> {
    let (mut program, errors) = parser::parse(source);
    if !errors.is_empty() {
        return Err(errors);
    }
    let errors = checker::check_with_imports(&mut program, imports);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut module = lower::lower(&program).map_err(|e| vec![e])?;
    module.hosts = imports.to_vec();
    Ok(module)
}
