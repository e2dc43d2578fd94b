//! Sampling: who sends SIGPROF to which thread, and the SIGPROF handler.
//!
//! **What a sample costs.** Nearly all of it is the interrupt that stops
//! the running thread, not the handler. Measured on this project's 2-vCPU
//! VM (`profiler/examples/signal_cost.rs`): a thread's own `CLOCK_MONOTONIC` timer
//! costs the thread about 20 us per tick (the hrtimer's interrupt, the
//! deadline reprogramming and the signal), a `perf_event_open` software
//! clock about 13 us, a signal sent by another thread about 9 us, and the
//! handler itself about 1 us. Hence two engines:
//!
//! - [`Engine::SamplerThread`] (the default): one `tj-sampler` thread
//!   sleeps to an absolute deadline at the requested rate and on each tick
//!   reads every registered thread's CPU clock (`pthread_getcpuclockid`).
//!   A thread that ran for at least a quarter of a period since its last
//!   sample is sent SIGPROF with `rt_tgsigqueueinfo`, carrying that CPU
//!   time as the sample's weight; a thread that did not run is not
//!   disturbed at all (an idle tick). So samples follow each thread's CPU
//!   time at any rate the sampler thread's high-resolution sleep delivers
//!   (CPU-time timers only fire on the kernel's 250 Hz tick).
//! - [`Engine::ThreadTimers`]: each registered thread gets its own
//!   `CLOCK_MONOTONIC` timer aimed at it (`SIGEV_THREAD_ID`); the handler
//!   reads the thread's CPU clock to weight the sample, and counts a tick
//!   that found little CPU time as idle. No extra thread, but blocked
//!   threads wake at every tick, and each tick costs about twice as much.
//!
//! **The cap.** Whatever rate was asked, sampling takes at most
//! [`cost::SHARE_PERCENT`] of a thread's time: every handler measures what
//! its sample cost the thread ([`cost`]), and a thread is sampled at most
//! once per ten such costs of its time. With the sampler-thread engine the
//! sampler thread skips a thread whose CPU time since its last sample is
//! shorter (the time carries over); with thread timers the handler
//! lengthens its own timer's period. The sampler thread bounds its own
//! cost the same way: with many threads a round over them costs more, and
//! it ticks less often ([`cost::SAMPLER_THREAD_SHARE_PERCENT`] of a core),
//! visiting every thread in each round. [`Sampler::cap_stats`] reports
//! what it came to.
//!
//! **Handler.** Async-signal-safe: no allocation, no lock, no formatting,
//! no panic; errno is saved and restored. It reads the interrupted `rip`,
//! `rsp` and `rbp`, walks the stack ([`crate::stackwalk`]) with bounds checks and
//! writes one sample into the thread's preallocated [`Ring`], dropping (and
//! counting) it if the ring is full; then it reads the thread's CPU clock
//! to measure the sample's cost (and, with thread timers, may re-arm the
//! timer: `timer_settime` is async-signal-safe). `SA_RESTART` restarts
//! interrupted system calls, so the program's own I/O is not disturbed.

pub mod cost;

use crate::codemap::CodeMap;
use crate::ring::{RawSample, Ring};
use crate::stackwalk::{walk, InterpFrames, Interrupted, StackBounds};
use cost::{CostMeter, CostTotals, CycleCost};
use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;

/// Who interrupts the sampled threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// One sampler thread signals every thread that used CPU time.
    #[default]
    SamplerThread,
    /// Every sampled thread has its own high-resolution timer.
    ThreadTimers,
}

impl Engine {
    /// Its name on the command line and in profiles.
    pub fn name(self) -> &'static str {
        match self {
            Engine::SamplerThread => "sampler-thread",
            Engine::ThreadTimers => "thread-timers",
        }
    }
}

/// How to sample.
#[derive(Clone, Copy, Debug)]
pub struct SamplerConfig {
    /// Samples per second of a busy thread, asked for: sampling slower if
    /// samples would otherwise take more than [`cost::SHARE_PERCENT`] of
    /// the thread's time.
    pub hz: u32,
    /// Samples each thread's ring holds before the aggregator drains it.
    pub ring_capacity: usize,
    /// Who sends the signals.
    pub engine: Engine,
}

impl Default for SamplerConfig {
    fn default() -> SamplerConfig {
        SamplerConfig {
            hz: 1000,
            ring_capacity: 4096,
            engine: Engine::default(),
        }
    }
}

impl SamplerConfig {
    fn period_ns(&self) -> u64 {
        1_000_000_000 / self.hz.clamp(1, 100_000) as u64
    }
}

