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
//! **Handler.** Async-signal-safe: no allocation, no lock, no formatting,
//! no panic; errno is saved and restored. It reads the interrupted `rip`,
//! `rsp` and `rbp`, walks the stack ([`crate::stackwalk`]) with bounds checks and
//! writes one sample into the thread's preallocated [`Ring`], dropping (and
//! counting) it if the ring is full. `SA_RESTART` restarts interrupted
//! system calls, so the program's own I/O is not disturbed.

use crate::codemap::CodeMap;
use crate::ring::{RawSample, Ring};
use crate::stackwalk::{walk, InterpFrames, Interrupted, StackBounds};
use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Samples per second of a busy thread.
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

    /// A tick that finds less CPU time than this since the last sample is
    /// idle: the time carries over to the next sample.
    fn min_weight_ns(&self) -> u64 {
        self.period_ns() / 4
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
    /// A signal is on its way and its handler has not run yet: sending
    /// another now would merge with it (SIGPROF does not queue).
    pending: AtomicBool,
    idle_ticks: Arc<AtomicU64>,
}

/// What the handler needs of one registered thread.
struct ThreadSampler {
    ring: Arc<Ring>,
    map: Arc<CodeMap>,
    frames: InterpFrames,
    bounds: StackBounds,
    target: Arc<Target>,
    engine: Engine,
    min_weight_ns: u64,
    in_handler: Cell<bool>,
}

thread_local! {
    /// The registered sampler of this thread (null if none). Const
    /// initialised and without Drop, so the handler may read it.
    static CURRENT: Cell<*const ThreadSampler> = const { Cell::new(std::ptr::null()) };
}

/// The process id, for telling our own queued signals from others'.
static PID: AtomicU64 = AtomicU64::new(0);

/// The layout of the kernel's `siginfo_t` for a queued signal (`_rt`):
/// libc's type keeps these fields private.
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

