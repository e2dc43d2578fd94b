//! Profiling a run: sampler registration per thread, the aggregator, and
//! the finished [`Profile`].
//!
//! Each thread that runs tj code registers with the sampler for as long as
//! it runs, describing its interpreted frame records to it. The aggregator
//! thread drains every thread's ring every few milliseconds and resolves the
//! raw frames (native pcs and interpreted records) into (function, tier,
//! line) while the code they point into is still mapped.

use super::{profile_tier, Vm};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::mem::offset_of;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tierjit_profiler::hotness::{innermost_loop, CallKey, Hotness, LoopKey, PcKey};
use tierjit_profiler::profile::{Frame, Profile, Sample, SamplerStats, Tier};
use tierjit_profiler::ring::{RawSample, Ring, FRAME_INTERP, FRAME_NATIVE, FRAME_PAYLOAD};
use tierjit_profiler::sampler::{Engine, Registration, Sampler, SamplerConfig};
use tierjit_profiler::stackwalk::{FramedStub, InterpFrames, RecordLayout, NO_FRAME_ENTRY_WORDS};
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::exec::{FrameRecord, ThreadState};
use tierjit_tiers::interp;

/// Recent CPU time in a loop (one sample at 1 kHz) for which a function
/// queued for the optimizer gets OSR code for it too
/// ([`Vm::compile_hot_loops_ahead`]).
const HOT_LOOP_NS: f64 = 1_000_000.0;

/// How often the aggregator drains the rings (and the tier policy looks
/// at the samples).
const DRAIN_EVERY: Duration = Duration::from_millis(10);

/// ... and during the first `STARTUP_NS` of a run, when the functions that
/// matter are still interpreted and every millisecond spent deciding is
/// spent in the interpreter.
const DRAIN_EVERY_AT_START: Duration = Duration::from_millis(1);
const STARTUP_NS: u64 = 100_000_000;

/// When the compiler thread aggregates (automatic tiering), the
/// aggregator thread drains the rings only if they have not been drained
/// for this long: the compiler thread is busy with a long compile. A ring
/// holds 256 samples at 1 kHz.
const STALE_DRAIN: Duration = Duration::from_millis(50);

/// At start, drains come this long after each of the sampler thread's
/// rounds (time for the signalled threads to take their samples), not at
/// a phase of their own: a drain at a random phase of the 1 ms rounds
/// waits half a millisecond for a sample on average, with the program
/// still interpreted. At 0.1 ms, a drain now and then came before the
/// signalled thread had taken its sample, which then waited a period.
const DRAIN_LAG_NS: u64 = 200_000;

/// Tiering that has queued and finished no compile for this long (or
/// started with its hot code from the code cache) is *quiet*: the sampler
/// then runs at [`RELAXED_HZ`] unless a profile is being recorded, and
/// back at the full rate as soon as a compile is queued. Samples keep
/// their CPU-time weights, so a function that turns hot is still found,
/// by its first sample: at 100 Hz that sample weighs 10 ms, past every
/// threshold. On `benches/sieve.tj` sampling at 1 kHz cost 4-8% of the
/// run (perf stat task-clock, eager opt with and without `--profile`).
const QUIET_NS: u64 = 20_000_000;
/// The sampling rate while tiering is quiet.
const RELAXED_HZ: u32 = 100;

/// While the sampler is relaxed, the tier policy sees heat divided by
/// this: a function needs about two relaxed samples (15 ms of its time)
/// where it needs 1 ms at the full rate. One 10 ms sample that lands in a
/// function taking 1% of the time (sieve's `main`) then compiles nothing
/// but, at most, baseline code; a function that turns hot gets baseline
/// code at its first sample, which ends the quiet, and its next samples
/// come at the full rate.
const RELAXED_EVIDENCE: f64 = 15.0;

/// Hotness halves every this many nanoseconds.
const HOTNESS_HALF_LIFE_NS: u64 = 200_000_000;