/// What sampling cost and where that capped the rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapStats {
    /// What one sample costs a sampled thread, in nanoseconds, as measured
    /// (the mean over every thread's measurements), or the prior
    /// [`cost::PRIOR_COST_NS`] if none was.
    pub sample_cost_ns: u64,
    /// Whether `sample_cost_ns` was measured.
    pub measured: bool,
    /// The most samples per second of a thread's time that keep sampling
    /// under `share_percent` of it at that cost.
    pub cost_cap_hz: u32,
    /// [`cost::SHARE_PERCENT`].
    pub share_percent: u32,
    /// CPU time of the sampler thread (sampler-thread engine), in
    /// nanoseconds.
    pub sampler_thread_cpu_ns: u64,
    /// Rounds the sampler thread made over the threads.
    pub sampler_thread_rounds: u64,
    /// The most rounds per second the sampler thread allowed itself at
    /// the end, to stay under [`cost::SAMPLER_THREAD_SHARE_PERCENT`] of a
    /// core (0 with thread timers, or before its first round).
    pub sampler_thread_cap_hz: u32,
}

impl CapStats {
    /// The most samples per second of a busy thread's time: the lower of
    /// the two caps.
    pub fn cap_hz(&self) -> u32 {
        match self.sampler_thread_cap_hz {
            0 => self.cost_cap_hz,
            rounds => self.cost_cap_hz.min(rounds),
        }
    }
}

/// A sampled thread as the sending side sees it (the sampler thread, or
/// the handler itself with thread timers).
struct Target {
    tid: libc::pid_t,
    /// The thread's CPU-time clock, readable from any thread.
    clock: libc::clockid_t,
    /// CPU time at the last sample sent.
    last_cpu_ns: AtomicU64,
    /// For the signal on its way (the start of its cost): the thread's CPU
    /// time read before it was sent, and CLOCK_MONOTONIC just before and
    /// just after the system call that sent it.
    sent_cpu_ns: AtomicU64,
    send_start_ns: AtomicU64,
    send_end_ns: AtomicU64,
    /// A signal is on its way and its handler has not run yet: sending
    /// another now would merge with it (SIGPROF does not queue).
    pending: AtomicBool,
    idle_ticks: Arc<AtomicU64>,
    /// What a sample costs this thread.
    cost: CostMeter,
    /// In a blocking wait ([`blocked`]): it uses no CPU time, so a tick
    /// counts it idle without reading its clock.
    blocked: AtomicBool,
    /// Where it sits in the sampler thread's target list (written under
    /// the list's lock), so that leaving costs the same with 10,000
    /// threads as with one.
    slot: AtomicUsize,
}

/// The grid of a thread's own timer: expiries at `origin_ns + k *
/// period_ns` (CLOCK_MONOTONIC). Written at registration, then only by the
/// handler when it re-arms the timer.
struct ThreadTimer {
    id: Cell<libc::timer_t>,
    origin_ns: Cell<u64>,
    period_ns: Cell<u64>,
    /// The thread's CPU time and CLOCK_MONOTONIC when the handler last
    /// ended (0: not yet): a thread whose CPU time since then kept up with
    /// the clock ran all along, so was running when the timer expired.
    last_exit_cpu_ns: Cell<u64>,
    last_exit_ns: Cell<u64>,
}

/// What the handler needs of one registered thread.
struct ThreadSampler {
    ring: Arc<Ring>,
    map: Arc<CodeMap>,
    frames: InterpFrames,
    bounds: StackBounds,
    target: Arc<Target>,
    totals: Arc<CostTotals>,
    engine: Engine,
    /// The period asked for.
    asked_period_ns: u64,
    timer: ThreadTimer,
    in_handler: Cell<bool>,
}

thread_local! {
    /// The registered sampler of this thread (null if none). Const
    /// initialised and without Drop, so the handler may read it.
    static CURRENT: Cell<*const ThreadSampler> = const { Cell::new(std::ptr::null()) };
}

/// The process id, for telling our own queued signals from others'.
static PID: AtomicU64 = AtomicU64::new(0);

/// The layout of the kernel's `siginfo_t` for a queued signal (`_rt`) and
/// for a timer's (`_timer`, whose thread id and overrun count lie where
/// `_rt` has `pid` and `uid`): libc's type keeps these fields private.
#[repr(C)]
struct QueuedInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _align: libc::c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: u64,
    _rest: [u64; 12],
}

impl QueuedInfo {
    /// For a timer's signal: the expiries that came while it was pending.
    fn timer_overrun(&self) -> u64 {
        self.uid as u64
    }
}

const _: () = assert!(std::mem::size_of::<QueuedInfo>() == std::mem::size_of::<libc::siginfo_t>());