extern "C" fn on_sigprof(_: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: errno is thread-local; saved here and restored below so the
    // interrupted code never sees it change.
    let errno = unsafe { *libc::__errno_location() };
    let sampler = CURRENT.with(|c| c.get());
    if !sampler.is_null() {
        // SAFETY: a non-null CURRENT points at the Box of this thread's live
        // Registration (cleared before the Box is freed, on this thread).
        let sampler = unsafe { &*sampler };
        // SAFETY: the kernel passes a full siginfo_t to an SA_SIGINFO
        // handler; QueuedInfo has its size and the `_rt` layout.
        let info = unsafe { &*(info as *const QueuedInfo) };
        if !sampler.in_handler.replace(true) {
            if let Some(weight) = weight_of(sampler, info) {
                record(sampler, weight, context);
            }
            sampler.in_handler.set(false);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The CPU time this signal's sample stands for, or None if it is not a
/// sample (not ours, or an idle tick).
fn weight_of(sampler: &ThreadSampler, info: &QueuedInfo) -> Option<u64> {
    let target = &sampler.target;
    match sampler.engine {
        Engine::SamplerThread => {
            let ours =
                info.code == libc::SI_QUEUE && info.pid as u64 == PID.load(Ordering::Relaxed);
            if !ours {
                return None;
            }
            target.pending.store(false, Ordering::Release);
            Some(info.value)
        }
        Engine::ThreadTimers => {
            if info.code != libc::SI_TIMER {
                return None;
            }
            let cpu = now(libc::CLOCK_THREAD_CPUTIME_ID)?;
            let weight = cpu.saturating_sub(target.last_cpu_ns.load(Ordering::Relaxed));
            if weight < sampler.min_weight_ns {
                // Mostly blocked since the last sample (waking up to take
                // this signal costs a little CPU time too): not a sample.
                target.idle_ticks.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            target.last_cpu_ns.store(cpu, Ordering::Relaxed);
            Some(weight)
        }
    }
}

/// Takes one sample of the interrupted thread.
fn record(sampler: &ThreadSampler, weight: u64, context: *mut libc::c_void) {
    let start = monotonic_ns();
    // SAFETY: the kernel passes the interrupted context of this thread as
    // the third argument of an SA_SIGINFO handler.
    let at = unsafe { Interrupted::from_signal_context(context) };
    sampler.ring.write(|sample: &mut RawSample| {
        sample.time_ns = start;
        sample.weight_ns = weight;
        walk(&sampler.bounds, &sampler.map, &sampler.frames, at, sample);
        sample.handler_ns = monotonic_ns().saturating_sub(start).min(u32::MAX as u64) as u32;
    });
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
        let target = Arc::new(Target {
            // SAFETY: gettid has no preconditions.
            tid: unsafe { libc::gettid() },
            clock,
            last_cpu_ns: AtomicU64::new(now(clock).unwrap_or(0)),
            pending: AtomicBool::new(false),
            idle_ticks: Arc::new(AtomicU64::new(0)),
        });
        let sampler = Box::new(ThreadSampler {
            ring: Arc::new(Ring::new(self.config.ring_capacity)),
            map,
            frames,
            bounds: StackBounds::of_current_thread(),
            target: target.clone(),
            engine: self.config.engine,
            min_weight_ns: self.config.min_weight_ns(),
            in_handler: Cell::new(false),
        });
        CURRENT.with(|c| c.set(&*sampler));
        let sender = match self.config.engine {
            Engine::ThreadTimers => match start_thread_timer(target.tid, self.config.period_ns()) {
                Ok(timer) => Sender::Timer(timer),
                Err(e) => {
                    CURRENT.with(|c| c.set(std::ptr::null()));
                    return Err(e);
                }
            },
            Engine::SamplerThread => {
                let mut targets = lock(&self.shared.targets);
                targets.list.push(target);
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

/// The sampler thread: every period, a signal to each thread that used
/// CPU time since its last sample.
fn run_sampler_thread(shared: &Shared, config: SamplerConfig) {
    // Wake on time: the default 50 us of timer slack would lower 10 kHz to
    // about 6.7 kHz.
    // SAFETY: prctl(PR_SET_TIMERSLACK) only sets this thread's slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
    let period = config.period_ns();
    let min_weight = config.min_weight_ns();
    // SAFETY: QueuedInfo is plain data with the layout of siginfo_t.
    let mut info: QueuedInfo = unsafe { std::mem::zeroed() };
    info.signo = libc::SIGPROF;
    info.code = libc::SI_QUEUE;
    info.pid = std::process::id() as libc::pid_t;
    // SAFETY: getuid has no preconditions.
    info.uid = unsafe { libc::getuid() };
    let mut next = monotonic_ns() + period;
    let mut targets = lock(&shared.targets);
    loop {
        // Wait for the deadline; a stop or a first target wakes us early.
        let now = loop {
            if targets.stop {
                return;
            }
            let now = monotonic_ns();
            if targets.list.is_empty() {
                next = now + period;
            } else if now >= next {
                break now;
            }
            let wait = std::time::Duration::from_nanos(next.saturating_sub(now).max(1));
            targets = match shared.changed.wait_timeout(targets, wait) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        for target in &targets.list {
            tick(target, &mut info, min_weight);
        }
        next += period;
        if now > next {
            // Fell behind (the machine is busy): start over from now
            // rather than sending a burst.
            next = now + period;
        }
    }
}

/// One tick for one thread: a sample if it used CPU time. `info` is the
/// signal to send, all but its value filled in.
fn tick(target: &Target, info: &mut QueuedInfo, min_weight: u64) {
    if target.pending.load(Ordering::Acquire) {
        // Its last signal has not been handled yet (it is not running):
        // the CPU time carries over.
        return;
    }
    let Some(cpu) = now(target.clock) else { return };
    let weight = cpu.saturating_sub(target.last_cpu_ns.load(Ordering::Relaxed));
    if weight < min_weight {
        target.idle_ticks.fetch_add(1, Ordering::Relaxed);
        return;
    }
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
    if sent {
        target.last_cpu_ns.store(cpu, Ordering::Relaxed);
    } else {
        target.pending.store(false, Ordering::Release);
    }
}

/// Creates and starts a `CLOCK_MONOTONIC` timer sending SIGPROF to `tid`.
fn start_thread_timer(tid: libc::pid_t, period_ns: u64) -> io::Result<libc::timer_t> {
    let mut timer: libc::timer_t = std::ptr::null_mut();
    // SAFETY: sigevent is plain data; we aim the timer's signal at this
    // thread (SIGEV_THREAD_ID with its kernel thread id).
    let created = unsafe {
        let mut event: libc::sigevent = std::mem::zeroed();
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = libc::SIGPROF;
        event.sigev_notify_thread_id = tid;
        libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer)
    };
    if created != 0 {
        return Err(io::Error::last_os_error());
    }
    let period = libc::timespec {
        tv_sec: (period_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (period_ns % 1_000_000_000) as libc::c_long,
    };
    let spec = libc::itimerspec {
        it_interval: period,
        it_value: period,
    };
    // SAFETY: `timer` was just created.
    if unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) } != 0 {
        let error = io::Error::last_os_error();
        // SAFETY: as above; deleted once.
        unsafe { libc::timer_delete(timer) };
        return Err(error);
    }
    Ok(timer)
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
    /// The thread's ring, for the aggregator.
    pub fn ring(&self) -> Arc<Ring> {
        self.sampler.ring.clone()
    }

    /// Ticks that found the thread using no CPU time (a counter that
    /// outlives the registration).
    pub fn idle_ticks(&self) -> Arc<AtomicU64> {
        self.sampler.target.idle_ticks.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
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
                lock(&shared.targets)
                    .list
                    .retain(|t| !Arc::ptr_eq(t, target));
            }
        }
        // A signal already sent runs its handler before we get here or
        // finds the pointer cleared; either way it never sees a freed
        // sampler, since the handler runs on this same thread.
        CURRENT.with(|c| c.set(std::ptr::null()));
    }
}

#[cfg(test)]
mod tests;
