//! The runtime: a [`Vm`] runs one verified module on any number of threads.
//!
//! The Vm is the [`Host`] the tiers call back into: it owns the method
//! table, the array heap, the program's output and its threads. The main
//! thread runs `main` through [`Vm::run_main`]; `spawn` starts OS threads
//! that each get their own [`ThreadState`].

pub mod call_context;
pub mod call_sites;
pub mod code_cache;
pub mod code_map;
pub mod code_memory;
pub mod faults;
pub mod host_functions;
pub mod os_thread;
pub mod osr;
pub mod output;
mod perf_outputs;
pub mod profiling;
pub mod retire;
pub mod threads;
pub mod tiering;
pub mod typed;
pub mod warnings;

use code_map::CodeMap;
use code_memory::{Blob, CodeMemory};
use output::Output;
use parking_lot::Mutex;
use perf_outputs::PerfOutputs;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use threads::Threads;
use tierjit_profiler::hotness::LoopKey;
use tierjit_profiler::profile::{Tier as ProfileTier, TierEvent, TierEventKind};
use tierjit_profiler::stackwalk::FramedStub;
use tierjit_tiers::baseline;
use tierjit_tiers::bytecode::verify::{verify_module, VerifyError};
use tierjit_tiers::bytecode::{FuncId, Module};
use tierjit_tiers::code::{CompiledCode, NoFrameKind, NoFrameRange, Tier};
use tierjit_tiers::exec::{EntryFn, Host, Limits, MethodTable, ThreadState};
use tierjit_tiers::heap::Heap;
use tierjit_tiers::interp;
use tierjit_tiers::opt;
use tierjit_tiers::stacks::ThreadStacks;
use tierjit_tiers::trap::{RuntimeError, Trap};

/// Which tier runs a program's functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TierMode {
    /// Interpret every function.
    Interp,
    /// Start every function in the interpreter and compile the ones the
    /// sampling profiler finds hot, on a background thread (the default).
    #[default]
    Auto,
    /// Compile every function with the baseline compiler before running.
    Baseline,
    /// Compile every function with the optimizing compiler before running
    /// (a function it refuses gets baseline code).
    Opt,
    /// Start each function in a pseudo-random tier (chosen by the seed):
    /// interpreted, baseline or optimized, so every call may cross
    /// between tiers.
    Mixed(u64),
}

impl TierMode {
    /// The tier function `i` starts in.
    fn start_tier(self, i: usize) -> Tier {
        match self {
            TierMode::Interp | TierMode::Auto => Tier::Interp,
            TierMode::Baseline => Tier::Baseline,
            TierMode::Opt => Tier::Opt,
            TierMode::Mixed(seed) => {
                // splitmix64 of (seed, i): a fixed, well-mixed choice.
                let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                Tier::ALL[((z ^ (z >> 31)) % 3) as usize]
            }
        }
    }
}

/// Options for a [`Vm`].
#[derive(Clone, Debug)]
pub struct VmOptions {
    /// Which tier runs the code.
    pub tier: TierMode,
    /// Program arguments (`arg(i)`, `argc()`).
    pub args: Vec<String>,
    /// Stack limits of every thread.
    pub limits: Limits,
    /// Most bytes of arrays the program may allocate.
    pub heap_limit: usize,
    /// Write each printed line at once (default: when stdout is a terminal).
    pub line_buffered: Option<bool>,
    /// Sample every thread at this many samples per second of CPU time
    /// (also without a profile, in auto mode: the samples drive tiering;
    /// default 1000).
    pub profile_hz: Option<u32>,
    /// Who interrupts the sampled threads (see `tierjit_profiler::sampler`).
    pub profile_engine: tierjit_profiler::sampler::Engine,
    /// When the tier policy compiles.
    pub policy: tiering::TierPolicy,
    /// Flip functions between tiers continually while the program runs.
    pub jit_stress: bool,
    /// Print each tier event to stderr as it happens.
    pub trace_tiers: bool,
    /// Fill freed code with `int3` (always on; kept as an option so a
    /// release build can skip the fill).
    pub poison_freed_code: bool,
    /// Name every placed blob in `/tmp/perf-PID.map` for `perf`.
    pub perf_map: bool,
    /// Verify the optimizer's IR after every pass and check its register
    /// allocation (slower compiles; for tests).
    pub opt_check: bool,
    /// Add up the time of each optimizer stage ([`Vm::pass_times`]).
    pub time_passes: bool,
    /// Run only these optimizer passes (`None`: all).
    pub opt_passes: Option<Vec<String>>,
    /// Record every placed blob in a jitdump file in this directory for
    /// `perf inject --jit`.
    pub jitdump_dir: Option<std::path::PathBuf>,
    /// Where problems that do not stop the program go (a perf map or
    /// jitdump that cannot be created or written); by default, stderr.
    pub warnings: warnings::Warnings,
    /// Test mode: every interpreted activation moves, at its first
    /// backward branch, and every baseline activation, at its first loop
    /// header, into optimized code compiled for entry at that loop header
    /// (compiled on first need, then cached), and finishes there; so every
    /// loop runs entered by on-stack replacement.
    pub osr_every_loop: bool,
    /// Optimized code calls through method-table slots, as baseline code
    /// does, instead of with direct calls (for measuring the two).
    pub slot_calls: bool,
    /// The functions of the host that the module may import
    /// ([`host_functions`]).
    pub host_functions: host_functions::HostFunctions,
    /// Steps made to fail on purpose, for tests ([`faults`]).
    pub faults: faults::Faults,
    /// Most bytes of generated code (with its tables) in use at once;
    /// compiles that would pass it fail, and their functions stay in the
    /// tier they are in.
    pub code_memory_limit: Option<usize>,
    /// Keep compiled code in this cache between runs (automatic tiering
    /// only; `None`, the default: no cache). See [`code_cache`].
    pub code_cache: Option<code_cache::CodeCacheOptions>,
}

impl Default for VmOptions {
    fn default() -> VmOptions {
        VmOptions {
            tier: TierMode::Auto,
            args: Vec::new(),
            limits: Limits::default(),
            heap_limit: Heap::default_limit(),
            line_buffered: None,
            profile_hz: None,
            profile_engine: Default::default(),
            policy: tiering::TierPolicy::default(),
            jit_stress: false,
            trace_tiers: false,
            poison_freed_code: true,
            perf_map: false,
            opt_check: false,
            time_passes: false,
            opt_passes: None,
            jitdump_dir: None,
            warnings: warnings::Warnings::default(),
            osr_every_loop: false,
            slot_calls: false,
            host_functions: Default::default(),
            faults: faults::Faults::default(),
            code_memory_limit: None,
            code_cache: None,
        }
    }
}

