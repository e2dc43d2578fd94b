//! Per-thread sampling timers and the SIGPROF handler.
//!
//! **Timers.** CPU-time timers (`CLOCK_THREAD_CPUTIME_ID`) are only checked
//! on the kernel's tick (250 Hz here), so they cannot deliver 1-10 kHz.
//! Each registered thread instead gets its own high-resolution
//! `CLOCK_MONOTONIC` timer aimed at it (`SIGEV_THREAD_ID`), firing at the
//! requested rate, and the handler weights each sample by the CPU time the
//! thread used since its previous sample (read from the thread's CPU clock
//! in the handler). A thread that was blocked used no CPU time: its tick is
//! counted as idle, not as a sample. So samples follow CPU time at any rate
//! the kernel's high-resolution timers deliver.
//!
//! **Handler.** Async-signal-safe: no allocation, no lock, no formatting,
//! no panic; errno is saved and restored. It reads the interrupted `rip`
//! and `rbp`, walks the stack ([`crate::stackwalk`]) with bounds checks and
//! writes one sample into the thread's preallocated [`Ring`], dropping (and
//! counting) it if the ring is full. `SA_RESTART` restarts interrupted
//! system calls, so the program's own I/O is not disturbed.

use crate::codemap::CodeMap;
use crate::ring::{RawSample, Ring};
use crate::stackwalk::{walk, InterpFrames, StackBounds};
use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

/// How to sample.
#[derive(Clone, Copy, Debug)]
pub struct SamplerConfig {
    /// Samples per second of a busy thread.
    pub hz: u32,
    /// Samples each thread's ring holds before the aggregator drains it.
    pub ring_capacity: usize,
}

impl Default for SamplerConfig {
    fn default() -> SamplerConfig {
        SamplerConfig {
            hz: 1000,
            ring_capacity: 4096,
        }
    }
}

/// What the handler needs of one registered thread.
struct ThreadSampler {
    ring: Arc<Ring>,
    map: Arc<CodeMap>,
    frames: InterpFrames,
    bounds: StackBounds,
    last_cpu_ns: Cell<u64>,
    /// A tick that finds less CPU time than this since the last sample is
    /// idle: the time carries over to the next sample.
    min_weight_ns: u64,
    idle_ticks: Arc<AtomicU64>,
    in_handler: Cell<bool>,
}

thread_local! {
    /// The registered sampler of this thread (null if none). Const
    /// initialised and without Drop, so the handler may read it.
    static CURRENT: Cell<*const ThreadSampler> = const { Cell::new(std::ptr::null()) };
}

/// A thread's registration: while it lives the thread is sampled.
pub struct Registration {
    sampler: Box<ThreadSampler>,
    timer: libc::timer_t,
}

impl Registration {
    /// The thread's ring, for the aggregator.
    pub fn ring(&self) -> Arc<Ring> {
        self.sampler.ring.clone()
    }

    /// Ticks that found the thread using no CPU time.
    pub fn idle_ticks(&self) -> Arc<AtomicU64> {
        self.sampler.idle_ticks.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: the timer was created by `register_current_thread` and is
        // deleted once; after this no new tick is sent to this thread.
        unsafe {
            libc::timer_delete(self.timer);
        }
        // A tick already pending runs its handler before we get here again
        // or finds the pointer cleared; either way it never sees a freed
        // sampler, since the handler runs on this same thread.
        CURRENT.with(|c| c.set(std::ptr::null()));
    }
}

fn now(clock: libc::clockid_t) -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime is async-signal-safe and writes only `t`.
    unsafe {
        libc::clock_gettime(clock, &mut t);
    }
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