struct ThreadRing {
    thread: u32,
    ring: Arc<Ring>,
    idle_ticks: Arc<std::sync::atomic::AtomicU64>,
}

/// The samples kept for the profile, while recording.
#[derive(Default)]
struct Collected {
    samples: Vec<Sample>,
    cpu_ns: u64,
    handler_ns: Vec<u64>,
}

/// Every sample drained, recorded or not: the achieved rate.
#[derive(Default)]
struct Seen {
    samples: u64,
    cpu_ns: u64,
    /// Per function: the sampled CPU time of its own code (any tier,
    /// inlined copies included), and when a sample first found it running
    /// optimized code (ns from the start of sampling; 0: never).
    funcs: Vec<(u64, u64)>,
}

/// The profiling state of one Vm.
pub struct Profiling {
    config: SamplerConfig,
    /// None if it could not start (then nothing is sampled).
    sampler: Option<Sampler>,
    start_ns: u64,
    /// The rings of registered threads, and of ended threads not yet
    /// drained.
    threads: Mutex<Vec<ThreadRing>>,
    /// What the rings of ended threads counted: (threads, dropped
    /// samples, idle ticks). An ended thread's ring is let go once drained,
    /// so that a program that spawns threads without end does not keep
    /// every ring, and a drain reads only the rings of live threads.
    ended: Mutex<(u32, u64, u64)>,
    collected: Mutex<Collected>,
    seen: Mutex<Seen>,
    /// Samples go into the profile (`collected`) only while this is set;
    /// they feed the tier policy's hotness always. A Vm sampling only to
    /// tier up keeps none, so a long run does not grow without end.
    recording: AtomicBool,
    /// The sampler runs at [`RELAXED_HZ`] ([`Profiling::relax`]).
    relaxed: AtomicBool,
    /// When the rings were last drained (monotonic ns).
    last_drain_ns: AtomicU64,
    stop: AtomicBool,
    aggregator: Mutex<Option<std::thread::JoinHandle<()>>>,
    hotness: Mutex<(Hotness, u64)>,
    /// Each function's loops as `(header, last pc)`, from its backward
    /// branches.
    loops: Vec<Vec<(u32, u32)>>,
}

pub(crate) fn monotonic_ns() -> u64 {
    tierjit_tiers::builtins::now_ns() as u64
}

// The profiler reads the interpreter's position as three words, in this
// order.
const _: () = {
    use tierjit_tiers::exec::InterpPosition as P;
    assert!(std::mem::size_of::<P>() == 3 * 8);
    assert!(offset_of!(P, ip) == 0 && offset_of!(P, code) == 8 && offset_of!(P, func) == 16);
};

/// `interp::INTERPRETER_ENTRY_NO_FRAME` in the walker's table format: the
/// count, then `(start, end, kind)` per entry (the layout code_memory checks
/// for the blobs' tables). Static, so valid whenever a walker reads it.
static INTERPRETER_ENTRY_NO_FRAME_TABLE: [u32; ENTRY_TABLE_WORDS] = {
    let entries = &interp::INTERPRETER_ENTRY_NO_FRAME;
    let mut table = [0; ENTRY_TABLE_WORDS];
    table[0] = entries.len() as u32;
    let mut i = 0;
    while i < entries.len() {
        let at = 1 + NO_FRAME_ENTRY_WORDS * i;
        table[at] = entries[i].start;
        table[at + 1] = entries[i].end;
        table[at + 2] = entries[i].kind as u32;
        i += 1;
    }
    table
};
const ENTRY_TABLE_WORDS: usize =
    1 + NO_FRAME_ENTRY_WORDS * interp::INTERPRETER_ENTRY_NO_FRAME.len();