/// A module, ready to run.
pub struct Vm {
    module: Module,
    /// The definition of each host import, in import order.
    host_functions: Arc<[tierjit_tiers::host_fn::LinkedHostFn]>,
    methods: MethodTable,
    heap: Heap,
    output: Output,
    threads: Threads,
    code: Mutex<CodeMemory>,
    code_map: CodeMap,
    /// The direct calls in placed code, repatched when a callee's code
    /// changes. Taken with every method-table slot change.
    call_sites: Mutex<call_sites::CallSites>,
    /// The jump in code memory by which direct calls reach the
    /// interpreter ([`FramedStub::NONE`] if it could not be placed).
    call_stub: FramedStub,
    profiling: Option<profiling::Profiling>,
    tiering: Option<tiering::Tiering>,
    retirer: Arc<retire::Retirer>,
    /// The blob installed for each function, if any, with its OSR entries.
    installed: Mutex<Vec<Option<Installed>>>,
    /// Optimized code compiled for on-stack replacement at loop headers.
    osr_code: osr::OsrCode,
    /// Activations moved from the interpreter into compiled code.
    osr_count: std::sync::atomic::AtomicU64,
    /// Which moves into OSR code have been recorded as tier events.
    osr_moves_seen: osr::OsrMovesSeen,
    /// The loop headers of each function.
    loop_headers: Vec<LoopHeaders>,
    /// Per function: when its optimized code was installed (monotonic ns;
    /// 0 while it has none), and whether activations that stayed behind in
    /// an inner loop since may enter optimized OSR code there
    /// ([`Vm::note_behind`]).
    opt_since: Vec<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicBool)>,
    /// Per function: the calls that follow each call in its block.
    calls_next: Vec<tiering::CallsNext>,
    /// Per function: its calls in loops to small loop-free leaves, which
    /// its optimized code inlines (`tiering::InlinedCalls`).
    inlined_calls: Vec<tiering::InlinedCalls>,
    /// Stacks of finished host calls ([`Vm::call`]), for the next ones.
    spare_stacks: Mutex<Vec<ThreadStacks>>,
    perf: Mutex<PerfOutputs>,
    events: Mutex<Vec<TierEvent>>,
    /// Time spent in each optimizer stage, with `time_passes`.
    pass_times: Mutex<PassTimes>,
    /// The code cache, in automatic tiering with `code_cache` set.
    code_cache: Option<code_cache::CacheState>,
    started: std::time::Instant,
    options: VmOptions,
    this: Weak<Vm>,
}

/// Why a Vm could not be made.
#[derive(Debug)]
pub enum VmError {
    /// The module failed verification.
    Verify(VerifyError),
    /// A function could not be compiled or placed.
    Compile(String),
    /// A host function the module imports is not defined, or is defined
    /// with another signature.
    Link(String),
}

impl std::fmt::Display for VmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmError::Verify(e) => e.fmt(f),
            VmError::Compile(e) | VmError::Link(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for VmError {}

/// Why no profile can be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileError {
    /// The Vm samples nothing: it was made without `profile_hz` and not in
    /// auto mode, or the sampler could not start.
    NotSampling,
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the Vm is not sampling: set VmOptions::profile_hz or use TierMode::Auto")
    }
}

impl std::error::Error for ProfileError {}

/// Native stack of the thread that runs `main`. Generated code recurses on
/// it (32 bytes a frame), and so does every call from generated code into
/// the interpreter (about 370 bytes of Rust frames; the interpreter's own
/// calls do not). Recursion that alternates between the tiers must still
/// reach the 1M-frame limit, as in every other tier, before the native
/// limit (7/8 of this): `tests/programs/stack_overflow_mutual.tj`. With
/// 256 MiB it stopped at about 734k frames. Address space only; pages are
/// touched as deep as the program recurses.
const MAIN_STACK_BYTES: usize = 1 << 30;

/// Native stack of each spawned thread: as for main
/// (`stack_overflow_mutual_thread.tj`).
const THREAD_STACK_BYTES: usize = 1 << 30;

/// Most stacks of finished host calls a Vm keeps for the next ones (one
/// per host thread calling at once, up to this many).
const SPARE_STACKS: usize = 8;

impl Vm {
    /// Verifies `module` and prepares it to run: every function starts in
    /// the interpreter, or is compiled first with `TierMode::Baseline`.
    pub fn new(module: Module, options: VmOptions) -> Result<Arc<Vm>, VmError> {
        verify_module(&module).map_err(VmError::Verify)?;
        let host_functions = options
            .host_functions
            .link(&module)
            .map_err(VmError::Link)?;
        let methods = MethodTable::new(&module, interp::interpreter_entry);
        let loop_headers = module.funcs.iter().map(LoopHeaders::of).collect();
        let methods_len = module.funcs.len();
        let calls_next = module.funcs.iter().map(tiering::CallsNext::of).collect();
        let inlined_calls = (0..module.funcs.len())
            .map(|i| tiering::InlinedCalls::of(&module, i))
            .collect();
        let osr_moves_seen = osr::OsrMovesSeen::new(&module);
        let output = match options.line_buffered {
            Some(line_buffered) => Output::new(line_buffered),
            None => Output::default(),
        };
        let tiers_up = options.tier == TierMode::Auto || options.jit_stress;
        let sample_hz = options.profile_hz.or(tiers_up.then_some(1000));
        let recording = options.profile_hz.is_some();
        let profiling = sample_hz
            .map(|hz| profiling::Profiling::new(hz, options.profile_engine, &module, recording));
        let tiering = tiers_up
            .then(|| tiering::Tiering::new(module.funcs.len(), options.policy, options.jit_stress));
        let installed = Mutex::new((0..module.funcs.len()).map(|_| None).collect());
        call_sites::prepare_sync_cores();
        let mut code = CodeMemory::new();
        if let Some(limit) = options.code_memory_limit {
            code.set_limit(limit);
        }
        if let Some(maps) = options.faults.successes(faults::Fault::CodeMap) {
            code.fail_maps_after(maps);
        }
        // Without it, code with direct calls cannot be placed: such
        // compiles fail and functions stay in the tier they are in.
        let call_stub = code
            .alloc_blob(
                Tier::Interp,
                FuncId(u32::MAX),
                &call_sites::call_stub_code(interp::interpreter_entry as EntryFn as usize),
                &[],
                &[],
                &[NoFrameRange {
                    start: 0,
                    end: call_sites::CALL_STUB_JUMP_BYTES,
                    kind: NoFrameKind::ReturnAtSp,
                }],
            )
            .map_or(FramedStub::NONE, |blob| FramedStub {
                start: blob.code_rx,
                end: blob.code_rx + call_sites::CALL_STUB_JUMP_BYTES as usize,
                no_frame: blob.no_frame_table,
            });
        let call_sites = Mutex::new(call_sites::CallSites::new(
            module.funcs.len(),
            call_stub.start,
        ));
        let code_cache = code_cache::CacheState::new(&module, &options);
        let vm = Arc::new_cyclic(|this| Vm {
            heap: Heap::new(options.heap_limit),
            module,
            methods,
            output,
            threads: Threads::default(),
            code: Mutex::new(code),
            code_map: CodeMap::default(),
            call_sites,
            call_stub,
            profiling,
            tiering,
            retirer: Arc::new(retire::Retirer::default()),
            installed,
            osr_code: osr::OsrCode::default(),
            osr_count: std::sync::atomic::AtomicU64::new(0),
            osr_moves_seen,
            opt_since: (0..methods_len).map(|_| Default::default()).collect(),
            loop_headers,
            calls_next,
            inlined_calls,
            spare_stacks: Mutex::new(Vec::new()),
            host_functions,
            perf: Mutex::new(PerfOutputs::default()),
            events: Mutex::new(Vec::new()),
            pass_times: Mutex::new(PassTimes::default()),
            code_cache,
            started: std::time::Instant::now(),
            options,
            this: this.clone(),
        });
        if let Some(p) = &vm.profiling {
            p.start(Arc::downgrade(&vm));
        }
        vm.perf.lock().open(&vm.options);
        for i in 0..vm.module.funcs.len() {
            let func = FuncId(i as u32);
            // A compile that fails (too large for the optimizer, code
            // memory exhausted, a compiler error) leaves the function in
            // the tier below, down to the interpreter: the program runs
            // the same.
            let mut tier = vm.options.tier.start_tier(i);
            while tier != Tier::Interp {
                match vm.compile(func, tier) {
                    Ok(_) => break,
                    // With --opt-check a failure is the test's failure.
                    Err(e) if vm.options.opt_check => return Err(e),
                    Err(_) if tier == Tier::Opt => tier = Tier::Baseline,
                    Err(_) => tier = Tier::Interp,
                }
            }
            if tier == Tier::Interp {
                continue;
            }
            if let Some(t) = &vm.tiering {
                t.mark_compiled(func, tier);
            }
        }
        vm.load_code_cache();
        if let Some(t) = &vm.tiering {
            t.start(Arc::downgrade(&vm));
        }
        vm.queue_warm_start();
        Ok(vm)
    }

