//! Automatic tiering end to end: hot functions get compiled while the
//! program runs, a loop that never returns moves into compiled code by
//! on-stack replacement, the `--osr-opt` test mode enters every loop by
//! on-stack replacement, and the output is the interpreter's.

mod common;
use common::{run, tier_stat as stat};

#[test]
fn a_hot_function_is_compiled_in_the_background_and_gives_the_same_output() {
    let (status, expected, _) = run(&["run", "--tier", "interp", "benches/tj/fib.tj", "30"]);
    assert_eq!(status, 0);
    // Thresholds that keep it in baseline code (the default ones may
    // send it straight to optimized code): other tests take the other
    // paths.
    let (status, stdout, stderr) = run(&[
        "run",
        "--trace-tiers",
        "--tier-stats",
        "--tier-thresholds",
        "2,1000,1000",
        "benches/tj/fib.tj",
        // Long enough (0.3 s interpreted) to get hot and compiled also
        // when other tests load every core.
        "30",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout, expected);
    assert!(stderr.contains("tier: fib: interp -> baseline"), "{stderr}");
    assert!(stderr.contains("tier: fib: installed baseline"), "{stderr}");
    assert!(stat(&stderr, "tier-ups") >= 1);
}

#[test]
fn a_function_hot_in_baseline_code_moves_on_to_optimized_code() {
    let (_, expected, _) = run(&["run", "--tier", "interp", "benches/tj/fib.tj", "32"]);
    let (status, stdout, stderr) = run(&[
        "run",
        "--trace-tiers",
        "--tier-thresholds",
        "1,2,1000",
        "benches/tj/fib.tj",
        "32",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout, expected);
    assert!(stderr.contains("tier: fib: interp -> baseline"), "{stderr}");
    assert!(stderr.contains("tier: fib: baseline -> opt"), "{stderr}");
    assert!(stderr.contains("tier: fib: installed opt"), "{stderr}");
}

#[test]
fn a_function_very_hot_while_interpreted_goes_straight_to_optimized_code() {
    let (_, expected, _) = run(&["run", "--tier", "interp", "benches/tj/fib.tj", "32"]);
    let (status, stdout, stderr) = run(&[
        "run",
        "--trace-tiers",
        "--tier-stats",
        "--tier-thresholds",
        "1000,1000,1",
        "benches/tj/fib.tj",
        "32",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout, expected);
    assert!(stderr.contains("tier: fib: interp -> opt"), "{stderr}");
    assert!(!stderr.contains("-> baseline"), "{stderr}");
    // --tier-stats say when the hot code, fib alone, was first seen
    // running optimized code: after it was installed.
    let line = stderr
        .lines()
        .find(|l| l.starts_with("tierjit: hot code optimized by "))
        .unwrap_or_else(|| panic!("no hot-code line: {stderr}"));
    assert!(
        line.ends_with("(1 functions, 90% of the sampled CPU time)"),
        "{line}"
    );
    let ms: f64 = line["tierjit: hot code optimized by ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let installed: f64 = stderr
        .lines()
        .find(|l| l.contains("tier: fib: installed opt"))
        .and_then(|l| l.trim_start_matches('[').split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    // (A little slack: the two clocks start a few microseconds apart.)
    assert!(ms + 0.5 >= installed, "{line}; installed at {installed} ms");
}

#[test]
fn a_loop_that_never_returns_moves_into_compiled_code() {
    // mandelbrot spends its whole run in one call of `mandelbrot`: only
    // on-stack replacement can speed it up.
    let (_, expected, _) = run(&[
        "run",
        "--tier",
        "baseline",
        "benches/tj/mandelbrot.tj",
        "300",
    ]);
    // Thresholds that keep it in baseline code: the move into optimized
    // code has a test of its own.
    let (status, stdout, stderr) = run(&[
        "run",
        "--tier-stats",
        "--tier-thresholds",
        "1,1000,1000",
        "benches/tj/mandelbrot.tj",
        "300",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout, expected);
    assert!(stat(&stderr, "on-stack replacements") >= 1, "{stderr}");
}

#[test]
fn a_baseline_loop_moves_into_optimized_code_and_fails_exactly_there() {
    let program = "tests/tiering/loop_then_error.tj";
    let n = "20000000";
    let (status, stdout, expected_err) = run(&["run", "--tier", "interp", program, n]);
    assert_eq!(status, 2, "{expected_err}");
    let (status, out, stderr) = run(&[
        "run",
        "--trace-tiers",
        "--tier-stats",
        "--tier-thresholds",
        "0.5,1,1000",
        program,
        n,
    ]);
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(out, stdout);
    // The activation went interp -> baseline -> optimized code, each by
    // on-stack replacement (or, when the machine kept the thread off the
    // CPU between the two installs, straight into optimized code), and
    // the error left from there.
    assert!(stderr.contains("tier: churn: baseline -> opt"), "{stderr}");
    assert!(
        stderr.contains("tier: churn: loop at pc 5 -> opt OSR code"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tier: churn: loop at pc 5 entered by OSR: baseline -> opt")
            || stderr.contains("tier: churn: loop at pc 5 entered by OSR: interp -> opt"),
        "{stderr}"
    );
    assert!(stat(&stderr, "on-stack replacements") >= 1, "{stderr}");
    let error: String = stderr
        .split_inclusive('\n')
        .filter(|l| !l.starts_with('[') && !l.starts_with("tierjit: "))
        .collect();
    assert_eq!(error, expected_err);
}

#[test]
fn the_osr_test_mode_enters_every_loop_by_osr_and_changes_nothing() {
    let program = "benches/tj/sieve.tj";
    let (_, expected, _) = run(&["run", "--tier", "interp", program, "1000"]);
    let (status, stdout, stderr) = run(&[
        "run",
        "--tier",
        "interp",
        "--osr-opt",
        "--tier-stats",
        program,
        "1000",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout, expected);
    // `main` moves into optimized code at its first loop, and so does
    // `sieve` (which has loops of its own, so it is not inlined) at each
    // call: one OSR blob for each.
    assert!(stat(&stderr, "on-stack replacements") >= 2, "{stderr}");
    assert!(stderr.contains("(2 optimized OSR blobs)"), "{stderr}");
}

#[test]
fn direct_calls_are_repatched_when_their_callee_gets_code() {
    let program = "tests/tiering/late_callee.tj";
    let (status, expected_out, expected_err) = run(&["run", "--tier", "interp", program]);
    assert_eq!(status, 2);
    let (status, stdout, stderr) = run(&[
        "run",
        "--tier",
        "opt",
        "--trace-tiers",
        "--tier-stats",
        program,
    ]);
    assert_eq!(
        (status, stdout.as_str()),
        (2, expected_out.as_str()),
        "{stderr}"
    );
    assert!(stderr.ends_with(&expected_err), "{stderr}");
    // `main`'s call and `late`'s own two (placed while `late` was still
    // interpreted) move to `late`'s optimized code.
    assert!(
        stderr.contains("tier: late: 3 call sites repatched to opt code"),
        "{stderr}"
    );
    let stats = stderr.lines().filter(|l| l.starts_with("tierjit:"));
    let stats: Vec<&str> = stats.collect();
    assert!(
        stats.contains(&"tierjit: 3 call sites repatched"),
        "{stderr}"
    );
    // Calls through the method table need no repatching.
    for mode in [
        &["--tier", "opt", "--slot-calls"][..],
        &["--tier", "baseline"],
    ] {
        let mut args = vec!["run", "--tier-stats"];
        args.extend_from_slice(mode);
        args.push(program);
        let (status, stdout, stderr) = run(&args);
        assert_eq!(
            (status, stdout.as_str()),
            (2, expected_out.as_str()),
            "{stderr}"
        );
        assert_eq!(stat(&stderr, "call sites repatched"), 0, "{mode:?}");
    }
}

/// An activation left behind in an inner loop (its outer loop never comes
/// round again) moves into optimized OSR code at that inner loop once the
/// function's optimized code is 20 ms old: from the interpreter when the
/// function went straight to optimized code, and from baseline code when
/// it went there first.
#[test]
fn an_activation_left_behind_in_an_inner_loop_still_moves_into_optimized_code() {
    let program = "tests/tiering/inner_loop_behind.tj";
    // About 0.7 s interpreted: time to get hot, be optimized and be
    // found behind even on a loaded machine.
    let n = "100000000";
    let (_, expected, _) = run(&["run", "--tier", "opt", program, n]);
    // Baseline code at the first sample, optimized code only after 30 ms
    // more of samples: on a loaded machine the activation may be
    // descheduled for a few milliseconds right after the baseline install
    // and must still be in baseline code by the time the optimized code
    // comes (at 3 ms it sometimes was not).
    for (thresholds, from) in [("1000,1000,1", "interp"), ("0,30,1000", "baseline")] {
        let (status, stdout, stderr) = run(&[
            "run",
            "--trace-tiers",
            "--tier-thresholds",
            thresholds,
            program,
            n,
        ]);
        assert_eq!(status, 0, "{stderr}");
        assert_eq!(stdout, expected);
        let moved = format!("tier: work: loop at pc 7 entered by OSR: {from} -> opt");
        assert!(stderr.contains(&moved), "{thresholds}: {stderr}");
    }
}

#[test]
fn tier_stats_say_nothing_of_hot_code_never_seen_optimized() {
    // Kept in baseline code, the hot code is never seen optimized.
    let (status, _, stderr) = run(&[
        "run",
        "--tier-stats",
        "--tier-thresholds",
        "1,1000,1000",
        "benches/tj/fib.tj",
        "30",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("tier-ups"), "{stderr}");
    assert!(!stderr.contains("hot code optimized by"), "{stderr}");
}