/// The interpreter's entry stub, for stack walks that interrupt a thread
/// inside it.
fn interpreter_entry_stub() -> FramedStub {
    let code = interp::interpreter_entry_range();
    FramedStub {
        start: code.start,
        end: code.end,
        no_frame: INTERPRETER_ENTRY_NO_FRAME_TABLE.as_ptr() as usize,
    }
}

/// Where the profiler finds a thread's interpreted frames (`call_stub`:
/// the Vm's jump by which direct calls reach the interpreter).
pub fn interp_frames(ts: &ThreadState, call_stub: FramedStub) -> InterpFrames {
    let (records, len) = ts.frames.raw_parts();
    InterpFrames {
        records: records as *const u8,
        len,
        layout: RecordLayout {
            stride: std::mem::size_of::<FrameRecord>(),
            func: offset_of!(FrameRecord, func),
            pc: offset_of!(FrameRecord, pc),
            native_fp: offset_of!(FrameRecord, native_fp),
            native_ret: offset_of!(FrameRecord, native_ret),
            replaced: offset_of!(FrameRecord, replaced),
        },
        helper_site: &ts.ctx.helper_pc as *const usize as *const [usize; 2],
        position: &ts.position as *const tierjit_tiers::exec::InterpPosition as *const [usize; 3],
        instr_size: std::mem::size_of::<tierjit_tiers::bytecode::Instr>(),
        entry_stub: interpreter_entry_stub(),
        call_stub,
    }
}

impl Profiling {
    /// Profiling at `hz` samples per second of CPU time, per thread, of
    /// a program with these functions; keeping the samples for a profile
    /// from the start if `recording`.
    pub fn new(
        hz: u32,
        engine: Engine,
        module: &tierjit_tiers::bytecode::Module,
        recording: bool,
    ) -> Profiling {
        let loops = module.funcs.iter().map(|f| f.loops()).collect();
        let config = SamplerConfig {
            hz,
            ring_capacity: (hz as usize / 10).clamp(256, 1 << 14),
            engine,
        };
        Profiling {
            config,
            sampler: Sampler::start(config).ok(),
            start_ns: monotonic_ns(),
            threads: Mutex::new(Vec::new()),
            ended: Mutex::new((0, 0, 0)),
            collected: Mutex::new(Collected::default()),
            seen: Mutex::new(Seen::default()),
            recording: AtomicBool::new(recording),
            relaxed: AtomicBool::new(false),
            last_drain_ns: AtomicU64::new(monotonic_ns()),
            stop: AtomicBool::new(false),
            aggregator: Mutex::new(None),
            hotness: Mutex::new((Hotness::new(HOTNESS_HALF_LIFE_NS), monotonic_ns())),
            loops,
        }
    }

    /// Recent CPU time per function, hottest first, at least `threshold_ns`.
    pub fn hot_functions(&self, threshold_ns: f64) -> Vec<(FuncId, f64)> {
        let hotness = self.hotness.lock();
        hotness
            .0
            .hot_functions(threshold_ns)
            .into_iter()
            .map(|(f, v)| (FuncId(f), v))
            .collect()
    }

    /// Recent CPU time below every call site, in nanoseconds, by (caller,
    /// call pc): the profile the optimizer's inliner reads.
    pub fn call_heat(&self) -> HashMap<(FuncId, u32), u64> {
        self.hotness
            .lock()
            .0
            .calls()
            .map(|(k, v)| ((FuncId(k.func), k.pc), v as u64))
            .collect()
    }

    /// Recent CPU time at every instruction that samples' innermost frames
    /// were at, in nanoseconds, by (function, pc), in any tier: the profile
    /// the optimizer's block layout reads (with [`Profiling::call_heat`]
    /// for the time below calls).
    pub fn pc_heat(&self) -> HashMap<(FuncId, u32), u64> {
        self.hotness
            .lock()
            .0
            .pcs()
            .map(|(k, v)| ((FuncId(k.func), k.pc), v as u64))
            .collect()
    }