fn now(clock: libc::clockid_t) -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime is async-signal-safe and writes only `t`.
    let ok = unsafe { libc::clock_gettime(clock, &mut t) } == 0;
    ok.then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

fn monotonic_ns() -> u64 {
    now(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

fn thread_cpu_ns() -> Option<u64> {
    now(libc::CLOCK_THREAD_CPUTIME_ID)
}

extern "C" fn on_sigprof(_: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let entry_ns = monotonic_ns();
    // SAFETY: errno is thread-local; saved here and restored below so the
    // interrupted code never sees it change.
    let errno = unsafe { *libc::__errno_location() };
    let sampler = CURRENT.with(|c| c.get());
    if !sampler.is_null() {
        // SAFETY: a non-null CURRENT points at the Box of this thread's live
        // Registration (cleared before the Box is freed, on this thread).
        let sampler = unsafe { &*sampler };
        // SAFETY: the kernel passes a full siginfo_t to an SA_SIGINFO
        // handler; QueuedInfo has its size, the `_rt` layout, and the
        // `_timer` layout where it is read as such.
        let info = unsafe { &*(info as *const QueuedInfo) };
        if !sampler.in_handler.replace(true) {
            match sampler.engine {
                Engine::SamplerThread => on_queued_signal(sampler, info, entry_ns, context),
                Engine::ThreadTimers => on_timer_tick(sampler, info, entry_ns, context),
            }
            sampler.in_handler.set(false);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// A signal from the sampler thread: a sample weighted by the CPU time it
/// carries. Ignores any other SIGPROF.
fn on_queued_signal(
    sampler: &ThreadSampler,
    info: &QueuedInfo,
    entry_ns: u64,
    context: *mut libc::c_void,
) {
    let target = &sampler.target;
    let ours = info.code == libc::SI_QUEUE && info.pid as u64 == PID.load(Ordering::Relaxed);
    if !ours {
        return;
    }
    // Read before the sender may send (and write) again.
    let sent_cpu = target.sent_cpu_ns.load(Ordering::Acquire);
    let send_start = target.send_start_ns.load(Ordering::Acquire);
    let send_end = target.send_end_ns.load(Ordering::Acquire);
    target.pending.store(false, Ordering::Release);
    let end_ns = record(sampler, entry_ns, info.value, context);
    let Some(end_cpu) = thread_cpu_ns() else {
        return;
    };
    // Running when the signal came, the thread was interrupted about when
    // the sender's system call sent it (its middle: the CPU time since the
    // sender's read would count what the thread ran meanwhile). Not
    // running, it paid only for the delivery when it ran again: its CPU
    // time says so, and the wall clock counts the wait. The smaller is
    // right in each case (docs/profiler.md, "The cap"). A sender that has
    // not yet noted the end of its call gives only the CPU time.
    let by_cpu = end_cpu.saturating_sub(sent_cpu);
    let cost = if send_end >= send_start {
        by_cpu.min(end_ns.saturating_sub(send_start / 2 + send_end / 2))
    } else {
        by_cpu
    };
    target.cost.record(cost, &sampler.totals);
}

/// A tick of the thread's own timer: a sample if the thread used CPU time
/// since the last one (else an idle tick). Its cost: from the timer's
/// expiry to the handler's start, plus the handler's CPU time. Then the
/// timer's period follows the cost.
fn on_timer_tick(
    sampler: &ThreadSampler,
    info: &QueuedInfo,
    entry_ns: u64,
    context: *mut libc::c_void,
) {
    if info.code != libc::SI_TIMER {
        return;
    }
    let target = &sampler.target;
    let timer = &sampler.timer;
    let Some(cpu) = thread_cpu_ns() else { return };
    let ran_all_along = timer.last_exit_ns.get() > 0 && {
        let wall = entry_ns.saturating_sub(timer.last_exit_ns.get());
        let ran = cpu.saturating_sub(timer.last_exit_cpu_ns.get());
        ran + wall / 64 + 2_000 >= wall
    };
    let weight = cpu.saturating_sub(target.last_cpu_ns.load(Ordering::Relaxed));
    if weight < timer.period_ns.get() / 4 {
        // Mostly blocked since the last sample (waking up to take this
        // signal costs a little CPU time too): not a sample.
        target.idle_ticks.fetch_add(1, Ordering::Relaxed);
        timer.last_exit_cpu_ns.set(cpu);
        timer.last_exit_ns.set(entry_ns);
        return;
    }
    target.last_cpu_ns.store(cpu, Ordering::Relaxed);
    let end_ns = record(sampler, entry_ns, weight, context);
    let Some(end_cpu) = thread_cpu_ns() else {
        return;
    };
    timer.last_exit_cpu_ns.set(end_cpu);
    timer.last_exit_ns.set(end_ns);
    // A thread that was not running when the timer expired (preempted on
    // a busy machine) started late for another reason: not a measurement.
    let late = timer_lateness(sampler, info, entry_ns).filter(|_| ran_all_along);
    if let Some(late) = late {
        target
            .cost
            .record(late + end_cpu.saturating_sub(cpu), &sampler.totals);
    }
    follow_cost(sampler, end_ns);
}

/// How long after the timer expired for this signal the handler started,
/// or None if the signal is from before the timer was last re-armed.
fn timer_lateness(sampler: &ThreadSampler, info: &QueuedInfo, entry_ns: u64) -> Option<u64> {
    let timer = &sampler.timer;
    let period = timer.period_ns.get().max(1);
    let since_origin = entry_ns.checked_sub(timer.origin_ns.get())?;
    // The last expiry is the latest grid point; this signal's came
    // `overrun` periods before it.
    let overrun = info.timer_overrun().min(1_000);
    Some(since_origin % period + overrun * period)
}

/// Re-arms the thread's timer if its period no longer keeps sampling
/// under its share (or, after the cost fell, is far longer than it needs
/// to be). The new period leaves an eighth of headroom over the cost, so
/// that small changes in it do not re-arm the timer every time.
fn follow_cost(sampler: &ThreadSampler, now_ns: u64) {
    let asked = sampler.asked_period_ns;
    let cost = sampler.target.cost.estimate_ns();
    let shortest = cost::capped_period_ns(asked, cost);
    let roomy = cost::capped_period_ns(asked, cost + cost / 8);
    let period = sampler.timer.period_ns.get();
    if period >= shortest && period <= roomy + roomy / 2 {
        return;
    }
    let timer = sampler.timer.id.get();
    if arm_thread_timer(timer, now_ns + roomy, roomy).is_ok() {
        sampler.timer.origin_ns.set(now_ns + roomy);
        sampler.timer.period_ns.set(roomy);
    }
}

/// Takes one sample of the interrupted thread; gives the time it ended.
fn record(sampler: &ThreadSampler, start: u64, weight: u64, context: *mut libc::c_void) -> u64 {
    // SAFETY: the kernel passes the interrupted context of this thread as
    // the third argument of an SA_SIGINFO handler.
    let at = unsafe { Interrupted::from_signal_context(context) };
    let mut end = 0;
    sampler.ring.write(|sample: &mut RawSample| {
        sample.time_ns = start;
        sample.weight_ns = weight;
        walk(&sampler.bounds, &sampler.map, &sampler.frames, at, sample);
        end = monotonic_ns();
        sample.handler_ns = end.saturating_sub(start).min(u32::MAX as u64) as u32;
    });
    if end == 0 {
        // Dropped: the ring was full.
        end = monotonic_ns();
    }
    end
}

fn install_handler() -> io::Result<()> {
    static INSTALL: Once = Once::new();
    static mut RESULT: i32 = 0;
    INSTALL.call_once(|| {
        PID.store(std::process::id() as u64, Ordering::Relaxed);
        // SAFETY: a zeroed sigaction is valid; we set the handler, flags and
        // a full mask, and install it for SIGPROF (which nothing else in
        // the process uses).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigprof as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            // Every other signal waits while this handler runs: a handler
            // interrupted by another would show that one its own frame
            // instead of the interrupted code.
            libc::sigfillset(&mut action.sa_mask);
            RESULT = libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut());
        }
    });
    // SAFETY: written once inside call_once, which synchronises with us.
    if unsafe { RESULT } != 0 {
        return Err(io::Error::other("cannot install the SIGPROF handler"));
    }
    Ok(())
}

/// The sampled threads of a sampler thread.
#[derive(Default)]
struct Targets {
    list: Vec<Arc<Target>>,
    stop: bool,
}

struct Shared {
    targets: Mutex<Targets>,
    /// Signalled when a target registers, and at stop.
    changed: Condvar,
    /// Every thread's cost meter reports here.
    totals: Arc<CostTotals>,
    /// The sampler thread's CPU time and rounds so far, and the shortest
    /// period between rounds that its budget allows.
    thread_cpu_ns: AtomicU64,
    rounds: AtomicU64,
    round_min_period_ns: AtomicU64,
    /// The shortest period the sampler thread may tick at now, if longer
    /// than the one asked for ([`Sampler::relax`]); 0: none.
    relaxed_period_ns: AtomicU64,
    /// When the sampler thread's next round is due (`CLOCK_MONOTONIC`
    /// nanoseconds); 0 while it has no target.
    next_tick_ns: AtomicU64,
}

/// A sampler: register threads with it to have them sampled. With the
/// sampler-thread engine it owns the `tj-sampler` thread, stopped on drop.
pub struct Sampler {
    config: SamplerConfig,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// A sampler as configured (starting its thread, for that engine).
    pub fn start(config: SamplerConfig) -> io::Result<Sampler> {
        install_handler()?;
        let shared = Arc::new(Shared {
            targets: Mutex::new(Targets::default()),
            changed: Condvar::new(),
            totals: Arc::new(CostTotals::default()),
            thread_cpu_ns: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            round_min_period_ns: AtomicU64::new(0),
            relaxed_period_ns: AtomicU64::new(0),
            next_tick_ns: AtomicU64::new(0),
        });
        let thread = match config.engine {
            Engine::ThreadTimers => None,
            Engine::SamplerThread => {
                let shared = shared.clone();
                Some(
                    std::thread::Builder::new()
                        .name("tj-sampler".into())
                        .stack_size(64 * 1024)
                        .spawn(move || run_sampler_thread(&shared, config))?,
                )
            }
        };
        Ok(Sampler {
            config,
            shared,
            thread,
        })
    }

    /// Lowers the rate to `hz` while `Some` (when it is below the rate
    /// asked for), back to the rate asked for with `None`. Only the
    /// sampler-thread engine changes rate; the change takes effect at its
    /// next tick. Samples stay weighted by the CPU time since the last
    /// one, so decayed heat means the same at any rate, only coarser: a
    /// host that needs fewer samples for a while (a program whose hot code
    /// is all compiled) pays for fewer.
    pub fn relax(&self, hz: Option<u32>) {
        let period = hz.map_or(0, |hz| 1_000_000_000 / u64::from(hz.clamp(1, 100_000)));
        self.shared
            .relaxed_period_ns
            .store(period, Ordering::Relaxed);
    }

    /// When the sampler thread's next round is due, in `CLOCK_MONOTONIC`
    /// nanoseconds, if it has one: a consumer of the samples can wake just
    /// after it rather than at a phase of its own. None with the
    /// thread-timers engine, or while no thread is registered.
    pub fn next_tick_ns(&self) -> Option<u64> {
        match self.shared.next_tick_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(ns),
        }
    }

    /// What sampling has cost so far, and the cap that follows.
    pub fn cap_stats(&self) -> CapStats {
        let totals = &self.shared.totals;
        let measured = totals.mean_ns();
        let sample_cost_ns = measured.unwrap_or(cost::PRIOR_COST_NS);
        let round_min_period = self.shared.round_min_period_ns.load(Ordering::Relaxed);
        CapStats {
            sample_cost_ns,
            measured: measured.is_some(),
            cost_cap_hz: cost::cap_hz(sample_cost_ns),
            share_percent: cost::SHARE_PERCENT as u32,
            sampler_thread_cpu_ns: self.shared.thread_cpu_ns.load(Ordering::Relaxed),
            sampler_thread_rounds: self.shared.rounds.load(Ordering::Relaxed),
            sampler_thread_cap_hz: match round_min_period {
                0 => 0,
                ns => (1_000_000_000 / ns).clamp(1, u32::MAX as u64) as u32,
            },
        }
    }

    /// Starts sampling the calling thread: its stack is walked with `map`
    /// (which code is generated) and `frames` (its interpreted frames,
    /// which must stay valid and unmoved while the registration lives).
    pub fn register_current_thread(
        &self,
        map: Arc<CodeMap>,
        frames: InterpFrames,
    ) -> io::Result<Registration> {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: asks for the calling thread's CPU clock id; writes only
        // `clock`.
        if unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) } != 0 {
            return Err(io::Error::other("no CPU-time clock for this thread"));
        }
        let totals = self.shared.totals.clone();
        let target = Arc::new(Target {
            // SAFETY: gettid has no preconditions.
            tid: unsafe { libc::gettid() },
            clock,
            last_cpu_ns: AtomicU64::new(now(clock).unwrap_or(0)),
            sent_cpu_ns: AtomicU64::new(0),
            send_start_ns: AtomicU64::new(0),
            send_end_ns: AtomicU64::new(0),
            pending: AtomicBool::new(false),
            slot: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            idle_ticks: Arc::new(AtomicU64::new(0)),
            cost: CostMeter::new(totals.latest_ns()),
        });
        let asked = self.config.period_ns();
        let sampler = Box::new(ThreadSampler {
            ring: Arc::new(Ring::new(self.config.ring_capacity)),
            map,
            frames,
            bounds: StackBounds::of_current_thread(),
            target: target.clone(),
            engine: self.config.engine,
            asked_period_ns: asked,
            timer: ThreadTimer {
                id: Cell::new(std::ptr::null_mut()),
                origin_ns: Cell::new(0),
                period_ns: Cell::new(cost::capped_period_ns(asked, totals.latest_ns())),
                last_exit_cpu_ns: Cell::new(0),
                last_exit_ns: Cell::new(0),
            },
            totals,
            in_handler: Cell::new(false),
        });
        CURRENT.with(|c| c.set(&*sampler));
        let sender = match self.config.engine {
            Engine::ThreadTimers => match start_thread_timer(target.tid, &sampler.timer) {
                Ok(timer) => Sender::Timer(timer),
                Err(e) => {
                    CURRENT.with(|c| c.set(std::ptr::null()));
                    return Err(e);
                }
            },
            Engine::SamplerThread => {
                let mut targets = lock(&self.shared.targets);
                target.slot.store(targets.list.len(), Ordering::Relaxed);
                targets.list.push(target);
                // Notified with the lock held, the sampler thread would
                // wake only to wait for the lock, then be woken again
                // having just run, and queue behind this thread (its
                // first tick, and the program's first sample, came up to
                // 4 ms late).
                drop(targets);
                self.shared.changed.notify_all();
                Sender::Thread(self.shared.clone())
            }
        };
        Ok(Registration { sampler, sender })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        lock(&self.shared.targets).stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(targets: &Mutex<Targets>) -> std::sync::MutexGuard<'_, Targets> {
    // The lock guards plain data that no panic leaves half-written.
    targets
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Targets ticked per hold of the list's lock: a thread registering or
/// leaving waits for at most this many, not for a whole round.
const TARGETS_PER_LOCK: usize = 64;

/// The most of the sampler thread's lateness in waking that counts as the
/// cost of its wake-up.
const MAX_WAKE_COST_NS: u64 = 100_000;

/// The sampler thread: every period, a signal to each thread that used
/// enough CPU time since its last sample. The period is the one asked for,
/// or longer where the samples' cost or the sampler thread's own would
/// take more than their share.
fn run_sampler_thread(shared: &Shared, config: SamplerConfig) {
    // Ticks on time, not at the end of a busy core's time slice.
    let _ = crate::latency::ask_short_slice();
    // Wake on time: the default 50 us of timer slack would lower 10 kHz to
    // about 6.7 kHz.
    // SAFETY: prctl(PR_SET_TIMERSLACK) only sets this thread's slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
    let asked = config.period_ns();
    // SAFETY: QueuedInfo is plain data with the layout of siginfo_t.
    let mut info: QueuedInfo = unsafe { std::mem::zeroed() };
    info.signo = libc::SIGPROF;
    info.code = libc::SI_QUEUE;
    info.pid = std::process::id() as libc::pid_t;
    // SAFETY: getuid has no preconditions.
    info.uid = unsafe { libc::getuid() };
    let mut cycle = CycleCost::default();
    let mut cycle_start_cpu = 0;
    let mut next = 0;
    loop {
        let (now, late) = match wait_until(shared, &mut next, asked) {
            Wait::Stop => return,
            Wait::Tick(now) => (now, now.saturating_sub(next)),
            Wait::FirstTarget => {
                // The waiting that had no targets is not a cycle's cost.
                cycle_start_cpu = thread_cpu_ns().unwrap_or(0);
                shared.next_tick_ns.store(next, Ordering::Relaxed);
                continue;
            }
        };
        // The rate asked for, or a lower one while relaxed. A tick that
        // finds less CPU time than a quarter period since a thread's last
        // sample is idle: the time carries over to the next sample.
        let asked = asked.max(shared.relaxed_period_ns.load(Ordering::Relaxed));
        tick_every_target(shared, &mut info, asked / 4);
        let cpu = thread_cpu_ns().unwrap_or(cycle_start_cpu);
        // A cycle costs the sampler thread's CPU time, and its wake-up: the
        // timer's interrupt and the switch to this thread land on
        // whichever thread was running (about 20 us in this project's VM,
        // as much as the round itself). How late it woke measures that;
        // much later is a busy machine, not this thread's cost.
        cycle.record(cpu.saturating_sub(cycle_start_cpu) + late.min(MAX_WAKE_COST_NS));
        shared.thread_cpu_ns.store(cpu, Ordering::Relaxed);
        shared.rounds.fetch_add(1, Ordering::Relaxed);
        shared
            .round_min_period_ns
            .store(cycle.min_period_ns(), Ordering::Relaxed);
        cycle_start_cpu = cpu;
        // A busy thread is ready for a sample every `min_period_ns` of its
        // time: ticking twice as often catches it within half of that.
        let for_samples = cost::min_period_ns(shared.totals.latest_ns()) / 2;
        let period = asked.max(for_samples).max(cycle.min_period_ns());
        next += period;
        if now > next {
            // Fell behind (the machine is busy): start over from now
            // rather than sending a burst.
            next = now + period;
        }
        shared.next_tick_ns.store(next, Ordering::Relaxed);
    }
}

/// What the sampler thread woke for.
enum Wait {
    /// The deadline, at this time.
    Tick(u64),
    /// A target registered when there was none: the first tick is due
    /// 0.6 of a period later.
    FirstTarget,
    /// The sampler is dropped.
    Stop,
}

/// Sleeps until `next`, or while there is no target (a first target, or
/// one after none, sets `next` one period later).
fn wait_until(shared: &Shared, next: &mut u64, asked: u64) -> Wait {
    let mut targets = lock(&shared.targets);
    let mut had_none = false;
    loop {
        if targets.stop {
            return Wait::Stop;
        }
        let now = monotonic_ns();
        if targets.list.is_empty() {
            had_none = true;
            targets = match shared.changed.wait(targets) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            continue;
        }
        if had_none || *next == 0 {
            // The first thread's first sample comes after 0.6 of a
            // period: it weighs enough to pass a tier policy's first
            // threshold of half a period, sooner.
            *next = now + asked * 3 / 5;
            return Wait::FirstTarget;
        }
        if now >= *next {
            return Wait::Tick(now);
        }
        let wait = std::time::Duration::from_nanos(*next - now);
        targets = match shared.changed.wait_timeout(targets, wait) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

/// One round: a tick for every target, [`TARGETS_PER_LOCK`] at a time.
/// Targets that register or leave meanwhile may be ticked in this round or
/// the next.
fn tick_every_target(shared: &Shared, info: &mut QueuedInfo, idle_below: u64) {
    let mut at = 0;
    loop {
        let targets = lock(&shared.targets);
        if targets.stop || at >= targets.list.len() {
            return;
        }
        let end = targets.list.len().min(at + TARGETS_PER_LOCK);
        for target in &targets.list[at..end] {
            tick(target, info, idle_below);
        }
        at = end;
    }
}

/// One tick for one thread: a sample if it used enough CPU time. `info`
/// is the signal to send, all but its value filled in.
fn tick(target: &Target, info: &mut QueuedInfo, idle_below: u64) {
    if target.blocked.load(Ordering::Acquire) {
        target.idle_ticks.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if target.pending.load(Ordering::Acquire) {
        // Its last signal has not been handled yet (it is not running):
        // the CPU time carries over.
        return;
    }
    let Some(cpu) = now(target.clock) else { return };
    let weight = cpu.saturating_sub(target.last_cpu_ns.load(Ordering::Relaxed));
    if weight < idle_below {
        target.idle_ticks.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if weight < target.cost.min_period_ns() {
        // Ran, but a sample now would cost more than its share of that
        // time: the time carries over.
        return;
    }
    target.sent_cpu_ns.store(cpu, Ordering::Release);
    target
        .send_start_ns
        .store(monotonic_ns(), Ordering::Release);
    target.pending.store(true, Ordering::Release);
    info.value = weight;
    // SAFETY: sends SIGPROF to a thread of this process that is still
    // registered (we hold the target list's lock, and a thread unregisters
    // before it exits); the kernel copies `info`.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            info.pid,
            target.tid,
            libc::SIGPROF,
            info as *const QueuedInfo,
        )
    } == 0;
    target.send_end_ns.store(monotonic_ns(), Ordering::Release);
    if sent {
        target.last_cpu_ns.store(cpu, Ordering::Relaxed);
    } else {
        target.pending.store(false, Ordering::Release);
    }
}

/// Runs `wait`, a blocking wait (a join), with the calling thread, if it
/// is sampled, marked blocked, so that thousands of blocked threads cost
/// the sampling next to nothing:
///
/// - the sampler thread counts it idle at each tick without reading its
///   CPU clock (a system call per thread and tick);
/// - its own timer (thread-timers engine) would wake it at every period
///   to find it idle: SIGPROF is blocked instead, so the timer expires
///   once and is re-armed only when the signal is taken, after the wait.
///
/// CPU time the thread spends in `wait` goes into its next sample.
pub fn blocked<R>(wait: impl FnOnce() -> R) -> R {
    /// Ends the blocked state on return or unwind.
    enum Unblock<'a> {
        Flag(&'a Target),
        Mask(libc::sigset_t),
    }
    impl Drop for Unblock<'_> {
        fn drop(&mut self) {
            match self {
                Unblock::Flag(target) => target.blocked.store(false, Ordering::Release),
                // SAFETY: restores this thread's signal mask as it was.
                Unblock::Mask(old) => unsafe {
                    libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
                },
            }
        }
    }
    let sampler = CURRENT.with(|c| c.get());
    if sampler.is_null() {
        return wait();
    }
    // SAFETY: a non-null CURRENT points at the Box of this thread's live
    // Registration, which only this thread drops (not inside `wait`).
    let sampler = unsafe { &*sampler };
    let _unblock = match sampler.engine {
        Engine::SamplerThread => {
            sampler.target.blocked.store(true, Ordering::Release);
            Unblock::Flag(&sampler.target)
        }
        Engine::ThreadTimers => {
            // SAFETY: sigset_t is plain data, filled by sigemptyset and
            // sigaddset; pthread_sigmask only changes this thread's mask
            // and writes the old one into `old`.
            let old = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGPROF);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
                old
            };
            Unblock::Mask(old)
        }
    };
    wait()
}

/// Creates a `CLOCK_MONOTONIC` timer sending SIGPROF to `tid` (the calling
/// thread), records it in `timer` and starts it at `timer`'s period.
fn start_thread_timer(tid: libc::pid_t, timer: &ThreadTimer) -> io::Result<libc::timer_t> {
    let mut id: libc::timer_t = std::ptr::null_mut();
    // SAFETY: sigevent is plain data; we aim the timer's signal at this
    // thread (SIGEV_THREAD_ID with its kernel thread id).
    let created = unsafe {
        let mut event: libc::sigevent = std::mem::zeroed();
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = libc::SIGPROF;
        event.sigev_notify_thread_id = tid;
        libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut id)
    };
    if created != 0 {
        return Err(io::Error::last_os_error());
    }
    // Before the first tick: the handler reads the grid.
    let period = timer.period_ns.get();
    let origin = monotonic_ns() + period;
    timer.id.set(id);
    timer.origin_ns.set(origin);
    if let Err(error) = arm_thread_timer(id, origin, period) {
        // SAFETY: `id` was just created; deleted once.
        unsafe { libc::timer_delete(id) };
        return Err(error);
    }
    Ok(id)
}