extern "C" fn on_sigprof(_: libc::c_int, _: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: errno is thread-local; saved here and restored below so the
    // interrupted code never sees it change.
    let errno = unsafe { *libc::__errno_location() };
    let sampler = CURRENT.with(|c| c.get());
    if !sampler.is_null() {
        // SAFETY: a non-null CURRENT points at the Box of this thread's live
        // Registration (cleared before the Box is freed, on this thread).
        let sampler = unsafe { &*sampler };
        if !sampler.in_handler.replace(true) {
            record(sampler, context);
            sampler.in_handler.set(false);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Takes one sample of the interrupted thread.
fn record(sampler: &ThreadSampler, context: *mut libc::c_void) {
    let start = now(libc::CLOCK_MONOTONIC);
    let cpu = now(libc::CLOCK_THREAD_CPUTIME_ID);
    let weight = cpu.saturating_sub(sampler.last_cpu_ns.get());
    if weight < sampler.min_weight_ns {
        // Mostly blocked since the last sample (waking up to take this
        // signal costs a little CPU time too): not a sample.
        sampler.idle_ticks.fetch_add(1, Ordering::Relaxed);
        return;
    }
    sampler.last_cpu_ns.set(cpu);
    // SAFETY: the kernel passes the interrupted context of this thread as
    // the third argument of an SA_SIGINFO handler.
    let (pc, fp) = unsafe {
        let uc = &*(context as *const libc::ucontext_t);
        (
            uc.uc_mcontext.gregs[libc::REG_RIP as usize] as usize,
            uc.uc_mcontext.gregs[libc::REG_RBP as usize] as usize,
        )
    };
    sampler.ring.write(|sample: &mut RawSample| {
        sample.time_ns = start;
        sample.weight_ns = weight;
        walk(
            &sampler.bounds,
            &sampler.map,
            &sampler.frames,
            pc,
            fp,
            sample,
        );
        sample.handler_ns = now(libc::CLOCK_MONOTONIC)
            .saturating_sub(start)
            .min(u32::MAX as u64) as u32;
    });
}

fn install_handler() -> io::Result<()> {
    static INSTALL: Once = Once::new();
    static mut RESULT: i32 = 0;
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is valid; we set the handler, flags and
        // an empty mask, and install it for SIGPROF (which nothing else in
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

/// Starts sampling the calling thread: its stack is walked with `map`
/// (which code is generated) and `frames` (its interpreted frames, which
/// must stay valid and unmoved while the registration lives).
pub fn register_current_thread(
    config: SamplerConfig,
    map: Arc<CodeMap>,
    frames: InterpFrames,
) -> io::Result<Registration> {
    install_handler()?;
    let sampler = Box::new(ThreadSampler {
        ring: Arc::new(Ring::new(config.ring_capacity)),
        map,
        frames,
        bounds: StackBounds::of_current_thread(),
        last_cpu_ns: Cell::new(now(libc::CLOCK_THREAD_CPUTIME_ID)),
        min_weight_ns: 1_000_000_000 / config.hz.clamp(1, 100_000) as u64 / 4,
        idle_ticks: Arc::new(AtomicU64::new(0)),
        in_handler: Cell::new(false),
    });
    CURRENT.with(|c| c.set(&*sampler));
    let mut timer: libc::timer_t = std::ptr::null_mut();
    // SAFETY: sigevent is plain data; we aim the timer's signal at this
    // thread (SIGEV_THREAD_ID with its kernel thread id).
    let created = unsafe {
        let mut event: libc::sigevent = std::mem::zeroed();
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = libc::SIGPROF;
        event.sigev_notify_thread_id = libc::gettid();
        libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer)
    };
    if created != 0 {
        CURRENT.with(|c| c.set(std::ptr::null()));
        return Err(io::Error::last_os_error());
    }
    let period_ns = 1_000_000_000 / config.hz.clamp(1, 100_000) as i64;
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: period_ns / 1_000_000_000,
            tv_nsec: period_ns % 1_000_000_000,
        },
        it_value: libc::timespec {
            tv_sec: period_ns / 1_000_000_000,
            tv_nsec: period_ns % 1_000_000_000,
        },
    };
    // SAFETY: `timer` was just created.
    if unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) } != 0 {
        let error = io::Error::last_os_error();
        // SAFETY: as above; deleted once.
        unsafe { libc::timer_delete(timer) };
        CURRENT.with(|c| c.set(std::ptr::null()));
        return Err(error);
    }
    Ok(Registration { sampler, timer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codemap::CodeMap;

    fn spin_for(ms: u64) -> u64 {
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < ms as u128 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        x
    }

    #[test]
    fn a_busy_thread_is_sampled_at_about_the_requested_rate() {
        for hz in [1000, 10_000] {
            let reg = register_current_thread(
                SamplerConfig {
                    hz,
                    ring_capacity: 1 << 14,
                },
                Arc::new(CodeMap::new(4)),
                InterpFrames::NONE,
            )
            .unwrap();
            let cpu0 = now(libc::CLOCK_THREAD_CPUTIME_ID);
            std::hint::black_box(spin_for(300));
            let cpu = now(libc::CLOCK_THREAD_CPUTIME_ID) - cpu0;
            let ring = reg.ring();
            drop(reg);
            let (mut samples, mut weight) = (0u64, 0u64);
            ring.drain(|s| {
                samples += 1;
                weight += s.weight_ns;
            });
            let achieved = samples as f64 * 1e9 / cpu as f64;
            // Shared 2-core machines lose ticks; ask only for the order of
            // magnitude here (the benches measure the real rate).
            assert!(
                achieved > hz as f64 * 0.3,
                "{hz} Hz asked, {achieved:.0} Hz achieved"
            );
            assert!(weight <= cpu + 5_000_000, "weights add up to the CPU time");
        }
    }

    #[test]
    fn a_blocked_thread_gives_idle_ticks_not_samples() {
        let reg = register_current_thread(
            SamplerConfig {
                hz: 2000,
                ring_capacity: 1024,
            },
            Arc::new(CodeMap::new(1)),
            InterpFrames::NONE,
        )
        .unwrap();
        // nanosleep returns early on a signal; keep sleeping for 100 ms.
        let until = std::time::Instant::now() + std::time::Duration::from_millis(100);
        while std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let idle = reg.idle_ticks().load(Ordering::Relaxed);
        let ring = reg.ring();
        drop(reg);
        let mut samples = 0;
        ring.drain(|_| samples += 1);
        assert!(idle > 20, "idle ticks: {idle}");
        assert!(
            samples < idle,
            "samples {samples} while blocked, idle {idle}"
        );
    }
}