    /// Recent CPU time per loop, hottest first, at least `threshold_ns`.
    pub fn hot_loops(&self, threshold_ns: f64) -> Vec<(LoopKey, f64)> {
        self.hotness.lock().0.hot_loops(threshold_ns)
    }

    /// Starts the aggregator thread (it holds only a weak reference).
    /// When the Vm tiers up, the compiler thread aggregates instead
    /// ([`Profiling::aggregate`]), so that a compile the policy queues
    /// starts at once on the core the policy ran on: handed to a thread
    /// that has just gone to sleep, it could be woken onto the core of
    /// the program's thread while the policy's core goes idle, and wait
    /// there for the program's time slice to end (0.5-3 ms, seen with
    /// `perf sched` on this project's 2-core machine). The thread then
    /// only drains the rings when the compiler thread has not for
    /// [`STALE_DRAIN`] (a long compile), so that they do not fill up.
    pub fn start(&self, vm: Weak<Vm>) {
        let tiers_up = vm.upgrade().is_some_and(|vm| vm.tiering.is_some());
        let handle = std::thread::Builder::new()
            .name("tj-profile".into())
            .spawn(move || loop {
                let Some(vm) = vm.upgrade() else { return };
                let profiling = vm.profiling.as_ref().expect("started with profiling");
                let wait = match tiers_up {
                    false => profiling.aggregate(&vm),
                    true => profiling.drain_if_stale(&vm),
                };
                let Some(wait) = wait else { return };
                drop(vm);
                // `finish` unparks it at once.
                std::thread::park_timeout(wait);
            });
        *self.aggregator.lock() = handle.ok();
    }

    /// Drains the rings if nothing has for [`STALE_DRAIN`]; gives how
    /// long to wait before looking again, None once profiling has
    /// finished.
    fn drain_if_stale(&self, vm: &Vm) -> Option<Duration> {
        if self.stop.load(Ordering::Acquire) {
            return None;
        }
        let since = monotonic_ns().saturating_sub(self.last_drain_ns.load(Ordering::Relaxed));
        if since >= STALE_DRAIN.as_nanos() as u64 {
            self.drain(vm);
            return Some(STALE_DRAIN);
        }
        Some(STALE_DRAIN.saturating_sub(Duration::from_nanos(since)))
    }

    /// One turn of the aggregator: drains the rings and, if the Vm tiers
    /// up, runs the tier policy on what they held. Gives how long to wait
    /// for the next turn; None once profiling has finished.
    pub(super) fn aggregate(&self, vm: &Vm) -> Option<Duration> {
        if self.stop.load(Ordering::Acquire) {
            return None;
        }
        self.drain(vm);
        let mut quiet = false;
        if let Some(tiering) = &vm.tiering {
            // Relaxed samples each weigh ten times as much: the policy
            // sees their heat divided (`RELAXED_EVIDENCE`).
            let per = match self.relaxed.load(Ordering::Relaxed) {
                true => RELAXED_EVIDENCE,
                false => 1.0,
            };
            let own: Vec<(FuncId, f64)> = self
                .hot_functions(0.0)
                .into_iter()
                .map(|(f, ns)| (f, ns / per))
                .collect();
            let mut calls = self.call_heat();
            calls
                .values_mut()
                .for_each(|ns| *ns = (*ns as f64 / per) as u64);
            let loops = self.hot_loops(0.0);
            let loops_with_own_time = loops
                .iter()
                .map(|(key, _)| (FuncId(key.func), key.header))
                .collect();
            tiering.policy_tick(&vm.policy_heat(&own, &calls, &loops_with_own_time));
            vm.compile_predicted(&calls);
            let hot_loops: Vec<_> = loops
                .into_iter()
                .filter(|&(_, ns)| ns >= HOT_LOOP_NS * per)
                .collect();
            vm.compile_hot_loops_ahead(&hot_loops);
            quiet = tiering.quiet_for(QUIET_NS);
        }
        self.relax(quiet && !self.recording.load(Ordering::Acquire));
        let young = monotonic_ns().saturating_sub(self.start_ns) < STARTUP_NS;
        Some(match young && !quiet {
            true => self.wait_at_start(),
            false => DRAIN_EVERY,
        })
    }