    /// Stops the compiler thread and frees every retired blob that no
    /// thread is inside; gives the retire log: (retired, freed).
    pub fn shutdown(&self) -> (u64, u64) {
        if let Some(t) = &self.tiering {
            t.stop();
        }
        self.save_code_cache_or_warn();
        // At exit, a registration still under way is not waited for: the
        // handshake's signal interrupts every thread before it answers.
        call_sites::sync_cores();
        // A thread that does not answer in this time keeps its blobs.
        let free = self.retirer.drain(
            &self.code_map.ranges(),
            std::time::Duration::from_millis(200),
        );
        self.free_retired(free);
        (
            self.retirer
                .retired_count
                .load(std::sync::atomic::Ordering::Relaxed),
            self.retirer
                .freed_count
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Where the retirer's stack-walk handshakes spent their time.
    pub fn handshake_stats(&self) -> retire::HandshakeStats {
        self.retirer.stats()
    }

    /// The background compiler thread's CPU time in nanoseconds, once it
    /// stopped ([`Vm::shutdown`]); `None` without automatic tiering.
    pub fn compiler_cpu_ns(&self) -> Option<u64> {
        Some(self.tiering.as_ref()?.compiler_cpu_ns())
    }

    /// How many interpreted activations moved into compiled code at a loop
    /// header (on-stack replacement).
    pub fn osr_count(&self) -> u64 {
        self.osr_count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Optimized OSR blobs compiled and not retired.
    pub fn osr_blobs(&self) -> usize {
        self.osr_code.len()
    }

    /// Retired blobs not freed yet.
    pub fn retired_pending(&self) -> usize {
        self.retirer.pending()
    }

    /// Frees the retired blobs that a finished handshake round found no
    /// thread inside, and starts a round if one is due (paced:
    /// `retire`). Never waits for threads.
    pub fn collect_retired(&self) {
        if self.retirer.pending() == 0 {
            return;
        }
        // No core may still run a direct call to retired code that it
        // decoded before the call was repatched (call_sites.rs): before a
        // round starts, the cores are serialized if a site was repatched
        // since the last time (a site is repatched before its old target
        // is retired, so before any round that could free it); until that
        // can be had, retired code waits.
        let ready = || {
            let mut sites = self.call_sites.lock();
            if sites.take_unsynced() && !call_sites::sync_cores() {
                sites.keep_unsynced();
                return false;
            }
            true
        };
        let free = self.retirer.collect_if(&self.code_map.ranges(), ready);
        self.free_retired(free);
    }

    fn free_retired(&self, free: Vec<retire::Retired>) {
        // Out of the map (in one pass: a round frees hundreds under
        // stress) before the memory is freed.
        let starts: Vec<usize> = free.iter().map(|r| r.blob.code_rx).collect();
        self.code_map.remove_all(&starts);
        self.call_sites.lock().remove_blobs(&starts);
        let mut code = self.code.lock();
        for retired in &free {
            code.free_blob(retired.blob, self.options.poison_freed_code);
        }
        drop(code);
        for retired in free {
            let tier = profile_tier(retired.blob.tier);
            self.event(FuncId(retired.func), TierEventKind::Retire { tier });
        }
    }

    /// Hot-detection to installed-code latency, in auto mode: (p50, p99,
    /// count) in nanoseconds of the tier-ups to `to` (`None`: all).
    pub fn tier_up_latency(&self, to: Option<Tier>) -> Option<(u64, u64, u64)> {
        let t = self.tiering.as_ref()?;
        let latency = t.latency.lock();
        let h = &latency[to.map_or(0, |tier| tier.as_u32() as usize)];
        Some((h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.len()))
    }

    /// When the hot code was first seen running optimized: how many
    /// functions took `share` of the sampled CPU time, and the latest of
    /// the times a sample first found one of them in optimized code
    /// (inlined or OSR code included), in ns from the start of sampling.
    /// None without sampling, or if one of them never ran optimized.
    pub fn hot_code_optimized(&self, share: f64) -> Option<(usize, u64)> {
        self.profiling.as_ref()?.hot_code_optimized(share)
    }

    /// When functions first got optimized code (installed, or compiled
    /// for on-stack replacement), in nanoseconds since start: (how many
    /// functions, the first time, the last time).
    pub fn first_optimized(&self) -> Option<(usize, u64, u64)> {
        let mut first: HashMap<u32, u64> = HashMap::new();
        for event in self.events.lock().iter() {
            let optimized = match event.kind {
                TierEventKind::Install { tier } => tier == profile_tier(Tier::Opt),
                TierEventKind::Compile { to, .. } => to == profile_tier(Tier::Opt),
                TierEventKind::OsrCompile { .. } => true,
                TierEventKind::CacheLoad { tier } => tier == profile_tier(Tier::Opt),
                TierEventKind::Retire { .. }
                | TierEventKind::OsrEntry { .. }
                | TierEventKind::CompileFailed { .. } => false,
            };
            if optimized {
                first.entry(event.func).or_insert(event.time_ns);
            }
        }
        let times = first.values();
        Some((first.len(), *times.clone().min()?, *times.max()?))
    }

    /// Compiles `func` for `tier`, places the code and installs it in the
    /// method table (one aligned store).
    pub fn compile(&self, func: FuncId, tier: Tier) -> Result<Blob, VmError> {
        self.compile_timed(func, tier, 0)
    }

    /// [`Vm::compile`] for a request that waited `queue_ns` in the compile
    /// queue (recorded in the tier events).
    ///
    /// A failure (the compiler's error or panic, code memory exhausted)
    /// leaves the function as it was, and is traced and recorded.
    pub fn compile_timed(&self, func: FuncId, tier: Tier, queue_ns: u64) -> Result<Blob, VmError> {
        let from = self.current_tier(func);
        self.compile_and_install(func, from, tier, queue_ns)
            .map_err(|reason| self.compile_failed(func, from, tier, None, &reason))
    }

    /// Records that compiling `func` for `to` (at loop header `osr_pc`,
    /// for OSR code) failed, and gives the error.
    fn compile_failed(
        &self,
        func: FuncId,
        from: Tier,
        to: Tier,
        osr_pc: Option<u32>,
        reason: &str,
    ) -> VmError {
        let name = &self.module.func(func).name;
        let what = match osr_pc {
            Some(pc) => format!("{name} (OSR at pc {pc})"),
            None => name.to_string(),
        };
        self.trace_note(&format!(
            "{what}: {from} -> {to} failed: {reason}; it stays in {from}"
        ));
        self.record_event(
            func,
            TierEventKind::CompileFailed {
                from: profile_tier(from),
                to: profile_tier(to),
            },
        );
        VmError::Compile(format!("{what}: {reason}"))
    }

    fn compile_and_install(
        &self,
        func: FuncId,
        from: Tier,
        tier: Tier,
        queue_ns: u64,
    ) -> Result<Blob, String> {
        let begun = std::time::Instant::now();
        let compiled = self.run_compiler(func, tier)?;
        self.event(
            func,
            TierEventKind::Compile {
                from: profile_tier(from),
                to: profile_tier(tier),
                duration_ns: begun.elapsed().as_nanos() as u64,
                queue_ns,
            },
        );
        let blob = self.place(&compiled).map_err(|e| e.to_string())?;
        self.install_code(
            func,
            Installed {
                blob,
                osr: compiled.osr_entries.clone(),
                sites: Some(compiled.call_sites.clone()),
            },
        );
        self.event(
            func,
            TierEventKind::Install {
                tier: profile_tier(tier),
            },
        );
        Ok(blob)
    }

    /// The compiler of `tier`: one arm per compiling tier.
    fn run_compiler(&self, func: FuncId, tier: Tier) -> Result<CompiledCode, String> {
        match tier {
            Tier::Baseline => {
                self.guarded(|| baseline::compile(&self.module, func).map_err(|e| e.to_string()))
            }
            Tier::Opt => self.run_optimizer(func, None),
            Tier::Interp => Err(format!("no compiler for tier {tier}")),
        }
    }

    /// Runs a compiler: a panic in it is a failed compile, not a crash
    /// (the compilers are pure functions of the module, so nothing half
    /// made is left behind); injected faults fail it here.
    fn guarded(
        &self,
        compile: impl FnOnce() -> Result<CompiledCode, String>,
    ) -> Result<CompiledCode, String> {
        let faults = &self.options.faults;
        if faults.fails(faults::Fault::CompileError) {
            return Err("injected fault".to_string());
        }
        let panics = faults.fails(faults::Fault::CompilePanic);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if panics {
                // Unwinds as a panic does, without the panic hook's report
                // (a real panic's report stays).
                std::panic::resume_unwind(Box::new("injected fault"));
            }
            compile()
        }))
        .unwrap_or_else(|_| Err("the compiler panicked".to_string()))
    }

