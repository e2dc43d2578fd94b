//! Tier 2, the optimizing compiler (being built).
//!
//! - [`ir`]: the SSA IR (blocks with parameters), its text form, parser and
//!   verifier;
//! - [`build`]: SSA construction from verified bytecode.

pub mod build;
pub mod ir;