    /// How long the aggregator waits for its next drain at the start of a
    /// run: until [`DRAIN_LAG_NS`] after the sampler's next round, at
    /// most [`DRAIN_EVERY_AT_START`]; a quarter of that if the round is
    /// overdue (the sampler thread is waiting for a core) or not yet due
    /// (no thread has registered yet: the program is starting). With the
    /// thread-timers engine, [`DRAIN_EVERY_AT_START`].
    fn wait_at_start(&self) -> Duration {
        if self.config.engine != Engine::SamplerThread {
            // Each thread's own timer: no rounds to follow.
            return DRAIN_EVERY_AT_START;
        }
        let now = monotonic_ns();
        let due = self
            .sampler
            .as_ref()
            .and_then(Sampler::next_tick_ns)
            .map(|tick| tick + DRAIN_LAG_NS);
        match due {
            Some(due) if due > now => Duration::from_nanos(due - now).min(DRAIN_EVERY_AT_START),
            _ => DRAIN_EVERY_AT_START / 4,
        }
    }

    /// Samples the calling thread (handle `thread`) while the returned
    /// registration lives. `ts` must not move meanwhile.
    pub fn register(&self, vm: &Vm, thread: i64, ts: &ThreadState) -> Option<Registration> {
        let registration = self
            .sampler
            .as_ref()?
            .register_current_thread(vm.code_map.ranges(), interp_frames(ts, vm.call_stub))
            .ok()?;
        self.threads.lock().push(ThreadRing {
            thread: thread as u32,
            ring: registration.ring(),
            idle_ticks: registration.idle_ticks(),
        });
        Some(registration)
    }

    /// Moves every recorded sample out of the rings, resolved.
    fn drain(&self, vm: &Vm) {
        self.last_drain_ns.store(monotonic_ns(), Ordering::Relaxed);
        // A ring only this list holds belongs to a thread whose
        // registration has ended: no sample comes after this drain. Most
        // rings of a program with thousands of threads (blocked in joins)
        // are empty: only the others are taken.
        let threads: Vec<(u32, Arc<Ring>, bool)> = self
            .threads
            .lock()
            .iter()
            .map(|t| (t, Arc::strong_count(&t.ring) == 1))
            .filter(|(t, ended)| *ended || !t.ring.is_empty())
            .map(|(t, ended)| (t.thread, t.ring.clone(), ended))
            .collect();
        let ended: Vec<Arc<Ring>> = threads
            .iter()
            .filter(|t| t.2)
            .map(|t| t.1.clone())
            .collect();
        let mut collected = self.collected.lock();
        let mut seen = self.seen.lock();
        let recording = self.recording.load(Ordering::Acquire);
        let mut hotness = self.hotness.lock();
        let now = monotonic_ns();
        let elapsed = now.saturating_sub(hotness.1);
        hotness.0.decay(elapsed);
        hotness.1 = now;
        for (thread, ring, _) in threads {
            let mut calls = Vec::new();
            ring.drain(|raw| {
                let (sample, innermost_pc) = self.resolve(vm, thread, raw, &mut calls);
                for &(func, pc) in &calls {
                    hotness
                        .0
                        .add_call(CallKey { func: func.0, pc }, raw.weight_ns);
                }
                for frame in &sample.frames {
                    if matches!(frame.tier, Tier::Interp | Tier::Baseline) {
                        vm.note_behind(FuncId(frame.func));
                    }
                }
                if let (Some(frame), Some(pc)) = (sample.frames.first(), innermost_pc) {
                    let in_loop = self
                        .loops
                        .get(frame.func as usize)
                        .and_then(|loops| innermost_loop(loops, pc))
                        .map(|header| LoopKey {
                            func: frame.func,
                            header,
                        });
                    let at = PcKey {
                        func: frame.func,
                        pc,
                    };
                    hotness.0.add(at, in_loop, raw.weight_ns);
                    if let (Some(key), Tier::Interp | Tier::Baseline) = (in_loop, frame.tier) {
                        vm.compile_osr_for_behind(FuncId(key.func), key.header);
                    }
                }
                seen.samples += 1;
                seen.cpu_ns += raw.weight_ns;
                if let Some(frame) = sample.frames.first() {
                    let f = frame.func as usize;
                    if seen.funcs.len() <= f {
                        seen.funcs.resize(f + 1, (0, 0));
                    }
                    let at = raw.time_ns.saturating_sub(self.start_ns).max(1);
                    let entry = &mut seen.funcs[f];
                    entry.0 += raw.weight_ns;
                    if frame.tier == Tier::Optimized && entry.1 == 0 {
                        entry.1 = at;
                    }
                }
                if recording {
                    collected.cpu_ns += raw.weight_ns;
                    collected.handler_ns.push(raw.handler_ns as u64);
                    collected.samples.push(sample);
                }
            });
        }
        if !ended.is_empty() {
            let ended: std::collections::HashSet<*const Ring> =
                ended.iter().map(Arc::as_ptr).collect();
            let mut totals = self.ended.lock();
            self.threads.lock().retain(|t| {
                if !ended.contains(&Arc::as_ptr(&t.ring)) {
                    return true;
                }
                totals.0 += 1;
                totals.1 += t.ring.dropped();
                totals.2 += t.idle_ticks.load(Ordering::Relaxed);
                false
            });
        }
    }

