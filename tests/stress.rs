//! `--jit-stress` on several threads: thousands of installs and
//! retirements while four threads call the replaced functions, with no
//! crash, the same result as the interpreter, and a balanced retire log
//! (every retired blob freed by the end); the same with eight threads
//! running optimized code whose direct calls are repatched at every
//! replacement; and for optimized OSR code (`--osr-opt`), retired while
//! threads run inside it.

mod common;
use common::{run, tier_stat};

/// `(retired, freed)` from the `--tier-stats` line.
fn retire_log(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("blobs retired"))
        .expect("tier stats printed");
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

/// Runs `tierjit run ARGS` under stress: checks it exits 0 with
/// `expected` on stdout and a balanced retire log; gives (retired, stderr).
fn run_stressed(args: &[&str], expected: &str, attempt: u32) -> (u64, String) {
    let (status, stdout, stderr) = run(args);
    assert_eq!(status, 0, "attempt {attempt}: {stderr}");
    assert_eq!(
        stdout, expected,
        "attempt {attempt}: wrong result under --jit-stress"
    );
    let (retired, freed) = retire_log(&stderr);
    assert_eq!(
        retired, freed,
        "attempt {attempt}: retire log does not balance: {stderr}"
    );
    (retired, stderr)
}

/// Runs `tierjit run [MODE] --jit-stress --jit-stress-period-us 20
/// --tier-stats PROGRAM ROUNDS` until `enough` says the stderr of the runs
/// so far covers the test (at most `max_runs` runs), each run checked by
/// [`run_stressed`] against `--tier baseline`'s output; gives the runs'
/// stderr.
fn stress_until(
    mode: &[&str],
    program: &str,
    rounds: &str,
    max_runs: u32,
    enough: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let (status, expected, _) = run(&["run", "--tier", "baseline", program, rounds]);
    assert_eq!(status, 0);
    let mut runs = Vec::new();
    while !enough(&runs) && (runs.len() as u32) < max_runs {
        let mut args = vec!["run"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["--jit-stress", "--jit-stress-period-us", "20"]);
        args.extend_from_slice(&["--tier-stats", program, rounds]);
        runs.push(run_stressed(&args, &expected, runs.len() as u32 + 1).1);
    }
    runs
}

/// The sum over `runs` of the `--tier-stats` number that `what` names.
fn total(runs: &[String], what: &str) -> u64 {
    runs.iter().map(|stderr| tier_stat(stderr, what)).sum()
}

#[test]
fn threads_survive_thousands_of_code_replacements() {
    // Each run retires a few hundred blobs, more on a quiet machine.
    let runs = stress_until(&[], "tests/stress/shared.tj", "400000", 12, |runs| {
        total(runs, "blobs retired") >= 1000
    });
    let retired = total(&runs, "blobs retired");
    assert!(
        retired >= 1000,
        "only {retired} retirements over {} runs",
        runs.len()
    );
}

/// More busy threads than cores, and `main` blocked in `join`: handshake
/// rounds stay open for milliseconds while the threads wait for a core,
/// and blobs retired meanwhile must wait for a later round.
#[test]
fn eight_threads_on_few_cores_survive_code_replacements() {
    let runs = stress_until(&[], "tests/stress/threads8.tj", "100000", 8, |runs| {
        total(runs, "blobs retired") >= 500
    });
    for stderr in &runs {
        assert!(stderr.contains("stack-walk handshakes"), "{stderr}");
    }
    let retired = total(&runs, "blobs retired");
    assert!(
        retired >= 500,
        "only {retired} retirements over {} runs",
        runs.len()
    );
}

#[test]
fn eight_threads_survive_ten_thousand_replacements_with_repatched_calls() {
    // Each run retires a few thousand blobs on this project's 2-core
    // machine.
    let runs = stress_until(&[], "tests/stress/calls.tj", "1000000", 10, |runs| {
        total(runs, "blobs retired") >= 10_000
    });
    let retired = total(&runs, "blobs retired");
    let repatched = total(&runs, "call sites repatched");
    assert!(
        retired >= 10_000 && repatched >= 10_000,
        "only {retired} replacements and {repatched} repatched call sites over {} runs",
        runs.len()
    );
}

#[test]
fn threads_survive_retirement_of_the_osr_code_they_run() {
    let runs = stress_until(
        &["--tier", "interp", "--osr-opt"],
        "tests/stress/osr.tj",
        "300000",
        12,
        |runs| {
            total(runs, "blobs retired") >= 100 && total(runs, "on-stack replacements") >= 10_000
        },
    );
    let retired = total(&runs, "blobs retired");
    let osr = total(&runs, "on-stack replacements");
    assert!(
        retired >= 100 && osr >= 10_000,
        "only {retired} retirements and {osr} OSR entries over {} runs",
        runs.len()
    );
}

/// The `--tier-stats` count of handshake answers that the retirer walked
/// itself, for threads blocked in a join.
fn parked_answers(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("answers walked by the retirer"))
        .unwrap_or_else(|| panic!("no parked answers in {stderr}"));
    let before = line.split(" answers walked").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Thousands of threads blocked in `join` inside code that is replaced
/// under them: rounds walk their stacks from the retirer instead of
/// signalling them, and a frame such a walk missed would be freed (its
/// bytes `int3`) under a thread that later returns into it.
#[test]
fn threads_blocked_in_joins_keep_the_code_they_wait_in() {
    for tier in ["baseline", "opt", "auto"] {
        let runs = stress_until(
            &["--tier", tier],
            "tests/limits/spawn_tree.tj",
            "2000",
            4,
            |runs| runs.iter().map(|r| parked_answers(r)).sum::<u64>() >= 1000,
        );
        let parked: u64 = runs.iter().map(|r| parked_answers(r)).sum();
        let retired = total(&runs, "blobs retired");
        assert!(
            parked >= 1000 && retired >= 100,
            "--tier {tier}: only {parked} parked answers and {retired} retirements over {} runs",
            runs.len()
        );
    }
}