    /// The optimizer, with the Vm's checking and timing options, for a
    /// normal entry or (with `osr_pc`) for entry at that loop header.
    fn run_optimizer(&self, func: FuncId, osr_pc: Option<u32>) -> Result<CompiledCode, String> {
        // In automatic tiering the inliner takes hot call sites first and
        // block layout puts hot blocks in line; eager tiers compile
        // without a profile.
        let profile = self
            .profiling
            .as_ref()
            .filter(|_| self.tiering.is_some() && !self.compiles_without_profile(func));
        let mut call_heat = profile.map(|p| p.call_heat()).unwrap_or_default();
        if profile.is_some() {
            self.add_saved_call_heat(&mut call_heat);
        }
        let pc_heat = profile.map(|p| p.pc_heat()).unwrap_or_default();
        let options = opt::Options {
            osr_pc,
            call_heat,
            pc_heat,
            verify: self.options.opt_check.then_some(true),
            check_allocation: self.options.opt_check,
            passes: self.options.opt_passes.clone(),
            slot_calls: self.options.slot_calls,
            ..opt::Options::default()
        };
        let mut report = opt::Report::default();
        let code = self.guarded(|| {
            opt::compile_with_report(&self.module, func, &options, &mut report)
                .map_err(|e| e.to_string())
        });
        if self.options.time_passes {
            self.pass_times.lock().add(&report);
        }
        code
    }

    /// Compiles `func` with the optimizer for entry by on-stack
    /// replacement at loop header `pc`, on the calling thread, and places
    /// the code. No method-table slot names it: the interpreter enters it
    /// through [`Host::osr_entry`] (which caches it per loop header, with
    /// [`VmOptions::osr_every_loop`]).
    pub fn compile_osr(&self, func: FuncId, pc: u32) -> Result<osr::OsrBlob, VmError> {
        self.compile_osr_timed(func, pc, 0)
    }

    /// [`Vm::compile_osr`] for a request that waited `queue_ns`.
    fn compile_osr_timed(
        &self,
        func: FuncId,
        pc: u32,
        queue_ns: u64,
    ) -> Result<osr::OsrBlob, VmError> {
        let from = self.current_tier(func);
        self.compile_osr_code(func, pc, queue_ns)
            .map_err(|reason| self.compile_failed(func, from, Tier::Opt, Some(pc), &reason))
    }

    fn compile_osr_code(
        &self,
        func: FuncId,
        pc: u32,
        queue_ns: u64,
    ) -> Result<osr::OsrBlob, String> {
        let begun = std::time::Instant::now();
        let compiled = self.run_optimizer(func, Some(pc))?;
        let offset = compiled
            .osr_entry(pc)
            .ok_or_else(|| format!("the optimizer gave no OSR entry at pc {pc}"))?;
        let kind = TierEventKind::OsrCompile {
            pc,
            duration_ns: begun.elapsed().as_nanos() as u64,
            queue_ns,
        };
        self.event(func, kind);
        let blob = self.place(&compiled).map_err(|e| e.to_string())?;
        Ok(osr::OsrBlob {
            blob,
            entry: blob.code_rx + offset as usize,
        })
    }

    /// The OSR entry for loop header `pc` of the code installed for
    /// `func`, if that code is still `slot_entry` and has one, and the
    /// code's tier; published in `calling` under the lock that replacing
    /// the code takes.
    fn installed_osr_entry(
        &self,
        func: FuncId,
        pc: u32,
        slot_entry: usize,
        calling: &AtomicUsize,
    ) -> Option<(usize, Tier)> {
        let installed = self.installed.lock();
        let code = installed.get(func.index())?.as_ref()?;
        if code.blob.code_rx != slot_entry {
            return None;
        }
        let &(_, offset) = code.osr.iter().find(|&&(header, _)| header == pc)?;
        let entry = code.blob.code_rx + offset as usize;
        calling.store(entry, std::sync::atomic::Ordering::Relaxed);
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        Some((entry, code.blob.tier))
    }

    /// The entry of the optimized OSR code of `func` at loop header `pc`,
    /// compiled on first need; published in `calling`.
    fn osr_entry_compiled_now(
        &self,
        func: FuncId,
        pc: u32,
        calling: &AtomicUsize,
    ) -> Option<usize> {
        self.osr_code
            .entry(func, pc, calling, || self.compile_osr(func, pc).ok())
    }

    /// The entry of the optimized OSR code of `func` at loop header `pc`
    /// if the compiler thread has compiled it, published in `calling`;
    /// the first ask queues the compile. Where the optimizer declined,
    /// baseline code stops asking (its OSR flag is cleared).
    fn queued_osr_entry(&self, func: FuncId, pc: u32, calling: &AtomicUsize) -> Option<usize> {
        let tiering = self.tiering.as_ref()?;
        match self
            .osr_code
            .ready_entry(func, pc, calling, || tiering.request_osr(func, pc))
        {
            osr::OsrLookup::Ready(entry) => Some(entry),
            osr::OsrLookup::NotYet => None,
            osr::OsrLookup::Declined => {
                self.methods.set_osr_wanted(func, pc, false);
                None
            }
        }
    }

    /// Compiles the OSR code a [`Vm::queued_osr_entry`] asked for (on the
    /// compiler thread) and hands it to the waiting activations.
    pub(super) fn complete_osr(&self, func: FuncId, pc: u32, queue_ns: u64) {
        let compiled = self.compile_osr_timed(func, pc, queue_ns);
        let declined = compiled.is_err();
        if let Some(stale) = self.osr_code.complete(func, pc, compiled.ok()) {
            self.retire(func, stale);
        }
        if declined {
            self.methods.set_osr_wanted(func, pc, false);
        } else if self.current_tier(func) == Tier::Opt {
            // Baseline activations that asked while this compiled (their
            // flags were cleared) ask again at their next outermost header.
            self.set_osr_flags(func, true);
        }
    }