    /// The resolved sample, and the bytecode pc of its innermost frame;
    /// leaves in `calls` the `(function, call pc)` of the callers on its
    /// stack, the innermost [`CALL_HEAT_FRAMES`] of them.
    fn resolve(
        &self,
        vm: &Vm,
        thread: u32,
        raw: &RawSample,
        calls: &mut Vec<(FuncId, u32)>,
    ) -> (Sample, Option<u32>) {
        let mut frames = Vec::with_capacity(raw.frames().len());
        let mut scratch = Vec::new();
        let mut innermost_pc = None;
        calls.clear();
        for &word in raw.frames() {
            resolve_frame(vm, word, &mut scratch, &mut frames);
            // Every frame but the sample's innermost one is at a call.
            let callers = if innermost_pc.is_none() {
                scratch.get(1..).unwrap_or(&[])
            } else {
                &scratch[..]
            };
            let room = CALL_HEAT_FRAMES.saturating_sub(calls.len());
            calls.extend(callers.iter().take(room));
            if innermost_pc.is_none() {
                innermost_pc = scratch.first().map(|&(_, pc)| pc);
            }
        }
        let sample = Sample {
            thread,
            time_ns: raw.time_ns.saturating_sub(self.start_ns),
            weight_ns: raw.weight_ns,
            frames,
        };
        (sample, innermost_pc)
    }

    /// Stops sampling and gives the profile of the run so far.
    pub fn finish(&self, vm: &Vm, program: &str) -> Profile {
        self.stop.store(true, Ordering::Release);
        if let Some(aggregator) = self.aggregator.lock().take() {
            aggregator.thread().unpark();
            let _ = aggregator.join();
        }
        self.take(vm, program)
    }

    /// Samples at [`RELAXED_HZ`] while `quiet` (and at the rate asked for
    /// otherwise), if the sampler runs.
    fn relax(&self, quiet: bool) {
        if self.relaxed.swap(quiet, Ordering::Relaxed) != quiet {
            if let Some(sampler) = &self.sampler {
                sampler.relax(quiet.then_some(RELAXED_HZ));
            }
        }
    }

