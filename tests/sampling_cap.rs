//! Sampling takes a bounded share of a thread's time, whatever rate was
//! asked, and says where it capped the rate (issue 13, part 5;
//! docs/profiler.md, "The cap").
//!
//! The time bounds are generous (a loaded 2-core machine) but far below
//! what the uncapped sampler took: it never finished.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tierjit_profiler::profile::Profile;

/// Runs `tierjit ARGS` in the repository root, killed after `limit`:
/// (status, stdout, stderr, how long it ran).
fn run_within(args: &[&str], limit: Duration) -> (Option<i32>, String, String, Duration) {
    let started = Instant::now();
    let mut child = common::command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tierjit runs");
    while child.try_wait().unwrap().is_none() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

fn temp_profile(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tierjit-cap-{}-{name}.tjprof", std::process::id()))
}

/// fib(27) interpreted, profiled at 100 kHz with `engine`: the run's
/// profile, after checking that it finished in time with the right answer
/// and said it capped the rate.
fn fib_at_100_khz(engine: &str) -> Profile {
    let out = temp_profile(engine);
    let out_arg = out.to_str().unwrap();
    let args = [
        "run",
        "--tier",
        "interp",
        "--profile",
        out_arg,
        "--profile-engine",
        engine,
        "--profile-hz",
        "100000",
        "tests/sampling_cap/fib.tj",
        "27",
    ];
    // About 0.05 s here, sampled or not.
    let (status, stdout, stderr, took) = run_within(&args, Duration::from_secs(30));
    assert_eq!(
        (status, stdout.as_str()),
        (Some(0), "196418\n"),
        "{engine}: after {took:?}: {stderr}"
    );
    assert!(took < Duration::from_secs(10), "{engine}: took {took:?}");
    assert!(
        stderr.contains("Hz asked (capped at "),
        "{engine}: no cap in {stderr}"
    );
    let report = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .args(["report", out_arg])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(report.contains("\n  cap      capped at "), "{report}");
    let profile = tierjit_profiler::format::read(&std::fs::read(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    profile
}

#[test]
fn thread_timers_at_100_khz_no_longer_stall_a_thread() {
    let profile = fib_at_100_khz("thread-timers");
    let stats = &profile.stats;
    // A sample costs microseconds, so 10% of the time allows well under
    // 100 kHz; and the rate achieved keeps to the cap.
    assert!(stats.sample_cost_ns > 0, "{stats:?}");
    assert!(stats.cap_hz() < 100_000, "{stats:?}");
    assert!(
        stats.achieved_hz() < 1.5 * stats.cost_cap_hz as f64,
        "{:.0} Hz achieved: {stats:?}",
        stats.achieved_hz()
    );
}

#[test]
fn the_sampler_thread_at_100_khz_reports_its_cap() {
    let profile = fib_at_100_khz("sampler-thread");
    let stats = &profile.stats;
    assert!(stats.cap_hz() < 100_000, "{stats:?}");
    assert!(stats.sampler_thread_cap_hz > 0, "{stats:?}");
    assert!(
        stats.achieved_hz() < 1.5 * stats.cost_cap_hz as f64,
        "{:.0} Hz achieved: {stats:?}",
        stats.achieved_hz()
    );
}

#[test]
fn five_thousand_live_threads_do_not_stall_the_sampler_thread() {
    // Auto mode samples at 1 kHz to find hot code. 1-2 s here (0.6 s
    // interpreted without sampling); 90 s when a round over the threads
    // outgrew the period.
    let args = [
        "run",
        "--tier-stats",
        "tests/sampling_cap/spawn_tree.tj",
        "5000",
    ];
    let (status, stdout, stderr, took) = run_within(&args, Duration::from_secs(60));
    assert_eq!(
        (status, stdout.as_str()),
        (Some(0), "5000\n"),
        "after {took:?}: {stderr}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let sampling = stderr
        .lines()
        .find(|l| l.starts_with("tierjit: sampling "))
        .unwrap_or_else(|| panic!("no sampling line in {stderr}"));
    assert!(sampling.contains("sampler thread "), "{sampling}");
}
