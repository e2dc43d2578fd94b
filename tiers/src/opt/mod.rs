//! Tier 2: the optimizing compiler.
//!
//! ```text
//!  verified bytecode
//!        │ build.rs        SSA with block parameters (Braun et al.)
//!        ▼
//!     IR (ir/)  ──▶ passes, one after another (PASSES, below); the
//!        │          verifier runs after each in debug builds and tests
//!        │ lower.rs        machine instructions over virtual registers,
//!        ▼                 x86 operand constraints, split critical edges
//!     VCode ──▶ regalloc2 (Ion) ──▶ allocation (+ its checker in tests)
//!        │ emit.rs         x86-64 through the shared assembler (x64.rs)
//!        ▼
//!  CompiledCode { code, pc map with inline chains, OSR entry, .. }
//! ```
//!
//! A pure function, like the baseline compiler: bytecode in, code out; the
//! runtime places and installs it. tj is statically typed, so nothing is
//! speculated and there is no deoptimization: what a pass assumes, it
//! proves. What every pass keeps exact (LANGUAGE.md): integer wrapping,
//! float rounding per operation (no reassociation, no fused multiply-add),
//! and runtime errors: an instruction that may trap never runs earlier,
//! more often, or with other operands than the bytecode says, and its
//! location keeps the interpreter's backtrace, inlined frames included.
//!
//! Code compiled for on-stack replacement ([`Options::osr_pc`]) is entered
//! at a loop header with the activation's frame: its entry loads the
//! registers live there from the frame (the frame layout is every tier's).

pub mod analysis;
pub mod bce;
pub mod build;
pub mod dce;
pub mod emit;
pub mod fold;
pub mod gvn;
pub mod inline;
pub mod ir;
pub mod layout;
pub mod licm;
pub mod lower;
pub mod rce;
pub mod remat;
pub mod split;
pub mod strength;
pub mod strip;
pub mod vcode;

use crate::bytecode::{FuncId, Module};
use crate::code::CompiledCode;
use ir::Func;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Why a function was not compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptError(pub String);

impl std::fmt::Display for OptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "optimizing compilation failed: {}", self.0)
    }
}

impl std::error::Error for OptError {}

/// Lowered functions with more machine instructions than this are
/// allocated with regalloc2's fast (linear) allocator instead of Ion.
pub const FAST_ALLOCATOR_ABOVE: usize = 20_000;

thread_local! {
    /// regalloc2's working memory, kept between compilations on a thread.
    static REGALLOC_CTX: std::cell::RefCell<regalloc2::Ctx> = Default::default();
}

/// The allocatable registers, made once.
fn machine_env() -> &'static regalloc2::MachineEnv {
    static ENV: std::sync::OnceLock<regalloc2::MachineEnv> = std::sync::OnceLock::new();
    ENV.get_or_init(vcode::machine_env)
}

/// Functions with more bytecode instructions than this stay in the
/// baseline tier: compile time must stay bounded (see docs/opt.md).
pub const MAX_BYTECODE_INSTRUCTIONS: usize = 200_000;

/// How to compile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Compile for entry at this loop header (on-stack replacement)
    /// instead of the function's start.
    pub osr_pc: Option<u32>,
    /// Verify the IR after every pass (default: in debug builds).
    pub verify: Option<bool>,
    /// Run regalloc2's checker on the allocation.
    pub check_allocation: bool,
    /// Print the IR after the pass of this name (`build` for the IR as
    /// built; `all` for after `build` and after every pass that runs)
    /// into [`Report::dumps`].
    pub dump_after: Option<String>,
    /// Run only the passes named here (`None`: every pass), for
    /// bisecting a miscompilation.
    pub passes: Option<Vec<String>>,
    /// Recent CPU time below each call site (nanoseconds of samples whose
    /// stack holds the call), by (function, call pc): the inliner takes
    /// hot call sites first and inlines larger callees there.
    pub call_heat: HashMap<(FuncId, u32), u64>,
    /// Recent CPU time at each instruction (nanoseconds of samples whose
    /// innermost frame was there, in any tier), by (function, pc): block
    /// layout puts the hot successor of a branch next and moves blocks
    /// without samples after the hot code. Empty: no profile, and the
    /// layout is the static one.
    pub pc_heat: HashMap<(FuncId, u32), u64>,
    /// Call other functions through their method-table slots, as baseline
    /// code does, instead of with direct `call rel32`s that the runtime
    /// patches ([`CompiledCode::call_sites`]); for measuring the two.
    pub slot_calls: bool,
}