    /// Queues what hot call sites predict ([`tiering::Tiering::predict_tick`]).
    /// The heat the tier policy weighs per function, hottest first: the
    /// time of its own code (`own`) and below the calls its optimized
    /// code inlines in loops with time of their own (`calls`: time below
    /// each call site; [`tiering::InlinedCalls::add_to_callers`]).
    pub(super) fn policy_heat(
        &self,
        own: &[(FuncId, f64)],
        calls: &HashMap<(FuncId, u32), u64>,
        loops_with_own_time: &std::collections::HashSet<(FuncId, u32)>,
    ) -> Vec<(FuncId, f64)> {
        tiering::InlinedCalls::add_to_callers(&self.inlined_calls, own, calls, loops_with_own_time)
    }

    pub(super) fn compile_predicted(&self, calls: &HashMap<(FuncId, u32), u64>) {
        if let Some(tiering) = &self.tiering {
            tiering.predict_tick(calls, |caller, pc| {
                self.calls_next
                    .get(caller.index())
                    .map(|next| next.after(pc).to_vec())
                    .unwrap_or_default()
            });
        }
    }

    /// Queues optimized OSR code for the loops the profile finds hot in
    /// functions queued for the optimizer (the outermost loop around each),
    /// so that an activation running such a loop in the interpreter or in
    /// baseline code finds it ready soon after the function's optimized
    /// code, rather than asking for it only then: a function whose one
    /// call runs the whole program never calls its optimized code.
    pub(super) fn compile_hot_loops_ahead(&self, hot_loops: &[(LoopKey, f64)]) {
        for (key, _) in hot_loops {
            let func = FuncId(key.func);
            if self
                .tiering
                .as_ref()
                .is_some_and(|t| t.queued_for_opt(func))
            {
                self.request_osr_ahead(func, key.header);
            }
        }
    }

    /// A sample found an activation of `func` interpreted or in baseline
    /// code in its loop at `header` while `func` has optimized code: the
    /// activation began before that code was ready (`matmul`'s one call,
    /// made while its predicted code compiled). It moves into optimized
    /// code only at the header of its outermost loop, which an
    /// interpreted `matmul` reaches every 4 ms: the OSR code for that
    /// header is compiled now, so that the activation enters at its next
    /// arrival rather than asking then and entering at the one after.
    pub(crate) fn compile_osr_for_behind(&self, func: FuncId, header: u32) {
        if self.current_tier(func) == Tier::Opt {
            self.request_osr_ahead(func, header);
        }
    }

    /// Queues optimized OSR code of `func` for the outermost loop around
    /// `header`, unless it is compiled or queued already (or the test
    /// modes that make their own OSR code are on).
    fn request_osr_ahead(&self, func: FuncId, header: u32) {
        let Some(tiering) = &self.tiering else {
            return;
        };
        if self.options.osr_every_loop || self.options.jit_stress {
            return;
        }
        let Some(outer) = self
            .loop_headers
            .get(func.index())
            .and_then(|h| h.outermost_containing(header))
        else {
            return;
        };
        self.osr_code
            .request_ahead(func, outer, || tiering.request_osr(func, outer));
    }

    /// Sets (or clears) the OSR flags that baseline code of `func` tests:
    /// when set, at the header of each outermost loop (every loop header
    /// in the `osr_every_loop` test mode). Code entered at an outermost
    /// header runs the whole loop nest as loops; entered at an inner one,
    /// the outer loops would have two ways in and no pass would treat
    /// them as loops.
    fn set_osr_flags(&self, func: FuncId, wanted: bool) {
        let headers = &self.loop_headers[func.index()];
        let everywhere = self.options.osr_every_loop || self.enters_inner_loops(func);
        for &pc in &headers.all {
            let set = wanted && (everywhere || headers.outermost.contains(&pc));
            self.methods.set_osr_wanted(func, pc, set);
        }
    }

    /// True once activations of `func` that stayed in the interpreter or
    /// in baseline code long after its optimized code was installed may
    /// enter optimized OSR code at any loop header ([`Vm::note_behind`]).
    fn enters_inner_loops(&self, func: FuncId) -> bool {
        self.opt_since[func.index()].1.load(Ordering::Relaxed)
    }

    /// The sampler found an activation of `func` running in the
    /// interpreter or in baseline code. Activations move into optimized
    /// code at the header of an outermost loop, which runs it faster than
    /// code entered at an inner loop; but one whose outer loop does not
    /// come round again would stay behind for good. So once the function's
    /// optimized code is [`tiering::TierPolicy::behind`] old, its
    /// activations may enter at any loop header.
    pub(crate) fn note_behind(&self, func: FuncId) {
        let Some(since) = self.opt_since.get(func.index()) else {
            return;
        };
        let installed = since.0.load(Ordering::Relaxed);
        if installed == 0
            || since.1.load(Ordering::Relaxed)
            || profiling::monotonic_ns().saturating_sub(installed)
                < self.options.policy.behind.as_nanos() as u64
        {
            return;
        }
        since.1.store(true, Ordering::Relaxed);
        if self.current_tier(func) == Tier::Opt {
            self.set_osr_flags(func, true);
        }
    }

    /// Retires the OSR code compiled for `func`'s loops: it went with the
    /// function's previous code (a recompile renews both), and threads
    /// may still be inside it.
    fn retire_osr_code(&self, func: FuncId) {
        for blob in self.osr_code.take(func) {
            self.retire(func, blob);
        }
    }

    /// The tier whose code calls of `func` run now.
    pub fn current_tier(&self, func: FuncId) -> Tier {
        self.installed.lock()[func.index()]
            .as_ref()
            .map_or(Tier::Interp, |code| code.blob.tier)
    }

