//! Automatic tiering: the policy that turns samples into compile requests,
//! the background compiler, and the stress mode.
//!
//! **Policy.** The profiler's aggregator calls [`Tiering::policy_tick`]
//! after each drain with every function's decayed CPU time. An
//! interpreted function whose time reaches
//! [`TierPolicy::baseline_threshold_ns`] is queued for the baseline
//! compiler, or straight for the optimizer if it already reaches
//! [`TierPolicy::opt_direct_threshold_ns`]; a function in baseline code
//! whose time reaches [`TierPolicy::opt_threshold_ns`] is queued for the
//! optimizer. Samples decide; there are no counters in code. Each
//! function's state is one byte ([`FuncState`]): the tier it runs in and
//! the tier a compile is queued for, so a function is queued at most once
//! per step up.
//!
//! **Background compilation.** One compiler thread takes requests from a
//! crossbeam channel, compiles, places and installs (one aligned store into
//! the method-table slot). Mutators never wait: they pick up the new code
//! at their next call. Replaced code is retired and freed only after the
//! [`Retirer`](super::retire::Retirer)'s stack walk finds no thread inside it.
//!
//! **Stress mode.** The compiler thread also flips random functions among
//! the interpreter, fresh baseline code and fresh optimized code every few
//! milliseconds, retiring the old code each time, while the program runs.

use super::Vm;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::code::Tier;

/// When a function is worth compiling.
#[derive(Clone, Copy, Debug)]
pub struct TierPolicy {
    /// Decayed CPU time (nanoseconds, half-life 200 ms) at which an
    /// interpreted function is queued for the baseline compiler.
    pub baseline_threshold_ns: f64,
    /// Decayed CPU time at which a function in baseline code is queued
    /// for the optimizer.
    pub opt_threshold_ns: f64,
    /// Decayed CPU time at which a function still interpreted is queued
    /// for the optimizer directly, skipping the baseline tier.
    pub opt_direct_threshold_ns: f64,
    /// In stress mode, how often a function is flipped between tiers.
    pub stress_period: Duration,
    /// How long after a function's optimized code is installed its
    /// activations still found in the interpreter or baseline code may
    /// enter optimized OSR code at inner loops (`Vm::note_behind`): an
    /// outer loop that comes round within this takes them in at its header
    /// instead.
    pub behind: Duration,
}

/// The default [`TierPolicy::opt_threshold_ns`]: see docs/tiering.md for
/// the measurements that chose it.
pub const OPT_THRESHOLD_NS: f64 = 1_000_000.0;

/// The default [`TierPolicy::opt_direct_threshold_ns`].
pub const OPT_DIRECT_THRESHOLD_NS: f64 = 1_500_000.0;

impl Default for TierPolicy {
    /// 0.5 ms of recent CPU time, a function's first sample at the
    /// default 1 kHz, for baseline code: a baseline compile costs tens of
    /// microseconds, so compiling anything the sampler sees running at
    /// all pays off; 1 ms (its next sample) for optimized code, and 1.5 ms
    /// at the first look to skip baseline code (measured on `benches/`:
    /// docs/tiering.md).
    fn default() -> TierPolicy {
        TierPolicy {
            baseline_threshold_ns: 500_000.0,
            opt_threshold_ns: OPT_THRESHOLD_NS,
            opt_direct_threshold_ns: OPT_DIRECT_THRESHOLD_NS,
            stress_period: Duration::from_millis(2),
            behind: Duration::from_millis(20),
        }
    }
}

/// One function's tiering state, packed in a byte so that queueing is one
/// compare-and-swap: bits 0-1 hold the tier its code runs in, bits 2-3 the
/// tier a compile is queued for (0: none; the interpreter is never a
/// target). A compile that fails leaves its target queued, so the function
/// is not queued for that tier again.
pub struct FuncState(AtomicU8);

impl FuncState {
    fn pack(current: Tier, queued: Option<Tier>) -> u8 {
        (current.as_u32() | queued.map_or(0, Tier::as_u32) << 2) as u8
    }

    fn unpack(bits: u8) -> (Tier, Option<Tier>) {
        let tier = |n: u8| Tier::from_u32(u32::from(n & 3)).unwrap_or(Tier::Interp);
        let queued = bits >> 2 & 3;
        (tier(bits), (queued != 0).then(|| tier(queued)))
    }

