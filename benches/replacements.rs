//! What replacing running code costs: 100,000 code replacements while
//! eight threads (more than the cores of a small machine) call the
//! replaced functions, each replacement compiling fresh baseline code for
//! one of them, installing it (one store into the method-table slot) and
//! retiring the code it replaces, which the retirer's handshake rounds
//! free once no thread is inside.
//!
//! The replacing thread plays the compiler thread's part: after each
//! replacement it calls `Vm::collect_retired`, which starts handshake
//! rounds when they are due and frees what finished rounds found unused,
//! without waiting for the mutators. The report gives the time per
//! replacement, with the part spent compiling and placing code and the
//! part spent retiring, the handshake rounds (signal to last answer), the
//! mutators' progress, and the retire log after shutdown (it must balance).
//!
//! Run with `cargo bench --bench replacements` (about half a minute on
//! two cores); `-- --quick` does 10,000. `REPLACEMENT_THREADS=N` sets the
//! number of mutator threads (default 8). `REPLACEMENT_TIER=opt` replaces
//! with optimized code instead, whose direct calls of the other replaced
//! functions are repatched at every replacement (the report counts them).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tierjit::runtime::{TierMode, Vm, VmOptions};
use tierjit::tiers::bytecode::FuncId;
use tierjit::tiers::code::Tier;

/// The mutators' program: `worker` calls `chain`, which calls `step`,
/// which calls `mix`; the bench replaces the code of all four.
const PROGRAM: &str = "
fn mix(x: int, k: int) -> int {
    return (x * 31 + k) % 1000003;
}

fn step(x: int, k: int) -> int {
    if k % 3 == 0 { return mix(x, k); }
    return mix(mix(x, k), k + 1);
}

fn chain(n: int, x: int) -> int {
    let y = x;
    for i in 0..n { y = step(y, i); }
    return y;
}

fn worker(rounds: int, seed: int) -> int {
    let x = seed;
    for r in 0..rounds {
        x = chain(8, x) + r % 7;
    }
    return x;
}

fn main() {
    print(worker(10, 1));
}
";

/// Rounds of `worker` per call from a mutator thread (about a
/// millisecond in baseline code): between calls a mutator is unregistered
/// for a moment, as a thread that leaves tj code is.
const WORKER_ROUNDS: u64 = 2_000;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let replacements: u64 = if quick { 10_000 } else { 100_000 };
    let threads: usize = std::env::var("REPLACEMENT_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    let tier = match std::env::var("REPLACEMENT_TIER").as_deref() {
        Ok("opt") => Tier::Opt,
        _ => Tier::Baseline,
    };
    let module = tierjit::lang::compile(PROGRAM.as_bytes()).expect("the bench program compiles");
    let replaced: Vec<FuncId> = ["mix", "step", "chain", "worker"]
        .iter()
        .map(|name| module.find(name).expect("function"))
        .collect();
    let worker = module.find("worker").expect("worker");
    let options = VmOptions {
        tier: TierMode::Interp,
        ..VmOptions::default()
    };
    let vm = Vm::new(module, options).expect("the module verifies");
    for &func in &replaced {
        vm.compile(func, tier).expect("code compiles");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let mutators: Vec<_> = (0..threads)
        .map(|seed| {
            let (vm, stop, calls) = (vm.clone(), stop.clone(), calls.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    vm.call(worker, &[WORKER_ROUNDS, seed as u64 + 1])
                        .expect("worker runs");
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Let every mutator get going.
    std::thread::sleep(Duration::from_millis(50));

    let started = Instant::now();
    let mut compiling = Duration::ZERO;
    let mut collecting = Duration::ZERO;
    let calls_before = calls.load(Ordering::Relaxed);
    for i in 0..replacements {
        let func = replaced[(i % replaced.len() as u64) as usize];
        let t = Instant::now();
        vm.compile(func, tier).expect("code compiles");
        let u = Instant::now();
        vm.collect_retired();
        compiling += u - t;
        collecting += u.elapsed();
    }
    let elapsed = started.elapsed();
    let calls_during = calls.load(Ordering::Relaxed) - calls_before;
    let still_pending = vm.retired_pending();

    stop.store(true, Ordering::Relaxed);
    for m in mutators {
        m.join().expect("mutator");
    }
    let (retired, freed) = vm.shutdown();
    let stats = vm.handshake_stats();

    let per = |d: Duration| d.as_secs_f64() * 1e6 / replacements as f64;
    let us = |ns: u64| ns as f64 / 1e3;
    println!(
        "replacements: {replacements} of {tier} code with {threads} mutator threads in {:.2} s: {:.1} us per replacement ({:.0} per second)",
        elapsed.as_secs_f64(),
        per(elapsed),
        replacements as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  compile + place + install {:.1} us, collect_retired {:.2} us per replacement; {} call sites repatched",
        per(compiling),
        per(collecting),
        vm.call_sites_repatched()
    );
    println!(
        "  handshake rounds: {}, signal to last answer p50 {:.0} us, p99 {:.0} us, max {:.0} us; walk p99 {:.1} us",
        stats.round.len(),
        us(stats.round.value_at_quantile(0.5)),
        us(stats.round.value_at_quantile(0.99)),
        us(stats.round.max()),
        us(stats.walk.value_at_quantile(0.99))
    );
    println!(
        "  retirer CPU time {:.1} ms; handlers {:.1} ms in all; mutators finished {calls_during} worker calls meanwhile",
        stats.retirer_cpu_ns as f64 / 1e6,
        stats.walk_ns as f64 / 1e6
    );
    println!(
        "  retire log: {retired} retired, {freed} freed after shutdown ({still_pending} waiting when the loop ended)"
    );
    assert_eq!(retired, freed, "the retire log does not balance");
}