    /// Prints a `--trace-tiers` line that is not a tier event (a compile
    /// that failed, say).
    pub fn trace_note(&self, note: &str) {
        if self.options.trace_tiers {
            let ms = self.started.elapsed().as_secs_f64() * 1e3;
            let line = format!("[{ms:10.3} ms] tier: {note}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        }
    }

    /// Counts an activation of `func` moving from `from` into `to` code at
    /// loop header `pc`; the first such move is a tier event (every
    /// activation that loops may move: recording each would flood the
    /// profile). Every move after the first costs a load and a test.
    fn osr_moved(&self, func: FuncId, pc: u32, from: Tier, to: Tier) {
        self.osr_count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !self.osr_moves_seen.seen(func, pc, from, to) {
            self.first_osr_entry(func, pc, from, to);
        }
    }

    /// The tier event of [`Vm::osr_moved`], if this thread is the first
    /// to make the move; out of line, so that the moves after the first
    /// do not pay for its code.
    #[cold]
    #[inline(never)]
    fn first_osr_entry(&self, func: FuncId, pc: u32, from: Tier, to: Tier) {
        if self.osr_moves_seen.mark(func, pc, from, to) {
            let (from, to) = (profile_tier(from), profile_tier(to));
            self.event(func, TierEventKind::OsrEntry { pc, from, to });
        }
    }

    /// Records a tier event (for profiles), and prints it with
    /// `trace_tiers`.
    fn event(&self, func: FuncId, kind: TierEventKind) {
        let event = TierEvent {
            time_ns: self.started.elapsed().as_nanos() as u64,
            func: func.0,
            kind,
        };
        if self.options.trace_tiers {
            let line = trace_line(&event, &self.module.func(func).name);
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        }
        self.events.lock().push(event);
    }

    /// Records a tier event without tracing it (its caller traced it
    /// with more to say).
    fn record_event(&self, func: FuncId, kind: TierEventKind) {
        let time_ns = self.started.elapsed().as_nanos() as u64;
        self.events.lock().push(TierEvent {
            time_ns,
            func: func.0,
            kind,
        });
    }

    /// Puts compiled code into executable memory and the code map.
    pub fn place(&self, compiled: &CompiledCode) -> Result<Blob, VmError> {
        let blob = self
            .code
            .lock()
            .alloc_blob(
                compiled.tier,
                compiled.func,
                &compiled.code,
                &compiled.pc_map,
                &compiled.inlines,
                &compiled.no_frame,
            )
            .map_err(|e| VmError::Compile(e.to_string()))?;
        let placed = self
            .code_map
            .insert(&blob, compiled.func)
            .map_err(VmError::Compile)
            .and_then(|()| {
                self.call_sites
                    .lock()
                    .add(
                        &blob,
                        &compiled.call_sites,
                        |f| self.methods.entry(f),
                        interp::interpreter_entry as EntryFn as usize,
                    )
                    .map_err(|e| {
                        self.code_map.remove(blob.code_rx);
                        VmError::Compile(e)
                    })
            });
        if let Err(e) = placed {
            self.code
                .lock()
                .free_blob(blob, self.options.poison_freed_code);
            return Err(e);
        }
        let name = format!(
            "tj:{} [{}]",
            self.module.func(compiled.func).name,
            compiled.tier
        );
        self.perf
            .lock()
            .code_loaded(blob.code_rx, &compiled.code, &name);
        Ok(blob)
    }

    /// Makes calls of `func` run `blob`; the code it replaces is retired.
    pub fn install(&self, func: FuncId, blob: Blob) {
        self.install_with_osr(func, blob, Vec::new());
    }

    /// [`Vm::install`] for code with on-stack-replacement entries
    /// (`(loop header pc, offset)`).
    pub fn install_with_osr(&self, func: FuncId, blob: Blob, osr: Vec<(u32, u32)>) {
        self.install_code(
            func,
            Installed {
                blob,
                osr,
                sites: None,
            },
        );
    }

    /// Makes calls of `func` run `code`; the code it replaces is retired.
    fn install_code(&self, func: FuncId, code: Installed) {
        let blob = code.blob;
        // SAFETY: the blob holds complete code for `func` compiled against
        // this module, following the EntryFn convention (abi.rs).
        let entry: EntryFn = unsafe { std::mem::transmute::<usize, EntryFn>(blob.code_rx) };
        let mut installed = self.installed.lock();
        self.install_entry(func, entry, blob.tier);
        let since = &self.opt_since[func.index()];
        let now = (blob.tier == Tier::Opt)
            .then(profiling::monotonic_ns)
            .unwrap_or(0);
        since.0.store(now, Ordering::Relaxed);
        since.1.store(false, Ordering::Relaxed);
        // Baseline activations still running move into optimized code at
        // the next header of an outermost loop they reach
        // (Host::optimized_osr_entry).
        self.set_osr_flags(
            func,
            self.options.osr_every_loop || (blob.tier == Tier::Opt && self.tiering.is_some()),
        );
        if let Some(old) = installed[func.index()].replace(code) {
            self.retire(func, old.blob);
        }
        // Not under `installed`: compiling OSR code takes that lock.
        drop(installed);
        self.retire_osr_code(func);
    }

    /// Sends calls of `func` back to the interpreter; its code is retired.
    pub fn uninstall(&self, func: FuncId) {
        let mut installed = self.installed.lock();
        self.install_entry(func, interp::interpreter_entry, Tier::Interp);
        self.opt_since[func.index()].0.store(0, Ordering::Relaxed);
        self.set_osr_flags(func, false);
        if let Some(old) = installed[func.index()].take() {
            self.retire(func, old.blob);
        }
        drop(installed);
        self.retire_osr_code(func);
    }

    /// Points `func`'s method-table slot and every direct call of it at
    /// `entry` (code of `tier`). Old code stays valid until it is freed,
    /// and [`Vm::collect_retired`] serializes every core first.
    fn install_entry(&self, func: FuncId, entry: EntryFn, tier: Tier) {
        let repatched = {
            let mut sites = self.call_sites.lock();
            self.methods.install(func, entry);
            let interpreter = interp::interpreter_entry as EntryFn as usize;
            let target = sites.target(entry as usize, interpreter);
            sites.retarget(func, target)
        };
        if repatched > 0 {
            self.trace_note(&format!(
                "{}: {repatched} call site{} repatched to {tier} code",
                self.module.func(func).name,
                if repatched == 1 { "" } else { "s" }
            ));
        }
    }

    /// Direct call sites repatched so far because their callee's code
    /// changed.
    pub fn call_sites_repatched(&self) -> u64 {
        self.call_sites.lock().repatched()
    }

    fn retire(&self, func: FuncId, blob: Blob) {
        // Code from a cache file stays mapped and in the code map: other
        // code of the file may still call it directly (code_cache).
        if blob.is_from_file() {
            return;
        }
        self.retirer.retire(retire::Retired { blob, func: func.0 });
    }

    /// The code map: which generated code is where.
    pub fn code_map(&self) -> &CodeMap {
        &self.code_map
    }

    /// The bytes of a placed blob's code.
    pub fn blob_code(&self, blob: &Blob) -> Vec<u8> {
        self.code.lock().code(blob).to_vec()
    }

    fn arc(&self) -> Arc<Vm> {
        self.this
            .upgrade()
            .expect("a running Vm is owned by an Arc")
    }

    fn thread_state(&self, handle: i64, stacks: ThreadStacks) -> ThreadState {
        let mut ts = ThreadState::new(
            self.arc(),
            handle,
            self.options.limits,
            stacks,
            self.threads.interrupt.clone(),
            self.output.register(),
        );
        ts.osr_every_loop = self.options.osr_every_loop;
        ts
    }

    /// Runs `main` on a thread with a large native stack; gives its int
    /// result, if it has one. The error of whichever thread failed first is
    /// the program's. A module without `main` (a host may build one) is
    /// the error `the program has no function 'main'`.
    pub fn run_main(&self) -> Result<Option<i64>, RuntimeError> {
        let main = self.module.find("main").ok_or_else(|| RuntimeError {
            detail: Some("the program has no function 'main'".into()),
            ..RuntimeError::new(Trap::BadArgument, Vec::new())
        })?;
        let vm = self.arc();
        let runner = std::thread::Builder::new()
            .name("tj-main".into())
            .stack_size(MAIN_STACK_BYTES)
            .spawn(move || vm.call(main, &[]));
        match runner {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(RuntimeError::new(Trap::OutOfMemory, Vec::new()))),
            // No thread to be had: run here, on the caller's stack.
            Err(_) => self.call(main, &[]),
        }
    }

    /// Calls `func` with raw argument bits on the calling thread; gives
    /// its result's bits (an int as `i64`; see [`Vm::typed`] for typed
    /// calls).
    pub fn call(&self, func: FuncId, args: &[u64]) -> Result<Option<i64>, RuntimeError> {
        self.call_bits(func, args)
            .map(|v| v.map(|bits| bits as i64))
    }

    /// [`Vm::call`], giving the result's raw bits. A function that is not
    /// in the module, arguments of the wrong number, or a parameter of
    /// array type (raw bits are no array) make the error `bad argument`.
    pub fn call_bits(&self, func: FuncId, args: &[u64]) -> Result<Option<u64>, RuntimeError> {
        self.call_context()?.call_bits(func, args)
    }

    /// A context for calling into the program from this thread again and
    /// again, cheaper per call than [`Vm::call_bits`] (see
    /// [`call_context`]).
    pub fn call_context(&self) -> Result<call_context::CallContext, RuntimeError> {
        call_context::CallContext::new(self)
    }

    /// Refuses a call [`Vm::call_bits`] cannot make.
    fn check_callable(&self, func: FuncId, args: &[u64]) -> Result<(), RuntimeError> {
        let callable = self.module.funcs.get(func.index()).is_some_and(|f| {
            f.params.len() == args.len()
                && f.params.iter().all(|t| {
                    matches!(
                        t,
                        tierjit_tiers::Type::Int
                            | tierjit_tiers::Type::Float
                            | tierjit_tiers::Type::Bool
                    )
                })
        });
        if !callable {
            return Err(RuntimeError::new(Trap::BadArgument, Vec::new()));
        }
        Ok(())
    }

    /// Asks the running program to stop: every thread, in every tier,
    /// stops at its next safe point (a loop's back edge, a call, a join),
    /// and `run_main` returns the runtime error `Trap::Terminated`. Output
    /// already printed stays pending for [`Vm::flush_output`]; the profile,
    /// if any, keeps what was sampled. Callable from any thread; the
    /// library installs no signal handler of its own (the `tierjit`
    /// command calls this on SIGINT, SIGTERM and SIGHUP).
    pub fn request_stop(&self) {
        self.threads.stop();
    }

    /// Writes a thread's lines; stops the program if stdout's reader is
    /// gone (output.rs).
    fn write_lines(&self, lines: &mut Vec<u8>) {
        if self.output.write(lines) {
            self.request_stop();
        }
    }

    /// True if the program was stopped because stdout's reader went away
    /// (a closed pipe): the command exits as SIGPIPE would have (141).
    pub fn output_pipe_closed(&self) -> bool {
        self.output.pipe_closed()
    }

    /// Why the program's output stopped, if writing it failed for another
    /// reason than a closed pipe (a full disk): what followed was dropped.
    pub fn output_write_error(&self) -> Option<String> {
        self.output.write_error()
    }

    /// Writes every thread's pending output (before exit, or before
    /// printing an error).
    pub fn flush_output(&self) {
        self.output.flush_all();
    }

    /// Starts a new profile: samples are kept from now on (those kept so
    /// far are let go). Sampling must be on, from `VmOptions::profile_hz`
    /// or auto mode; it is not started here.
    pub fn start_profile(&self) -> Result<(), ProfileError> {
        match &self.profiling {
            Some(p) if p.start_recording() => Ok(()),
            _ => Err(ProfileError::NotSampling),
        }
    }

    /// Keeps no more samples for the profile; the tier policy still sees
    /// them.
    pub fn stop_profile(&self) {
        if let Some(p) = &self.profiling {
            p.stop_recording();
        }
    }

    /// The profile of the samples kept since the profile started, which
    /// it takes (the next starts empty), with the tier events so far; the
    /// program and its sampling go on. `tierjit_profiler::format::write`
    /// saves it as a `.tjprof`.
    pub fn take_profile(
        &self,
        program: &str,
    ) -> Result<tierjit_profiler::profile::Profile, ProfileError> {
        let p = self.profiling.as_ref().ok_or(ProfileError::NotSampling)?;
        let mut profile = p.take(self, program);
        profile.events = self.events.lock().clone();
        Ok(profile)
    }

    /// Stops profiling and gives the profile, if the Vm was profiling.
    pub fn finish_profile(&self, program: &str) -> Option<tierjit_profiler::profile::Profile> {
        let mut profile = self.profiling.as_ref().map(|p| p.finish(self, program))?;
        profile.events = self.events.lock().clone();
        Some(profile)
    }

    /// Time spent in each optimizer stage so far (with
    /// [`VmOptions::time_passes`]).
    pub fn pass_times(&self) -> PassTimes {
        self.pass_times.lock().clone()
    }

    /// The module being run.
    pub fn module(&self) -> &Module {
        &self.module
    }
}

impl Host for Vm {
    fn module(&self) -> &Module {
        &self.module
    }