    /// Interpreted, nothing queued.
    pub fn new() -> FuncState {
        FuncState(AtomicU8::new(Self::pack(Tier::Interp, None)))
    }

    /// The tier the function runs in, and the tier it is queued for.
    pub fn load(&self) -> (Tier, Option<Tier>) {
        Self::unpack(self.0.load(Ordering::Acquire))
    }

    /// Marks a compile from `from` to `to` queued; false if the function
    /// is not at `from` or a compile is already queued.
    pub fn try_queue(&self, from: Tier, to: Tier) -> bool {
        self.0
            .compare_exchange(
                Self::pack(from, None),
                Self::pack(from, Some(to)),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Records that the function now runs in `tier`, nothing queued.
    pub fn set(&self, tier: Tier) {
        self.0.store(Self::pack(tier, None), Ordering::Release);
    }
}

impl Default for FuncState {
    fn default() -> FuncState {
        FuncState::new()
    }
}

/// A request for the compiler thread.
struct CompileRequest {
    func: FuncId,
    tier: Tier,
    /// For optimized code entered at this loop header alone (on-stack
    /// replacement), installed in no slot.
    osr_pc: Option<u32>,
    queued_at: Instant,
}

/// The tiering state of one Vm.
pub struct Tiering {
    policy: TierPolicy,
    stress: bool,
    state: Vec<FuncState>,
    /// Compile requests; `None` only wakes the thread (to see a stop).
    queue: Sender<Option<CompileRequest>>,
    receiver: Mutex<Option<Receiver<Option<CompileRequest>>>>,
    stop: AtomicBool,
    compiler: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Hot-detection to installed-code latency, in nanoseconds: of every
    /// tier-up, then of those to baseline code and to optimized code.
    pub latency: Mutex<[hdrhistogram::Histogram<u64>; 3]>,
    /// The compiler thread's CPU time, in nanoseconds, written when it
    /// stops.
    compiler_cpu_ns: Arc<AtomicU64>,
    /// When a compile was last queued or finished (monotonic ns; 0: never,
    /// and nothing is expected: [`Tiering::quiet_since_start`]).
    last_activity_ns: AtomicU64,
    /// The last policy tick found a function with heat short of its next
    /// tier's threshold.
    rising: std::sync::atomic::AtomicBool,
}

impl Tiering {
    /// Tiering for `functions` functions.
    pub fn new(functions: usize, policy: TierPolicy, stress: bool) -> Tiering {
        let (queue, receiver) = crossbeam_channel::unbounded();
        Tiering {
            policy,
            stress,
            state: (0..functions).map(|_| FuncState::new()).collect(),
            queue,
            receiver: Mutex::new(Some(receiver)),
            stop: AtomicBool::new(false),
            compiler: Mutex::new(None),
            latency: Mutex::new(std::array::from_fn(|_| {
                hdrhistogram::Histogram::new(3).expect("3 significant figures is valid")
            })),
            compiler_cpu_ns: Arc::new(AtomicU64::new(0)),
            last_activity_ns: AtomicU64::new(super::profiling::monotonic_ns()),
            rising: Default::default(),
        }
    }

    /// Notes a compile queued or finished now.
    fn active(&self) {
        self.last_activity_ns
            .store(super::profiling::monotonic_ns(), Ordering::Relaxed);
    }

    /// True if no compile was queued or finished in the last `ns`
    /// nanoseconds, nor is one queued, nor did the last policy tick find a
    /// function on its way to a tier (some heat, not yet enough); stress
    /// never is.
    pub fn quiet_for(&self, ns: u64) -> bool {
        !self.stress
            && !self.rising.load(Ordering::Relaxed)
            && super::profiling::monotonic_ns()
                .saturating_sub(self.last_activity_ns.load(Ordering::Relaxed))
                >= ns
            && self.queue.is_empty()
    }

    /// Counts the run as quiet from its start: code for what is hot is
    /// there already (loaded from the code cache), so nothing is expected.
    pub fn quiet_since_start(&self) {
        self.last_activity_ns.store(0, Ordering::Relaxed);
    }

    /// The tier `func`'s code runs in, as this policy last recorded it.
    pub fn tier_of(&self, func: FuncId) -> Tier {
        self.state[func.index()].load().0
    }

    /// True if `func` is queued for the optimizer.
    pub fn queued_for_opt(&self, func: FuncId) -> bool {
        self.state[func.index()].load().1 == Some(Tier::Opt)
    }

    /// Notes that `func` was compiled for `tier` eagerly (not by this
    /// policy).
    pub fn mark_compiled(&self, func: FuncId, tier: Tier) {
        self.state[func.index()].set(tier);
    }

    /// Queues `func`, in baseline code, for the optimizer (unless a
    /// compile is queued already).
    pub fn queue_optimization(&self, func: FuncId) {
        self.queue(func, Tier::Baseline, Tier::Opt);
    }

    /// Starts the compiler thread (it holds only a weak reference).
    pub fn start(&self, vm: Weak<Vm>) {
        let Some(receiver) = self.receiver.lock().take() else {
            return;
        };
        let period = if self.stress {
            self.policy.stress_period
        } else {
            Duration::from_millis(10)
        };
        let cpu_ns = self.compiler_cpu_ns.clone();
        let waiting = Arc::new(AtomicBool::new(false));
        let first_wait = waiting.clone();
        let handle = std::thread::Builder::new()
            .name("tj-compiler".into())
            .spawn(move || {
                let _ = tierjit_profiler::latency::ask_short_slice();
                compiler_loop(vm, receiver, period, &first_wait);
                cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
            });
        // Let the new thread reach its first wait before going on to
        // start the program. Still runnable when the program's thread is
        // created, it can be preempted by it and left queued behind it on
        // the same core, with the other core idle, until the scheduler
        // next balances (its 4 ms tick): the first compiles then wait that
        // long. Asleep, it is woken onto an idle core when work comes.
        if handle.is_ok() {
            let give_up = Instant::now() + FIRST_WAIT_WITHIN;
            while !waiting.load(Ordering::Acquire) && Instant::now() < give_up {
                std::thread::yield_now();
            }
        }
        *self.compiler.lock() = handle.ok();
    }

    /// Stops the compiler thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        // Wake it now rather than at its next timeout.
        let _ = self.queue.send(None);
        if let Some(handle) = self.compiler.lock().take() {
            let _ = handle.join();
        }
    }

    /// The compiler thread's CPU time in nanoseconds (once it stopped).
    pub fn compiler_cpu_ns(&self) -> u64 {
        self.compiler_cpu_ns.load(Ordering::Relaxed)
    }

    /// Queues every hot function for the next tier up (`hot`: decayed CPU
    /// time per function, hottest first).
    pub fn policy_tick(&self, hot: &[(FuncId, f64)]) {
        if self.stress {
            return;
        }
        let policy = &self.policy;
        let lowest = policy
            .baseline_threshold_ns
            .min(policy.opt_threshold_ns)
            .min(policy.opt_direct_threshold_ns);
        // A function with some heat but not enough for its next tier yet.
        let mut rising = false;
        for &(func, heat) in hot {
            if heat < lowest {
                break;
            }
            let state = &self.state[func.index()];
            let (from, to) = match state.load() {
                (_, Some(_)) | (Tier::Opt, None) => continue,
                (Tier::Interp, None) if heat >= policy.opt_direct_threshold_ns => {
                    (Tier::Interp, Tier::Opt)
                }
                (Tier::Interp, None) if heat >= policy.baseline_threshold_ns => {
                    (Tier::Interp, Tier::Baseline)
                }
                (Tier::Baseline, None) if heat >= policy.opt_threshold_ns => {
                    (Tier::Baseline, Tier::Opt)
                }
                _ => {
                    rising = true;
                    continue;
                }
            };
            self.queue(func, from, to);
        }
        self.rising.store(rising, Ordering::Relaxed);
    }

    /// Queues what hot call sites predict (`calls`: decayed CPU time below
    /// each call site, by caller and call pc; `followers(caller, pc)`: the
    /// functions the caller calls next in the same basic block):
    /// - a caller still interpreted gets baseline code once the time below
    ///   one of its calls reaches the baseline threshold: it is on the
    ///   stack of hot code and gets control back, and its interpreted
    ///   activation moves into the baseline code at its next loop back edge
    ///   (`matmul`'s `main` sums its result in a loop after the hot calls);
    /// - the functions called right after a call site whose time reaches
    ///   the optimizer's threshold go to the optimizer before they first
    ///   run: nothing can stop them from running next but a runtime error,
    ///   and a phase that follows a hot phase is likely hot
    ///   (`spectralnorm`'s `mul_atv` after `mul_av`, `matmul`'s `matmul`
    ///   after `fill`), so it starts in optimized code instead of spending
    ///   its first milliseconds interpreted.
    pub fn predict_tick(
        &self,
        calls: &std::collections::HashMap<(FuncId, u32), u64>,
        followers: impl Fn(FuncId, u32) -> Vec<FuncId>,
    ) {
        if self.stress {
            return;
        }
        let policy = &self.policy;
        for (&(caller, pc), &heat) in calls {
            let heat = heat as f64;
            if heat >= policy.baseline_threshold_ns {
                self.queue(caller, Tier::Interp, Tier::Baseline);
            }
            if heat >= policy.opt_threshold_ns {
                for next in followers(caller, pc) {
                    let from = self.tier_of(next);
                    if from != Tier::Opt {
                        self.queue(next, from, Tier::Opt);
                    }
                }
            }
        }
    }

    /// Queues `func` for a compile from `from` to `to`, unless it is not at
    /// `from` or a compile is queued already.
    fn queue(&self, func: FuncId, from: Tier, to: Tier) {
        if self.state[func.index()].try_queue(from, to) {
            self.active();
            let _ = self.queue.send(Some(CompileRequest {
                func,
                tier: to,
                osr_pc: None,
                queued_at: Instant::now(),
            }));
        }
    }

    /// Queues the optimizer for code of `func` entered at loop header `pc`
    /// (the OSR cache asks, once per header: `OsrCode::ready_entry`).
    pub fn request_osr(&self, func: FuncId, pc: u32) {
        self.active();
        let _ = self.queue.send(Some(CompileRequest {
            func,
            tier: Tier::Opt,
            osr_pc: Some(pc),
            queued_at: Instant::now(),
        }));
    }
}

/// The calling thread's CPU time, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    super::retire::clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// How often the idle compiler thread asks whether the code cache is due
/// a save (`Vm::save_code_cache_if_due`, which saves at most once per
/// `code_cache::SAVE_AFTER`).
const SAVE_CHECK_EVERY: Duration = Duration::from_millis(100);

/// Stress periods below this spin instead of sleeping (see `compiler_loop`).
const SPIN_BELOW: Duration = Duration::from_millis(1);

/// `recv_timeout` by spinning.
fn spin_recv<T>(requests: &Receiver<T>, period: Duration) -> Result<T, RecvTimeoutError> {
    let deadline = Instant::now() + period;
    loop {
        match requests.try_recv() {
            Ok(request) => return Ok(request),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) if Instant::now() >= deadline => {
                return Err(RecvTimeoutError::Timeout)
            }
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
}

/// How long starting the compiler thread waits for it to reach its first
/// wait ([`Tiering::start`]).
const FIRST_WAIT_WITHIN: Duration = Duration::from_micros(200);

/// The compiler thread: compiles what is queued, and drives stress flips,
/// code-cache saves and retirement. Sets `first_wait` before it first
/// waits for a request.
fn compiler_loop(
    vm: Weak<Vm>,
    requests: Receiver<Option<CompileRequest>>,
    period: Duration,
    first_wait: &AtomicBool,
) {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    // A thread that sleeps between stress flips of tens of microseconds
    // waits for a scheduler tick to run again whenever the mutators keep
    // every core busy (a flip every few milliseconds); spinning keeps it
    // runnable, so it gets its share of the cores.
    let spin = period < SPIN_BELOW;
    let mut next_turn = Instant::now() + period;
    // Requests taken off the channel and not compiled yet.
    let mut pending = std::collections::VecDeque::new();
    let mut next_save_check = Instant::now();
    // When the profile's aggregator turn is due (`Profiling::aggregate`;
    // None: the Vm does not sample, or its profiling has finished).
    let mut next_aggregate = Some(Instant::now());
    loop {
        let due = next_aggregate.map_or(next_turn, |at| at.min(next_turn));
        let wait = due.saturating_duration_since(Instant::now());
        first_wait.store(true, Ordering::Release);
        let request = if !pending.is_empty() {
            Ok(None)
        } else if spin {
            spin_recv(&requests, wait)
        } else {
            requests.recv_timeout(wait)
        };
        // Everything queued meanwhile, so that the next compile is the
        // most urgent one (`next_request`).
        let request = match request {
            Ok(first) => {
                pending.extend(first);
                pending.extend(requests.try_iter().flatten());
                Ok(next_request(&mut pending))
            }
            Err(e) => Err(e),
        };
        let Some(vm) = vm.upgrade() else { return };
        let tiering = vm.tiering.as_ref().expect("started with tiering");
        if tiering.stop.load(Ordering::Acquire) {
            return;
        }
        // The tier policy runs on this thread, so the compiles it queues
        // start here, next turn, with no wake-up to wait for.
        if next_aggregate.is_some_and(|at| Instant::now() >= at) {
            next_aggregate = vm
                .profiling
                .as_ref()
                .and_then(|p| p.aggregate(&vm))
                .map(|wait| Instant::now() + wait);
        }
        match request {
            Ok(Some(request)) => compile_request(&vm, tiering, request),
            // A wake-up: the stop flag is checked above, on every turn.
            Ok(None) => continue,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // A long run saves new code when the compiler is idle.
        if pending.is_empty() && requests.is_empty() && Instant::now() >= next_save_check {
            vm.save_code_cache_if_due();
            next_save_check = Instant::now() + SAVE_CHECK_EVERY;
        }
        if tiering.stress {
            next_turn = stress_flips(&vm, tiering, &mut rng, next_turn, period);
        } else if Instant::now() >= next_turn {
            next_turn = Instant::now() + period;
        }
        // Frees what finished handshake rounds allow and starts a round
        // when one is due; never waits for the mutators (retire.rs).
        vm.collect_retired();
    }
}

/// The next request to compile: the oldest one for baseline code, which
/// takes tens of microseconds, before any for the optimizer, which takes
/// hundreds (a function going from interpreted to baseline code is the
/// slowest code running, and a compile ahead of need must not delay it);
/// otherwise the oldest.
fn next_request(
    pending: &mut std::collections::VecDeque<CompileRequest>,
) -> Option<CompileRequest> {
    let at = pending
        .iter()
        .position(|r| r.tier == Tier::Baseline)
        .unwrap_or(0);
    pending.remove(at)
}

/// At most this many stress flips in one turn of the compiler thread.
const STRESS_BURST: u32 = 64;

/// Flips one random function for every stress period that has passed
/// since `due`, so that a compiler thread the scheduler kept waiting
/// catches up (at most [`STRESS_BURST`] at once: beyond that the backlog
/// is dropped); gives when the next flip is due.
fn stress_flips(
    vm: &Vm,
    tiering: &Tiering,
    rng: &mut u64,
    mut due: Instant,
    period: Duration,
) -> Instant {
    let mut flips = 0;
    while Instant::now() >= due {
        if flips == STRESS_BURST {
            return Instant::now() + period;
        }
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        let func = FuncId((*rng % tiering.state.len().max(1) as u64) as u32);
        stress_flip(vm, tiering, func, *rng >> 32);
        flips += 1;
        due += period;
    }
    due
}

fn compile_request(vm: &Vm, tiering: &Tiering, request: CompileRequest) {
    compile_one(vm, tiering, request);
    tiering.active();
}

fn compile_one(vm: &Vm, tiering: &Tiering, request: CompileRequest) {
    let queue_ns = request.queued_at.elapsed().as_nanos() as u64;
    if let Some(pc) = request.osr_pc {
        vm.complete_osr(request.func, pc, queue_ns);
        return;
    }
    let state = &tiering.state[request.func.index()];
    let from = state.load().0;
    let mut tier = request.tier;
    let mut compiled = vm.compile_timed(request.func, tier, queue_ns);
    // An interpreted function the optimizer declines (its size budget, a
    // failure) still deserves baseline code.
    if compiled.is_err() && tier == Tier::Opt && from == Tier::Interp {
        tier = Tier::Baseline;
        compiled = vm.compile_timed(request.func, tier, queue_ns);
    }
    let compiled = compiled.is_ok();
    // A function the compilers cannot take stays where it is, still marked
    // queued (FuncState), so it is not queued again.
    if compiled {
        state.set(tier);
        let ns = request.queued_at.elapsed().as_nanos().max(1) as u64;
        let mut latency = tiering.latency.lock();
        let _ = latency[0].record(ns);
        let _ = latency[tier.as_u32() as usize].record(ns);
    }
}

/// Moves `func` to another tier, `pick` choosing which: to optimized code
/// one time in four, else between the interpreter (retiring the code)
/// and fresh baseline code. Installing optimized code also sets the OSR flags, so
/// running baseline activations move into optimized OSR code.
fn stress_flip(vm: &Vm, tiering: &Tiering, func: FuncId, pick: u64) {
    let state = &tiering.state[func.index()];
    let current = state.load().0;
    // Optimized code one time in four: an optimizing compile costs ten
    // times a baseline one, and the flips should stay many.
    let to = match (current, pick % 4) {
        (Tier::Opt, p) => [Tier::Interp, Tier::Baseline][(p % 2) as usize],
        (_, 0) => Tier::Opt,
        (Tier::Interp, _) => Tier::Baseline,
        _ => Tier::Interp,
    };
    if to == Tier::Interp {
        vm.uninstall(func);
        state.set(Tier::Interp);
    } else if vm.compile(func, to).is_ok() {
        state.set(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn func_state_queues_once_per_step_up() {
        let state = FuncState::new();
        assert_eq!(state.load(), (Tier::Interp, None));
        assert!(!state.try_queue(Tier::Baseline, Tier::Opt));
        assert!(state.try_queue(Tier::Interp, Tier::Baseline));
        assert!(!state.try_queue(Tier::Interp, Tier::Baseline));
        assert_eq!(state.load(), (Tier::Interp, Some(Tier::Baseline)));
        state.set(Tier::Baseline);
        assert_eq!(state.load(), (Tier::Baseline, None));
        assert!(state.try_queue(Tier::Baseline, Tier::Opt));
        assert_eq!(state.load(), (Tier::Baseline, Some(Tier::Opt)));
        state.set(Tier::Opt);
        assert_eq!(state.load(), (Tier::Opt, None));
    }
}

/// For each call of a function, the functions it calls next in the same
/// basic block (what [`Tiering::predict_tick`] compiles ahead).
#[derive(Debug, Default)]
pub struct CallsNext(Vec<(u32, Vec<FuncId>)>);

impl CallsNext {
    /// The calls of `f` and the calls that follow each, up to the end of
    /// its basic block (a branch, a return, or a branch target).
    pub fn of(f: &tierjit_tiers::bytecode::Function) -> CallsNext {
        use tierjit_tiers::bytecode::{Effects, Instr};
        let callee = |instr: &Instr| match *instr {
            Instr::Call { func, .. } | Instr::CallVoid { func, .. } => Some(func),
            _ => None,
        };
        let targets: std::collections::HashSet<u32> =
            f.code.iter().filter_map(|i| i.target()).collect();
        let ends_block = |instr: &Instr| {
            let effects = instr.effects();
            effects.contains(Effects::BRANCH) || effects.contains(Effects::TERMINATOR)
        };
        let mut calls = Vec::new();
        for (pc, instr) in f.code.iter().enumerate() {
            if callee(instr).is_none() {
                continue;
            }
            let mut next = Vec::new();
            for (q, later) in f.code.iter().enumerate().skip(pc + 1) {
                if targets.contains(&(q as u32)) {
                    break;
                }
                if let Some(g) = callee(later) {
                    if !next.contains(&g) {
                        next.push(g);
                    }
                }
                if ends_block(later) {
                    break;
                }
            }
            if !next.is_empty() {
                calls.push((pc as u32, next));
            }
        }
        CallsNext(calls)
    }

    /// The functions called after the call at `pc` in its block.
    pub fn after(&self, pc: u32) -> &[FuncId] {
        match self.0.binary_search_by_key(&pc, |&(p, _)| p) {
            Ok(i) => &self.0[i].1,
            Err(_) => &[],
        }
    }
}

/// The call sites of a function that may run again and again and whose
/// callee its optimized code inlines: calls in a loop of the caller, to a
/// function other than the caller that calls nothing and loops nowhere
/// and has at most `opt::inline::MAX_HOT_CALLEE_SIZE` instructions (the
/// inliner's limit at a call site the profile saw running, as every site
/// with time below it has). Once the caller is optimized, the time below
/// them is the caller's own ([`InlinedCalls::add_to_callers`]). Each is
/// kept with the header of the innermost loop around it. A callee with a
/// loop spends its time there, and inlined, its loops ran slower (`sieve`
/// inlined into `main`, docs/tiering.md).
pub struct InlinedCalls(Vec<(u32, u32)>);

impl InlinedCalls {
    /// The inlined call sites of `module.funcs[index]`, in pc order.
    pub fn of(module: &tierjit_tiers::bytecode::Module, index: usize) -> InlinedCalls {
        use tierjit_tiers::bytecode::Instr;
        use tierjit_tiers::opt::inline::MAX_HOT_CALLEE_SIZE;
        let callee = |instr: &Instr| match *instr {
            Instr::Call { func, .. } | Instr::CallVoid { func, .. } => Some(func),
            _ => None,
        };
        let leaf = |func: FuncId| {
            module.funcs.get(func.index()).is_some_and(|g| {
                g.code.len() <= MAX_HOT_CALLEE_SIZE
                    && g.loops().is_empty()
                    && !g.code.iter().any(|i| callee(i).is_some())
            })
        };
        let f = &module.funcs[index];
        let loops = f.loops();
        let sites = f
            .code
            .iter()
            .enumerate()
            .filter(|(_, instr)| callee(instr).is_some_and(|g| g.index() != index && leaf(g)))
            .filter_map(|(pc, _)| {
                tierjit_profiler::hotness::innermost_loop(&loops, pc as u32)
                    .map(|header| (pc as u32, header))
            })
            .collect();
        InlinedCalls(sites)
    }

    /// True if the call at `pc` is inlined.
    pub fn contains(&self, pc: u32) -> bool {
        self.loop_of(pc).is_some()
    }

    /// The header of the innermost loop around the inlined call at `pc`.
    fn loop_of(&self, pc: u32) -> Option<u32> {
        let at = self.0.binary_search_by_key(&pc, |&(p, _)| p).ok()?;
        Some(self.0[at].1)
    }

    /// The heat the policy weighs for each function (`own`: decayed time
    /// of its own code, hottest first): its own, plus the time below its
    /// inlined call sites (`calls`) whose loop has time of its own too
    /// (`loops_with_own_time`: the function and loop header of every loop
    /// that samples' innermost frames were in), hottest first.
    /// `spectralnorm`'s `mul_av` spends half its time in `eval_a`, which
    /// its optimized code inlines: counting only its own samples, it
    /// waited twice as long in baseline code for its next tier. A loop
    /// with no time of its own makes few calls, each long: its caller
    /// gains nothing from optimizing them.
    pub fn add_to_callers(
        of: &[InlinedCalls],
        own: &[(FuncId, f64)],
        calls: &std::collections::HashMap<(FuncId, u32), u64>,
        loops_with_own_time: &std::collections::HashSet<(FuncId, u32)>,
    ) -> Vec<(FuncId, f64)> {
        let mut heat: std::collections::HashMap<FuncId, f64> = own.iter().copied().collect();
        for (&(caller, pc), &below) in calls {
            let header = of.get(caller.index()).and_then(|sites| sites.loop_of(pc));
            if header.is_some_and(|h| loops_with_own_time.contains(&(caller, h))) {
                *heat.entry(caller).or_default() += below as f64;
            }
        }
        let mut heat: Vec<(FuncId, f64)> = heat.into_iter().collect();
        heat.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0 .0.cmp(&b.0 .0)));
        heat
    }
}

#[cfg(test)]
mod calls_next_tests {
    use super::*;
    use tierjit_tiers::bytecode::Instr;

    #[test]
    fn calls_later_in_the_block_follow_a_call_and_a_branch_target_ends_it() {
        let module = crate::lang::compile(
            b"fn a() {} fn b() {} fn c() {}
              fn main() { a(); b(); a(); if argc() > 0 { c(); } b(); }",
        )
        .unwrap();
        let id =
            |name: &str| FuncId(module.funcs.iter().position(|f| f.name == name).unwrap() as u32);
        let main = &module.funcs[id("main").index()];
        let next = CallsNext::of(main);
        // The calls of main, in order, each with what follows it.
        let calls: Vec<(FuncId, Vec<FuncId>)> = main
            .code
            .iter()
            .enumerate()
            .filter_map(|(pc, instr)| match *instr {
                Instr::Call { func, .. } | Instr::CallVoid { func, .. } => {
                    Some((func, next.after(pc as u32).to_vec()))
                }
                _ => None,
            })
            .collect();
        let (a, b, c) = (id("a"), id("b"), id("c"));
        assert_eq!(
            calls,
            vec![
                (a, vec![b, a]),
                (b, vec![a]),
                // The `if` ends the block: `c` may not run.
                (a, vec![]),
                // `b` runs after the `if`, at a branch target: another block.
                (c, vec![]),
                (b, vec![]),
            ]
        );
    }
}

#[cfg(test)]
mod inlined_calls_tests {
    use super::*;
    use std::collections::HashMap;
    use tierjit_tiers::bytecode::Instr;

    /// The call pcs of `caller` to `callee` in `module`.
    fn calls_to(
        module: &tierjit_tiers::bytecode::Module,
        caller: usize,
        callee: FuncId,
    ) -> Vec<u32> {
        module.funcs[caller]
            .code
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                matches!(**i, Instr::Call { func, .. } | Instr::CallVoid { func, .. } if func == callee)
            })
            .map(|(pc, _)| pc as u32)
            .collect()
    }

    #[test]
    fn only_calls_in_loops_to_small_leaves_count_for_the_caller() {
        let module = crate::lang::compile(
            b"fn leaf(i: int) -> int { return i * 2; }
              fn caller_of_leaf(i: int) -> int { return leaf(i) + 1; }
              fn looping(n: int) -> int { let s = 0; for i in 0..n { s = s + i; } return s; }
              fn rec(i: int) -> int { if i > 0 { return i; } return rec(i + 1); }
              fn main() {
                  let s = leaf(1);
                  for i in 0..10 {
                      s = s + leaf(i) + caller_of_leaf(i) + rec(i) + looping(i);
                  }
                  print(s);
              }",
        )
        .unwrap();
        let id = |name: &str| module.funcs.iter().position(|f| f.name == name).unwrap();
        let main = id("main");
        let leaf = FuncId(id("leaf") as u32);
        let sites = InlinedCalls::of(&module, main);
        let leaf_calls = calls_to(&module, main, leaf);
        assert_eq!(leaf_calls.len(), 2);
        // The call before the loop runs once: not counted.
        assert!(!sites.contains(leaf_calls[0]));
        assert!(sites.contains(leaf_calls[1]));
        // A callee that calls, a recursive one and one with a loop are
        // not counted.
        for name in ["caller_of_leaf", "rec", "looping"] {
            for pc in calls_to(&module, main, FuncId(id(name) as u32)) {
                assert!(!sites.contains(pc), "{name}");
            }
        }
        // A recursive call of the function itself is never counted.
        let rec = id("rec");
        for pc in calls_to(&module, rec, FuncId(rec as u32)) {
            assert!(!InlinedCalls::of(&module, rec).contains(pc));
        }
    }

    #[test]
    fn time_below_inlined_calls_joins_the_callers_own_and_reorders() {
        let module = crate::lang::compile(
            b"fn leaf(i: int) -> int { return i * 2; }
              fn other() {}
              fn main() {
                  let s = 0;
                  for i in 0..10 { s = s + leaf(i); }
                  other();
                  print(s);
              }",
        )
        .unwrap();
        let id = |name: &str| module.funcs.iter().position(|f| f.name == name).unwrap();
        let of: Vec<InlinedCalls> = (0..module.funcs.len())
            .map(|i| InlinedCalls::of(&module, i))
            .collect();
        let (main, leaf, other) = (id("main"), id("leaf"), id("other"));
        let in_loop = calls_to(&module, main, FuncId(leaf as u32))[0];
        let outside = calls_to(&module, main, FuncId(other as u32))[0];
        let own = vec![
            (FuncId(leaf as u32), 900.0),
            (FuncId(other as u32), 500.0),
            (FuncId(main as u32), 100.0),
        ];
        let calls = HashMap::from([
            ((FuncId(main as u32), in_loop), 900),
            ((FuncId(main as u32), outside), 500),
        ]);
        // Without time of main's own in its loop, the calls there count
        // for nothing; with it, the time below them is main's.
        let none = std::collections::HashSet::new();
        assert_eq!(InlinedCalls::add_to_callers(&of, &own, &calls, &none), own);
        let header = module.funcs[main].loops()[0].0;
        let busy = std::collections::HashSet::from([(FuncId(main as u32), header)]);
        let heat = InlinedCalls::add_to_callers(&of, &own, &calls, &busy);
        assert_eq!(
            heat,
            vec![
                (FuncId(main as u32), 1000.0),
                (FuncId(leaf as u32), 900.0),
                (FuncId(other as u32), 500.0),
            ]
        );
    }
}