/// Sets `timer` to expire at `first_ns` (CLOCK_MONOTONIC) and then every
/// `period_ns`. Async-signal-safe.
fn arm_thread_timer(timer: libc::timer_t, first_ns: u64, period_ns: u64) -> io::Result<()> {
    let spec_of = |ns: u64| libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    let spec = libc::itimerspec {
        it_interval: spec_of(period_ns),
        it_value: spec_of(first_ns),
    };
    // SAFETY: `timer` is a live timer of this process; timer_settime is
    // async-signal-safe and only reads `spec`.
    let set =
        unsafe { libc::timer_settime(timer, libc::TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
    if set != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

enum Sender {
    Timer(libc::timer_t),
    Thread(Arc<Shared>),
}

/// A thread's registration: while it lives the thread is sampled.
pub struct Registration {
    sampler: Box<ThreadSampler>,
    sender: Sender,
}

impl Registration {
    /// Makes this the registration whose ring this thread's samples go
    /// to, for a thread that holds it across calls while another came and
    /// went (a registration that ends leaves the thread with none).
    pub fn make_current(&self) {
        CURRENT.with(|c| c.set(&*self.sampler));
    }

    /// The thread's ring, for the aggregator.
    pub fn ring(&self) -> Arc<Ring> {
        self.sampler.ring.clone()
    }

    /// Ticks that found the thread using no CPU time (a counter that
    /// outlives the registration).
    pub fn idle_ticks(&self) -> Arc<AtomicU64> {
        self.sampler.target.idle_ticks.clone()
    }

    /// What a sample costs this thread, as measured so far (nanoseconds).
    pub fn sample_cost_ns(&self) -> u64 {
        self.sampler.target.cost.estimate_ns()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // First, so that no handler from here on uses the sampler (a
        // late tick could re-arm a deleted timer whose id was reused).
        // A signal that came earlier ran its handler before we got here:
        // the handler runs on this same thread.
        CURRENT.with(|c| c.set(std::ptr::null()));
        match &self.sender {
            // SAFETY: the timer was created at registration and is deleted
            // once; after this no new tick is sent to this thread.
            Sender::Timer(timer) => unsafe {
                libc::timer_delete(*timer);
            },
            Sender::Thread(shared) => {
                // Under the lock no send is in progress; after it none
                // comes.
                let target = &self.sampler.target;
                let mut targets = lock(&shared.targets);
                let at = target.slot.load(Ordering::Relaxed);
                if targets.list.get(at).is_some_and(|t| Arc::ptr_eq(t, target)) {
                    targets.list.swap_remove(at);
                    if let Some(moved) = targets.list.get(at) {
                        moved.slot.store(at, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