    fn host_functions(&self) -> Arc<[tierjit_tiers::host_fn::LinkedHostFn]> {
        self.host_functions.clone()
    }

    fn method_table(&self) -> &MethodTable {
        &self.methods
    }

    fn heap(&self) -> &Heap {
        &self.heap
    }

    fn args(&self) -> &[String] {
        &self.options.args
    }

    fn line_buffered(&self) -> bool {
        self.output.line_buffered()
    }

    fn write_output(&self, lines: &mut Vec<u8>) {
        self.write_lines(lines)
    }

    fn spawn(&self, func: FuncId, args: Vec<u64>) -> Result<i64, Trap> {
        self.threads.reap();
        let handle = self.threads.reserve();
        os_thread::fit_futex_hash(self.threads.live() + 1);
        let failed = |_| {
            self.threads.finish(handle, None);
            Trap::OutOfMemory
        };
        let fail_at = self.options.faults.spawn_step();
        let (memory, stacks) =
            os_thread::ThreadMemory::map(THREAD_STACK_BYTES, self.options.limits, fail_at)
                .map_err(failed)?;
        let os_thread = {
            let mut ts = self.thread_state(handle, stacks);
            let vm = self.arc();
            os_thread::OsThread::spawn(
                &format!("tj-{handle}"),
                &memory,
                fail_at,
                Box::new(move || {
                    let sampling = vm
                        .profiling
                        .as_ref()
                        .and_then(|p| p.register(&vm, handle, &ts));
                    let retiring = vm
                        .retirer
                        .register(profiling::interp_frames(&ts, vm.call_stub), &ts.calling);
                    let panics = vm.options.faults.fails(faults::Fault::ThreadPanic);
                    // A panic (a bug of the runtime) ends the program as
                    // one in `main` does, rather than leaving this
                    // thread's joiners waiting for a result that never
                    // comes.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        if panics {
                            std::panic::resume_unwind(Box::new("injected fault"));
                        }
                        interp::call(&mut ts, func, &args)
                    }))
                    .unwrap_or_else(|_| Err(RuntimeError::new(Trap::OutOfMemory, Vec::new())));
                    drop(sampling);
                    drop(retiring);
                    vm.write_lines(&mut ts.out.lock());
                    match result {
                        Ok(value) => vm.threads.finish(handle, value.map(|bits| bits as i64)),
                        Err(error) => {
                            if error.trap != Trap::Terminated {
                                vm.threads.fail(error);
                            }
                            vm.threads.finish(handle, None);
                        }
                    }
                }),
            )
            .map_err(failed)?
        };
        self.threads.attach(handle, os_thread);
        Ok(handle)
    }

    fn join(&self, caller: i64, handle: i64) -> Result<i64, Trap> {
        // The wait touches no tj frame and uses no CPU time: handshakes
        // walk a joining thread from the retirer, and the sampler counts
        // it idle, instead of waking it.
        tierjit_profiler::sampler::blocked(|| retire::parked(|| self.threads.join(caller, handle)))
    }

    fn native_frames(&self, pc: usize, out: &mut Vec<(FuncId, u32)>) -> bool {
        self.code_map.frames(pc, out).is_some()
    }

    fn osr_entry(
        &self,
        func: FuncId,
        pc: u32,
        slot_entry: usize,
        calling: &AtomicUsize,
    ) -> Option<usize> {
        // Optimized code has no entries of its own, and optimized OSR code
        // is only entered at flagged (outermost) headers: an interpreted
        // activation in an inner loop asks at every backward branch, so
        // answer it without a lock.
        let inner_loop_of_optimized = self
            .tiering
            .as_ref()
            .is_some_and(|t| t.tier_of(func) == Tier::Opt)
            && !self.options.osr_every_loop
            && !self.loop_headers[func.index()].outermost.contains(&pc)
            && !self.enters_inner_loops(func);
        if inner_loop_of_optimized {
            return None;
        }
        let (entry, to) = self
            .installed_osr_entry(func, pc, slot_entry, calling)
            .or_else(|| {
                let optimized = if self.options.osr_every_loop {
                    self.osr_entry_compiled_now(func, pc, calling)
                } else if self.loop_headers[func.index()].outermost.contains(&pc)
                    || self.enters_inner_loops(func)
                {
                    // Installed code without an entry here (optimized
                    // code has none): optimized OSR code, once compiled,
                    // entered at an outermost loop, or at any loop once
                    // activations stayed behind (`note_behind`).
                    self.queued_osr_entry(func, pc, calling)
                } else {
                    None
                };
                optimized.map(|entry| (entry, Tier::Opt))
            })?;
        self.osr_moved(func, pc, Tier::Interp, to);
        Some(entry)
    }

    fn optimized_osr_entry(&self, func: FuncId, pc: u32, calling: &AtomicUsize) -> Option<usize> {
        let entry = if self.options.osr_every_loop {
            self.osr_entry_compiled_now(func, pc, calling)
        } else {
            let entry = self.queued_osr_entry(func, pc, calling);
            if entry.is_none() {
                // Not compiled yet: the loop runs on at full speed rather
                // than call in here every iteration; `complete_osr` sets
                // the flag again when the code is ready.
                self.methods.set_osr_wanted(func, pc, false);
            }
            entry
        }?;
        self.osr_moved(func, pc, Tier::Baseline, Tier::Opt);
        Some(entry)
    }
}