/// What a compilation measured and printed on request.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Time of each stage, in order (`build`, each pass, `lower`,
    /// `regalloc`, `emit`).
    pub times: Vec<(&'static str, Duration)>,
    /// IR text requested with [`Options::dump_after`].
    pub dumps: Vec<String>,
}

/// What a pass may read besides the function.
pub struct PassContext<'a> {
    /// The module the function is in.
    pub module: &'a Module,
    /// Recent CPU time below call sites, by (function, call pc)
    /// ([`Options::call_heat`]).
    pub call_heat: &'a HashMap<(FuncId, u32), u64>,
    /// Recent CPU time at instructions, by (function, pc)
    /// ([`Options::pc_heat`]).
    pub pc_heat: &'a HashMap<(FuncId, u32), u64>,
}

impl PassContext<'_> {
    /// Recent CPU time below the call at `pc` of `func`, in nanoseconds
    /// (0 without a profile).
    pub fn call_heat(&self, func: FuncId, pc: u32) -> u64 {
        self.call_heat.get(&(func, pc)).copied().unwrap_or(0)
    }

    /// Recent CPU time at the instruction at `pc` of `func` itself, in
    /// nanoseconds (0 without a profile).
    pub fn pc_heat(&self, func: FuncId, pc: u32) -> u64 {
        self.pc_heat.get(&(func, pc)).copied().unwrap_or(0)
    }

    /// True if the profile saw the call at `pc` of `func` running.
    pub fn is_hot_call(&self, func: FuncId, pc: u32) -> bool {
        self.call_heat(func, pc) > 0
    }
}

/// One optimization pass.
pub struct Pass {
    /// Its name, for `--dump` and `--time-passes`.
    pub name: &'static str,
    /// Runs it.
    pub run: fn(&mut Func, &PassContext),
}

/// The passes, in the order they run. Each entry says why it is where it
/// is (docs/opt.md has the long form).
pub const PASSES: &[Pass] = &[
    // First: an inlined body meets its arguments, often constants, and
    // everything below sees through the call.
    Pass {
        name: "inline",
        run: inline::inline_calls,
    },
    // Constants from inlining and the bytecode; branches on them go.
    Pass {
        name: "fold",
        run: fold::fold_constants,
    },
    // Division by constants becomes pure shifts (so GVN and LICM may
    // treat it as arithmetic).
    Pass {
        name: "strength",
        run: strength::reduce_strength,
    },
    // One name per computed value: `len(a)` computed in several places
    // becomes one value, which bounds-check elimination relies on.
    Pass {
        name: "gvn",
        run: gvn::number_values,
    },
    // Invariant arithmetic and lengths leave loops (makes preheaders).
    Pass {
        name: "licm",
        run: licm::hoist_loop_invariants,
    },
    // Needs GVN's single `len(a)` and the loops as LICM left them.
    Pass {
        name: "bce",
        run: bce::eliminate_bounds_checks,
    },
    // After BCE (what it proves needs no copy), before strip mining
    // (which rewrites the loop tests this reads): a counted loop whose
    // checks a guard before it can prove runs without them when it holds.
    Pass {
        name: "rce",
        run: rce::eliminate_range_checks,
    },
    // After BCE and RCE, which read the loop tests this rewrites: tight
    // counted loops poll once per strip of iterations.
    Pass {
        name: "strip",
        run: strip::strip_mine_loops,
    },
    // What the passes above left unused.
    Pass {
        name: "dce",
        run: dce::eliminate_dead_code,
    },
    // After every pass that merges (GVN) or hoists (LICM) constants:
    // each block gets its own, so none holds a register across a loop.
    Pass {
        name: "remat",
        run: remat::rematerialize_constants,
    },
    // After every pass that propagates copies: a loop's parameters get
    // bundles of their own in register allocation.
    Pass {
        name: "split",
        run: split::copy_loop_entry_args,
    },
    // Last: the order of blocks is only about emission.
    Pass {
        name: "layout",
        run: layout::lay_out_blocks,
    },
];

