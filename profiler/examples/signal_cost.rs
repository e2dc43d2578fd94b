//! What a sample costs the sampled thread, on this machine.
//!
//! A thread spins through a fixed amount of work while being interrupted
//! at a rate, and the extra CPU time it needs, divided by the signals it
//! took, is the cost of one. Seven ways, interleaved over several rounds,
//! best round each:
//!
//! - `off`: no signals;
//! - `timer, empty handler`: the thread's own CLOCK_MONOTONIC timer and a
//!   handler that does nothing (the floor of the thread-timers engine);
//! - `thread, empty handler`: another thread sends the signal with tgkill
//!   (the floor of the sampler-thread engine);
//! - `perf event, no signal`: a `perf_event_open` task clock writing
//!   samples (ip, call chain) into its buffer in the kernel, counted from
//!   the records there;
//! - `self-signal, no interrupt`: the thread signals itself with
//!   `pthread_kill`, a quarter as many times as the rate (delivery alone);
//! - `thread-timers` and `sampler-thread`: the real engines with the real
//!   handler (stack walk, ring write), rate capped as they are in use;
//!   the `estimate` column is what each engine measured a sample to cost
//!   (what its cap follows), to compare with `us/signal`.
//!
//!     cargo run --release -p tierjit-profiler --example signal_cost [HZ] [ROUNDS]

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tierjit_profiler::codemap::CodeMap;
use tierjit_profiler::sampler::{Engine, Sampler, SamplerConfig};
use tierjit_profiler::stackwalk::InterpFrames;

const WORK: u64 = 200_000_000;

static SIGNALS: AtomicU64 = AtomicU64::new(0);

extern "C" fn count(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

fn empty_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes only `t`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// CPU nanoseconds of the fixed work on this thread.
fn spin() -> u64 {
    let start = thread_cpu_ns();
    let mut x = 1u64;
    for _ in 0..WORK {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    std::hint::black_box(x);
    thread_cpu_ns() - start
}

/// The work under this thread's own timer, with the empty handler.
fn timer_empty(hz: u32) -> (u64, u64) {
    SIGNALS.store(0, Ordering::Relaxed);
    let mut timer: libc::timer_t = std::ptr::null_mut();
    let period = 1_000_000_000 / hz as i64;
    // SAFETY: a timer aimed at this thread with the counting signal; it is
    // deleted before returning.
    unsafe {
        let mut event: libc::sigevent = std::mem::zeroed();
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = empty_signal();
        event.sigev_notify_thread_id = libc::gettid();
        assert_eq!(
            libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer),
            0
        );
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: period,
            },
            it_value: libc::timespec {
                tv_sec: 0,
                tv_nsec: period,
            },
        };
        libc::timer_settime(timer, 0, &spec, std::ptr::null_mut());
    }
    let cpu = spin();
    // SAFETY: created above, deleted once.
    unsafe { libc::timer_delete(timer) };
    (cpu, SIGNALS.load(Ordering::Relaxed))
}

/// The work while another thread sends the empty signal at `hz`.
fn thread_empty(hz: u32) -> (u64, u64) {
    SIGNALS.store(0, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let tid = Arc::new(AtomicI32::new(0));
    // SAFETY: gettid has no preconditions.
    tid.store(unsafe { libc::gettid() }, Ordering::Relaxed);
    let sender = {
        let (stop, tid) = (stop.clone(), tid.clone());
        std::thread::spawn(move || {
            let period = Duration::from_nanos(1_000_000_000 / hz as u64);
            let mut next = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                next += period;
                if let Some(wait) = next.checked_duration_since(std::time::Instant::now()) {
                    std::thread::sleep(wait);
                }
                // SAFETY: signals a live thread of this process (it waits
                // for us to stop before it returns).
                unsafe {
                    libc::syscall(
                        libc::SYS_tgkill,
                        std::process::id(),
                        tid.load(Ordering::Relaxed),
                        empty_signal(),
                    );
                }
            }
        })
    };
    let cpu = spin();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    (cpu, SIGNALS.load(Ordering::Relaxed))
}

