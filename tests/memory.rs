//! The heap limit bounds the memory a program really takes: a program
//! that allocates past it ends with `out of memory` (exit 2) while its
//! peak resident memory is still near the limit.

mod common;

use std::io::Read;
use std::process::Stdio;

/// The heap limit the tests run under.
const LIMIT_MIB: u64 = 32;
/// What tierjit itself may take beside the heap (about 8 MiB for the
/// release binary; the test build's code and stacks are larger).
const BASE_MIB: u64 = 32;

/// Runs `tierjit ARGS` and waits for it: (status, stderr, peak resident
/// memory in KiB).
// The child is reaped by `wait4`, which gives its own resource usage.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (i32, String, u64) {
    let mut child = common::command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tierjit starts");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let (code, peak_kib) = common::wait_with_peak_rss(&child);
    (code, stderr, peak_kib)
}

#[test]
fn tiny_arrays_stop_at_the_heap_limit_not_far_past_it() {
    let limit = format!("{LIMIT_MIB}M");
    for tier in ["interp", "baseline", "opt"] {
        let (status, stderr, peak_kib) = run_measured(&[
            "run",
            "--tier",
            tier,
            "--heap-limit",
            &limit,
            "tests/memory/tiny_arrays_forever.tj",
        ]);
        assert_eq!(status, 2, "{tier}: {stderr}");
        assert!(
            stderr.starts_with("runtime error: out of memory\n"),
            "{tier}: {stderr}"
        );
        let peak_mib = peak_kib / 1024;
        eprintln!("{tier}: peak resident memory {peak_mib} MiB under a {LIMIT_MIB} MiB heap limit");
        assert!(
            peak_mib <= LIMIT_MIB + BASE_MIB,
            "{tier}: peak resident memory {peak_mib} MiB under a {LIMIT_MIB} MiB heap limit"
        );
    }
}
