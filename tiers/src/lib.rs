//! `tierjit-tiers`: the typed register bytecode and the tiers that run it.
//!
//! - [`bytecode`]: the opcode table, modules, builder, verifier, text form;
//! - [`interp`]: tier 0, the interpreter, the reference for every tier;
//! - [`baseline`]: tier 1, the single-pass x86-64 compiler;
//! - [`code`]: what every compiler produces ([`code::CompiledCode`]) and
//!   the [`code::Tier`] type;
//! - [`opt`]: tier 2, the optimizing compiler;
//! - [`exec`]: what running code needs from the host runtime, per-thread
//!   state, the method table;
//! - [`host_fn`]: functions of the host that bytecode calls;
//! - [`heap`]: tj arrays;
//! - [`stacks`]: memory for register stacks, frame records and native
//!   stacks;
//! - [`abi`]: the contract between generated code and the runtime;
//! - [`trap`]: runtime errors ([`Trap`], [`RuntimeError`]);
//! - [`x64`]: the x86-64 assembler every compiler emits through, and the
//!   instruction sequences all generated code shares with the runtime;
//! - [`builtins`] and [`helpers`]: the builtins every tier shares.
//!
//! The crate is pure with respect to process policy: it never exits, never
//! prints to stderr and owns no threads; the host does.

#![warn(missing_docs)]

pub mod abi;
pub mod baseline;
pub mod builtins;
pub mod bytecode;
pub mod code;
pub mod exec;
pub mod heap;
pub mod helpers;
pub mod host_fn;
pub mod interp;
pub mod opt;
pub mod stacks;
pub mod trap;
mod types;
pub mod x64;

pub use host_fn::{HostError, HostFn};
pub use trap::{RuntimeError, Trap};
pub use types::Type;
