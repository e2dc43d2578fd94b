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
//!                        method table: one slot per function
//!                                                   │
//!                      tier 0: interpreter (every function starts here)
//! ```
//!
//! Every call goes through the callee's method-table slot, so installing
//! code from a later tier is one aligned store. Today every function runs
//! in tier 0, the interpreter, which is the reference semantics that later
//! tiers are checked against.
//!
//! ```
//! let module = tierjit::lang::compile(b"fn main() -> int { return 6 * 7; }").unwrap();
//! let vm = tierjit::runtime::Vm::new(module, Default::default()).unwrap();
//! assert_eq!(vm.run_main().unwrap(), Some(42));
//! ```

#![warn(missing_docs)]

pub mod backtrace;
/// Baseline machine code listed under its bytecode and source (`tierjit disasm`).
pub mod disasm;
/// Random tj programs and a differential-testing driver that checks the
/// tiers agree on them.
pub mod fuzz;
pub mod lang;
pub mod runtime;

pub use tierjit_tiers as tiers;