/// The profiler's name for `tier` (the profiler crate has its own tier
/// type, which also names runtime frames).
pub fn profile_tier(tier: Tier) -> ProfileTier {
    match tier {
        Tier::Interp => ProfileTier::Interp,
        Tier::Baseline => ProfileTier::Baseline,
        Tier::Opt => ProfileTier::Optimized,
    }
}

/// One line of `--trace-tiers` output.
fn trace_line(event: &TierEvent, name: &str) -> String {
    let ms = event.time_ns as f64 / 1e6;
    match event.kind {
        TierEventKind::Compile {
            from,
            to,
            duration_ns,
            queue_ns,
        } => format!(
            "[{ms:10.3} ms] tier: {name}: {} -> {} (compile {:.1} us, queued {:.1} us)\n",
            from.name(),
            to.name(),
            duration_ns as f64 / 1e3,
            queue_ns as f64 / 1e3
        ),
        TierEventKind::Install { tier } => {
            format!("[{ms:10.3} ms] tier: {name}: installed {}\n", tier.name())
        }
        TierEventKind::Retire { tier } => format!(
            "[{ms:10.3} ms] tier: {name}: retired {} code\n",
            tier.name()
        ),
        TierEventKind::OsrCompile {
            pc,
            duration_ns,
            queue_ns,
        } => format!(
            "[{ms:10.3} ms] tier: {name}: loop at pc {pc} -> opt OSR code (compile {:.1} us, queued {:.1} us)\n",
            duration_ns as f64 / 1e3,
            queue_ns as f64 / 1e3
        ),
        TierEventKind::OsrEntry { pc, from, to } => format!(
            "[{ms:10.3} ms] tier: {name}: loop at pc {pc} entered by OSR: {} -> {} (first entry)\n",
            from.name(),
            to.name()
        ),
        TierEventKind::CompileFailed { from, to } => format!(
            "[{ms:10.3} ms] tier: {name}: {} -> {} failed; it stays in {}\n",
            from.name(),
            to.name(),
            from.name()
        ),
        TierEventKind::CacheLoad { tier } => format!(
            "[{ms:10.3} ms] tier: {name}: installed {} code from cache\n",
            tier.name()
        ),
    }
}

/// The loop headers of a function (targets of backward branches),
/// sorted.
struct LoopHeaders {
    all: Vec<u32>,
    /// Those of loops no other loop of the function contains.
    outermost: Vec<u32>,
    /// For each of `outermost`, the last pc of its loop nest.
    outermost_ends: Vec<u32>,
}

impl LoopHeaders {
    fn of(f: &tierjit_tiers::bytecode::Function) -> LoopHeaders {
        let mut loops = f.loops();
        loops.sort_unstable();
        let mut all: Vec<u32> = loops.iter().map(|&(t, _)| t).collect();
        all.dedup();
        // A header is outermost if no loop with an earlier header reaches
        // it: sweep the loops by header, keeping the furthest end so far.
        let mut outermost = Vec::new();
        let mut outermost_ends: Vec<u32> = Vec::new();
        let mut reach: Option<u32> = None;
        for (i, &(t, b)) in loops.iter().enumerate() {
            let first_of_header = i == 0 || loops[i - 1].0 != t;
            if first_of_header && reach.is_none_or(|r| r < t) {
                outermost.push(t);
                outermost_ends.push(b);
            }
            reach = Some(reach.map_or(b, |r| r.max(b)));
            if let Some(end) = outermost_ends.last_mut() {
                *end = (*end).max(b);
            }
        }
        LoopHeaders {
            all,
            outermost,
            outermost_ends,
        }
    }

    /// The header of the outermost loop whose nest holds `pc`.
    fn outermost_containing(&self, pc: u32) -> Option<u32> {
        let i = self
            .outermost
            .partition_point(|&h| h <= pc)
            .checked_sub(1)?;
        (pc <= self.outermost_ends[i]).then_some(self.outermost[i])
    }
}

/// Code installed for a function.
struct Installed {
    blob: Blob,
    /// `(loop header pc, offset)` of each on-stack-replacement entry.
    osr: Vec<(u32, u32)>,
    /// Its direct calls, if known (code installed through [`Vm::install`]
    /// does not say, and is not saved in the code cache).
    sites: Option<Vec<tierjit_tiers::code::CallSite>>,
}

/// Total time of each optimizer stage over every function compiled.
#[derive(Clone, Debug, Default)]
pub struct PassTimes {
    /// (stage, total time, compilations), in pipeline order.
    pub stages: Vec<(&'static str, std::time::Duration, u64)>,
}

impl PassTimes {
    fn add(&mut self, report: &opt::Report) {
        for &(name, time) in &report.times {
            match self.stages.iter_mut().find(|s| s.0 == name) {
                Some(s) => {
                    s.1 += time;
                    s.2 += 1;
                }
                None => self.stages.push((name, time, 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LoopHeaders;

    #[test]
    fn outermost_loop_headers_are_those_no_other_loop_contains() {
        let source = b"fn f(n: int) -> int {
            let s = 0;
            for i in 0..n {
                for j in 0..n {
                    for k in 0..n { s = s + k; }
                }
                let w = 0;
                while w < n { w = w + 1; }
            }
            let z = 0;
            while z < n { z = z + 2; }
            return s + z;
        }
        fn main() { print(f(3)); }";
        let module = crate::lang::compile(source).expect("compiles");
        let f = module.func(module.find("f").expect("f"));
        let headers = LoopHeaders::of(f);
        assert_eq!(headers.all.len(), 5, "{:?}", headers.all);
        // The `for i` loop and the last `while`, in pc order.
        assert_eq!(headers.outermost.len(), 2, "{:?}", headers.outermost);
        let loops = f.loops();
        for &h in &headers.outermost {
            assert!(!loops.iter().any(|&(t, b)| t < h && h <= b));
        }
        for &h in &headers.all {
            let contained = loops.iter().any(|&(t, b)| t < h && h <= b);
            assert_eq!(headers.outermost.contains(&h), !contained);
        }
        // Every pc inside a nest belongs to the nest's outermost header;
        // pcs between nests to none.
        for pc in 0..f.code.len() as u32 {
            let outer = loops
                .iter()
                .filter(|&&(t, b)| t <= pc && pc <= b)
                .map(|&(t, _)| t)
                .min();
            assert_eq!(headers.outermost_containing(pc), outer, "pc {pc}");
        }
    }
}
