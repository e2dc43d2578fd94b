//! tierjit: an embeddable, sample-driven tiered JIT for x86-64 Linux.
//!
//! A host hands tierjit a program as typed register bytecode (see
//! [`tierjit_tiers::bytecode`]), either built directly with the builder or
//! compiled from the tj language by [`lang::compile`], and runs it in a
//! [`runtime::Vm`]:
//!
//! ```text
//!  tj source ──lang──▶ bytecode Module ──verify──▶ Vm ──▶ threads
//!                                                   │
//!                  method table: one slot per function, one store to switch
//!                         │                              │
//!     tier 0: interpreter (every function starts)   tier 1: baseline x86-64
//!                         ▲                              ▲
//!   sampler (SIGPROF, per thread) ──▶ hotness ──▶ tier policy ──▶ compiler thread
//!                                                   (installs; retires old
//!                                                    code after a stack-walk
//!                                                    handshake)
//! ```
//!
//! Every call goes through the callee's method-table slot, so installing
//! code is one aligned store; baseline frames have the interpreter's
//! layout, so calls cross tiers freely and a running loop moves into
//! compiled code by on-stack replacement. The interpreter is the reference
//! semantics that the compiled tier is checked against. With
//! `TierMode::Auto` (the command's default) the sampling profiler decides
//! what gets compiled; see `docs/tiering.md`.
//!
//! ```
//! let module = tierjit::lang::compile(b"fn main() -> int { return 6 * 7; }").unwrap();
//! let vm = tierjit::runtime::Vm::new(module, Default::default()).unwrap();
//! assert_eq!(vm.run_main().unwrap(), Some(42));
//! ```

#![warn(missing_docs)]

pub mod backtrace;
/// Baseline machine code listed under its bytecode and source (`tierjit disasm`).
#[cfg(feature = "disasm")]
pub mod disasm;
/// Random tj programs and a differential-testing driver that checks the
/// tiers agree on them.
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod image;
pub mod lang;
pub mod runtime;

pub use runtime::host_functions::HostFunctions;
pub use tierjit_tiers as tiers;
pub use tierjit_tiers::HostError;