/// The work while a `perf_event_open` software CPU clock takes a sample
/// (ip and user call chain, into its mmap'd buffer, no signal) at `hz`.
/// Gives the samples taken from the buffer's head; None where perf
/// events are not allowed.
fn perf_event(hz: u32) -> Option<(u64, u64)> {
    // struct perf_event_attr, the fields used here (PERF_ATTR_SIZE_VER5).
    #[repr(C)]
    #[derive(Default)]
    struct Attr {
        kind: u32,
        size: u32,
        config: u64,
        sample_period: u64,
        sample_type: u64,
        read_format: u64,
        flags: u64,
        wakeup_events: u32,
        bp_type: u32,
        config1: u64,
        config2: u64,
        branch_sample_type: u64,
        sample_regs_user: u64,
        sample_stack_user: u32,
        clockid: i32,
        sample_regs_intr: u64,
        aux_watermark: u32,
        sample_max_stack: u16,
        reserved: u16,
    }
    const PERF_TYPE_SOFTWARE: u32 = 1;
    const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
    const SAMPLE_IP_TIME_CALLCHAIN: u64 = 1 | 4 | 32;
    const EXCLUDE_KERNEL_AND_HV: u64 = (1 << 5) | (1 << 6);
    let attr = Attr {
        kind: PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<Attr>() as u32,
        config: PERF_COUNT_SW_TASK_CLOCK,
        sample_period: 1_000_000_000 / hz as u64,
        sample_type: SAMPLE_IP_TIME_CALLCHAIN,
        flags: EXCLUDE_KERNEL_AND_HV,
        wakeup_events: 1 << 30,
        ..Attr::default()
    };
    // SAFETY: perf_event_open reads `attr`; the event counts this thread.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, &attr, 0, -1, -1, 0) } as i32;
    if fd < 0 {
        return None;
    }
    let pages = 1 + 256;
    // SAFETY: maps the event's buffer (a header page and 2^n data pages).
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            pages * 4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    let cpu = spin();
    let mut records = 0;
    if map != libc::MAP_FAILED {
        let base = map as *const u8;
        // SAFETY: data_head is the u64 at offset 1024 of the header page;
        // records start at the second page, each with its size in bytes
        // 6..8 of its header. The buffer is larger than what one run
        // writes, so it never wraps.
        unsafe {
            let head = std::ptr::read_volatile(base.add(1024) as *const u64) as usize;
            let mut at = 0;
            while at + 8 <= head.min((pages - 1) * 4096) {
                let size = std::ptr::read_unaligned(base.add(4096 + at + 6) as *const u16);
                if size == 0 {
                    break;
                }
                records += 1;
                at += size as usize;
            }
            libc::munmap(map, pages * 4096);
        }
    }
    // SAFETY: opened above, closed once.
    unsafe { libc::close(fd) };
    Some((cpu, records))
}

/// The work while this thread sends itself the empty signal `n` times
/// (delivery without an interrupt).
fn self_signals(n: u64) -> (u64, u64) {
    SIGNALS.store(0, Ordering::Relaxed);
    let start = thread_cpu_ns();
    for _ in 0..n {
        // SAFETY: signals this thread with the counting signal.
        unsafe {
            libc::pthread_kill(libc::pthread_self(), empty_signal());
        }
    }
    let signalling = thread_cpu_ns() - start;
    (spin() + signalling, SIGNALS.load(Ordering::Relaxed))
}

/// The work sampled by a real engine; also gives the engine's own
/// estimate of a sample's cost (what its rate cap follows).
fn engine(hz: u32, engine: Engine) -> (u64, u64, u64) {
    let sampler = Sampler::start(SamplerConfig {
        hz,
        ring_capacity: 1 << 16,
        engine,
    })
    .unwrap();
    let reg = sampler
        .register_current_thread(Arc::new(CodeMap::new(4)), InterpFrames::NONE)
        .unwrap();
    let cpu = spin();
    let ring = reg.ring();
    let estimate = reg.sample_cost_ns();
    drop(reg);
    (cpu, ring.drain(|_| ()) as u64, estimate)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let hz: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    // SAFETY: installs a handler that only bumps an atomic counter.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigaction(empty_signal(), &action, std::ptr::null_mut());
    }
    type Way = (&'static str, Box<dyn Fn() -> (u64, u64, u64)>);
    let no_estimate = |(cpu, signals)| (cpu, signals, 0);
    let ways: Vec<Way> = vec![
        ("off", Box::new(|| (spin(), 0, 0))),
        (
            "timer, empty handler",
            Box::new(move || no_estimate(timer_empty(hz))),
        ),
        (
            "thread, empty handler",
            Box::new(move || no_estimate(thread_empty(hz))),
        ),
        (
            "perf event, no signal",
            Box::new(move || no_estimate(perf_event(hz).unwrap_or((0, 0)))),
        ),
        (
            "self-signal, no interrupt",
            Box::new(move || no_estimate(self_signals(hz as u64 / 4))),
        ),
        (
            "thread-timers engine",
            Box::new(move || engine(hz, Engine::ThreadTimers)),
        ),
        (
            "sampler-thread engine",
            Box::new(move || engine(hz, Engine::SamplerThread)),
        ),
    ];
    let mut best = vec![(u64::MAX, 0u64, 0u64); ways.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in ways.iter().enumerate() {
            let (cpu, signals, estimate) = run();
            if cpu < best[i].0 {
                best[i] = (cpu, signals, estimate);
            }
        }
    }
    let off = best[0].0 as f64;
    println!("{hz} Hz, best of {rounds} rounds, CPU time of the sampled thread");
    println!(
        "{:<24} {:>9} {:>8} {:>9} {:>12} {:>9}",
        "way", "cpu ms", "signals", "overhead", "us/signal", "estimate"
    );
    for ((name, _), &(cpu, signals, estimate)) in ways.iter().zip(&best) {
        if cpu == 0 {
            println!("{name:<24} not allowed here");
            continue;
        }
        let extra = cpu as f64 - off;
        let per = if signals > 0 {
            format!("{:.2}", extra / signals as f64 / 1e3)
        } else {
            "-".to_string()
        };
        let estimate = if estimate > 0 {
            format!("{:.2}", estimate as f64 / 1e3)
        } else {
            "-".to_string()
        };
        println!(
            "{:<24} {:>9.1} {:>8} {:>8.1}% {:>12} {:>9}",
            name,
            cpu as f64 / 1e6,
            signals,
            (cpu as f64 / off - 1.0) * 100.0,
            per,
            estimate
        );
    }
}