    /// Keeps the samples from now on for a new profile (the samples kept
    /// so far are let go); false if nothing is sampled.
    pub fn start_recording(&self) -> bool {
        *self.collected.lock() = Collected::default();
        self.recording.store(true, Ordering::Release);
        self.sampler.is_some()
    }

    /// Keeps no more samples (the tier policy still gets them).
    pub fn stop_recording(&self) {
        self.recording.store(false, Ordering::Release);
    }

    /// The profile of the samples kept so far, which it takes: the next
    /// profile starts empty. Sampling goes on.
    pub fn take(&self, vm: &Vm, program: &str) -> Profile {
        self.drain(vm);
        let threads = self.threads.lock();
        let (ended_threads, ended_dropped, ended_idle) = *self.ended.lock();
        let dropped = ended_dropped + threads.iter().map(|t| t.ring.dropped()).sum::<u64>();
        let idle_ticks = ended_idle
            + threads
                .iter()
                .map(|t| t.idle_ticks.load(Ordering::Relaxed))
                .sum::<u64>();
        let collected = std::mem::take(&mut *self.collected.lock());
        let mut histogram =
            hdrhistogram::Histogram::<u64>::new(3).expect("3 significant figures is valid");
        for &ns in &collected.handler_ns {
            let _ = histogram.record(ns.max(1));
        }
        let handler_ns = histogram
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let caps = self.cap_stats().unwrap_or_default();
        Profile {
            program: program.to_string(),
            duration_ns: monotonic_ns().saturating_sub(self.start_ns),
            functions: vm.module().funcs.iter().map(|f| f.name.clone()).collect(),
            stats: SamplerStats {
                requested_hz: self.config.hz,
                samples: collected.samples.len() as u64,
                dropped,
                threads: ended_threads + threads.len() as u32,
                cpu_ns: collected.cpu_ns,
                handler_ns,
                engine: self.config.engine.name().to_string(),
                idle_ticks,
                sample_cost_ns: caps.sample_cost_ns,
                cost_cap_hz: caps.cost_cap_hz,
                sampler_thread_cap_hz: caps.sampler_thread_cap_hz,
                share_percent: caps.share_percent,
                sampler_thread_cpu_ns: caps.sampler_thread_cpu_ns,
            },
            samples: collected.samples,
            events: Vec::new(),
        }
    }
}

impl Profiling {
    /// When the hot code was first seen optimized: the functions whose own
    /// code took `share` of the sampled CPU time (the hottest first), and
    /// the latest of the times a sample first found each of them running
    /// optimized code (inlined copies and OSR code included), in ns from
    /// the start of sampling. None if no time was sampled or one of them
    /// never ran optimized code.
    pub fn hot_code_optimized(&self, share: f64) -> Option<(usize, u64)> {
        let seen = self.seen.lock();
        let total: u64 = seen.funcs.iter().map(|f| f.0).sum();
        let mut hot: Vec<(u64, u64)> = seen.funcs.iter().copied().filter(|f| f.0 > 0).collect();
        hot.sort_by_key(|h| std::cmp::Reverse(h.0));
        let (mut covered, mut latest, mut n) = (0u64, 0u64, 0usize);
        for (cpu, first_optimized) in hot {
            if total == 0 || covered as f64 >= share * total as f64 {
                break;
            }
            if first_optimized == 0 {
                return None;
            }
            covered += cpu;
            latest = latest.max(first_optimized);
            n += 1;
        }
        (n > 0).then_some((n, latest))
    }