/// The pass named `name` in [`PASSES`].
pub fn pass_by_name(name: &str) -> Option<&'static Pass> {
    PASSES.iter().find(|p| p.name == name)
}

/// The names of every stage that `--dump` and `--time-passes` know.
pub fn stage_names() -> Vec<&'static str> {
    let mut names = vec!["build"];
    names.extend(PASSES.iter().map(|p| p.name));
    names.extend(["lower", "regalloc", "emit"]);
    names
}

/// Compiles function `func` of a verified module.
pub fn compile(module: &Module, func: FuncId, options: &Options) -> Result<CompiledCode, OptError> {
    compile_with_report(module, func, options, &mut Report::default())
}

/// [`compile`], recording times and dumps in `report`.
pub fn compile_with_report(
    module: &Module,
    func: FuncId,
    options: &Options,
    report: &mut Report,
) -> Result<CompiledCode, OptError> {
    let size = module.func(func).code.len();
    if size > MAX_BYTECODE_INSTRUCTIONS {
        return Err(OptError(format!(
            "{size} bytecode instructions is over the optimizer's budget of {MAX_BYTECODE_INSTRUCTIONS}"
        )));
    }
    let verify = options.verify.unwrap_or(cfg!(debug_assertions));
    let mut clock = Instant::now();
    let mut lap = |report: &mut Report, name: &'static str| {
        let now = Instant::now();
        report.times.push((name, now - clock));
        clock = now;
    };
    let mut f = build::build(module, func, options.osr_pc).map_err(|e| OptError(e.0))?;
    lap(report, "build");
    check(&f, "build", verify, options, report)?;
    let cx = PassContext {
        module,
        call_heat: &options.call_heat,
        pc_heat: &options.pc_heat,
    };
    for pass in PASSES {
        if let Some(only) = &options.passes {
            if !only.iter().any(|p| p == pass.name) {
                continue;
            }
        }
        (pass.run)(&mut f, &cx);
        lap(report, pass.name);
        check(&f, pass.name, verify, options, report)?;
    }
    let vcode = lower::lower(&f);
    lap(report, "lower");
    let env = machine_env();
    // Ion allocates well but its time grows faster than linearly with
    // the live values of huge functions; the fast allocator is linear.
    let algorithm = if vcode.insts.len() > FAST_ALLOCATOR_ABOVE {
        regalloc2::Algorithm::Fastalloc
    } else {
        regalloc2::Algorithm::Ion
    };
    let ra_options = regalloc2::RegallocOptions {
        verbose_log: false,
        validate_ssa: verify,
        algorithm,
    };
    let regs = REGALLOC_CTX.with(|cx| {
        let mut cx = cx.borrow_mut();
        regalloc2::run_with_ctx(&vcode, env, &ra_options, &mut cx)
            .map_err(|e| OptError(format!("register allocation: {e:?}")))?;
        Ok(std::mem::take(&mut cx.output))
    })?;
    if options.check_allocation {
        let mut checker = regalloc2::checker::Checker::new(&vcode, env);
        checker.prepare(&regs);
        checker
            .run()
            .map_err(|e| OptError(format!("register allocation checker: {e:?}")))?;
    }
    lap(report, "regalloc");
    let code = emit::emit(&f, &vcode, &regs, !options.slot_calls).map_err(OptError)?;
    lap(report, "emit");
    Ok(code)
}

/// Verifies `f` after stage `stage` (if asked) and dumps it (if asked).
fn check(
    f: &Func,
    stage: &str,
    verify: bool,
    options: &Options,
    report: &mut Report,
) -> Result<(), OptError> {
    if verify {
        ir::verify::verify(f).map_err(|e| OptError(format!("after {stage}: {e}")))?;
    }
    if options
        .dump_after
        .as_deref()
        .is_some_and(|after| after == stage || after == "all")
    {
        report.dumps.push(ir::print::func_to_string(f));
    }
    Ok(())
}
