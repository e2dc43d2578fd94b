//! `tierjit-tiers`: the typed register bytecode and the tiers that run it.
//!
//! - [`bytecode`]: the opcode table, modules, builder, verifier, text form;
//! - [`interp`]: tier 0, the interpreter, the reference for every tier;
//! - [`exec`]: what running code needs from the host runtime, per-thread
//!   state, the method table;
//! - [`heap`]: tj arrays.
//!
//! The crate is pure with respect to process policy: it never exits, never
//! prints to stderr and owns no threads; the host does.

#![warn(missing_docs)]

pub mod bytecode;
pub mod exec;
pub mod heap;
pub mod interp;
mod types;

pub use types::Type;