    /// What sampling has cost so far and the rate caps that follow, with
    /// the samples and CPU time drained so far (the achieved rate), or
    /// None if the sampler did not start.
    fn cap_stats(&self) -> Option<SamplerStats> {
        let caps = self.sampler.as_ref()?.cap_stats();
        let (samples, cpu_ns) = {
            let seen = self.seen.lock();
            (seen.samples, seen.cpu_ns)
        };
        Some(SamplerStats {
            requested_hz: self.config.hz,
            samples,
            cpu_ns,
            engine: self.config.engine.name().to_string(),
            sample_cost_ns: if caps.measured {
                caps.sample_cost_ns
            } else {
                0
            },
            cost_cap_hz: caps.cost_cap_hz,
            sampler_thread_cap_hz: caps.sampler_thread_cap_hz,
            share_percent: caps.share_percent,
            sampler_thread_cpu_ns: caps.sampler_thread_cpu_ns,
            ..SamplerStats::default()
        })
    }
}

impl Vm {
    /// The sampler's rate and caps so far (no samples or CPU time: those
    /// are counted when the profile is finished), if the Vm samples.
    pub fn sampling_caps(&self) -> Option<SamplerStats> {
        self.profiling.as_ref()?.cap_stats()
    }
}

/// How many callers of each sample count toward call-site heat (the
/// optimizer's inliner reads it; deeper callers gain little).
const CALL_HEAT_FRAMES: usize = 8;

/// Pushes the (function, tier, line) frames of one frame word of a raw
/// sample onto `out`, innermost first: a native pc in code that inlined
/// calls gives a frame per inlined function, each with its own line and
/// all with the blob's tier. Leaves the frames' `(function, pc)` in
/// `scratch` (empty if the word resolves to nothing).
fn resolve_frame(vm: &Vm, word: u64, scratch: &mut Vec<(FuncId, u32)>, out: &mut Vec<Frame>) {
    scratch.clear();
    let payload = word & FRAME_PAYLOAD;
    let tier = match word & !FRAME_PAYLOAD {
        FRAME_NATIVE => match vm.code_map.frames(payload as usize, scratch) {
            Some(tier) => profile_tier(tier),
            None => return,
        },
        FRAME_INTERP => {
            scratch.push((FuncId((payload >> 32) as u32), payload as u32));
            Tier::Interp
        }
        _ => return,
    };
    scratch.retain(|&(func, _)| func.index() < vm.module().funcs.len());
    for &(func, pc) in scratch.iter() {
        let function = vm.module().func(func);
        out.push(Frame {
            func: func.0,
            tier,
            // 0 (unknown) for a pc past the end, which only a torn read of
            // the interpreter's position could give.
            line: if (pc as usize) < function.code.len() {
                function.lines.line(pc)
            } else {
                0
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::{Vm, VmOptions};

    #[test]
    fn samples_heat_the_instructions_of_their_innermost_frames() {
        let module = crate::lang::compile(
            b"fn spin(n: int) -> int {
                let s = 0;
                for i in 0..n { s = s + i % 7; }
                return s;
            }
            fn main() { print(spin(3)); }",
        )
        .expect("compiles");
        let spin = module.find("spin").expect("spin");
        let loops = module.func(spin).loops();
        let vm = Vm::new(module, VmOptions::default()).expect("starts");
        // About 0.2 s of CPU time, in whatever tiers the policy picks.
        vm.call(spin, &[200_000_000]).expect("runs");
        let heat = vm.profiling.as_ref().expect("auto mode samples").pc_heat();
        let of_spin: Vec<(u32, u64)> = heat
            .iter()
            .filter(|((f, _), _)| *f == spin)
            .map(|(&(_, pc), &ns)| (pc, ns))
            .collect();
        let total: u64 = of_spin.iter().map(|&(_, ns)| ns).sum();
        let in_loop: u64 = of_spin
            .iter()
            .filter(|&&(pc, _)| loops.iter().any(|&(h, last)| h <= pc && pc <= last))
            .map(|&(_, ns)| ns)
            .sum();
        assert!(total > 0, "no samples at spin's instructions: {heat:?}");
        assert!(in_loop * 10 >= total * 9, "{of_spin:?} (loops {loops:?})");
    }
}
