//! Costs that must stay linear in what a program asks for.

mod common;
use std::time::{Duration, Instant};

#[test]
fn joining_a_chain_of_threads_takes_linear_time() {
    // 0.9 s here for 10,000 threads; 35 s for 3,000 when every thread's
    // end woke every waiting joiner. The bound only catches that
    // (quadratic) cost on a loaded machine, it measures nothing.
    for tier in ["interp", "auto"] {
        let started = Instant::now();
        let (status, stdout, stderr) =
            common::run(&["run", "--tier", tier, "tests/limits/join_chain.tj", "10000"]);
        let took = started.elapsed();
        assert_eq!(
            (status, stdout.as_str()),
            (0, "10000\n"),
            "{tier}: {stderr}"
        );
        assert!(took < Duration::from_secs(20), "{tier}: took {took:?}");
    }
}

const TIERS: [&str; 4] = ["interp", "baseline", "opt", "auto"];

/// Runs `tierjit ARGS` under `sh` with the address space limited to
/// `kib` KiB (`ulimit -v`): (status, stdout, stderr).
fn run_with_address_space(kib: u64, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new("sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .args(args)
        .output()
        .expect("sh runs");
    common::outcome(&out)
}

/// What a failed spawn in `tests/limits/spawn_many.tj` must look like.
fn assert_spawn_refused((status, stdout, stderr): (i32, String, String), what: &str) {
    assert_eq!(status, 2, "{what}: {stdout}{stderr}");
    assert_eq!(stdout, "1\n", "{what}: the line printed before stays");
    assert!(
        stderr.starts_with(
            "runtime error: out of memory\n  at start (tests/limits/spawn_many.tj:13)\n"
        ),
        "{what}: {stderr}"
    );
}

#[test]
fn a_thread_the_system_refuses_is_a_runtime_error_in_every_tier() {
    // Each spawned thread reserves about 1.2 GiB of address space (a
    // 1 GiB native stack, its register stack and frame records): 40 GB
    // holds some 30 of them, and the 31st is refused by mmap.
    for tier in TIERS {
        let run = run_with_address_space(
            40_000_000,
            &["run", "--tier", tier, "tests/limits/spawn_many.tj", "200"],
        );
        assert_spawn_refused(run, &format!("--tier {tier}, ulimit -v"));
    }
}

#[test]
fn thread_creation_failing_at_any_step_is_a_runtime_error_in_every_tier() {
    for tier in TIERS {
        for step in ["spawn-map", "spawn-guard", "spawn-create"] {
            let fault = format!("{step}:20");
            let run = common::run(&[
                "run",
                "--tier",
                tier,
                "--inject-fault",
                &fault,
                "tests/limits/spawn_many.tj",
                "50",
            ]);
            assert_spawn_refused(run, &format!("--tier {tier} --inject-fault {fault}"));
        }
    }
}

#[test]
fn fourteen_thousand_live_threads_run_where_the_system_allows_them() {
    // std's threads took six kernel mappings each: the default map count
    // (65,530) ran out at about 11,000 live threads and the process
    // aborted. Two mappings a thread leave room for about 30,000.
    let read = |path: &str| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let fits = read("/proc/sys/vm/max_map_count") >= 65_530
        && read("/proc/sys/kernel/threads-max") >= 30_000;
    // Auto mode samples every live thread: the sampler's share is bounded
    // (tests/sampling_cap.rs), so 14,000 threads do not stall it.
    for tier in ["interp", "baseline", "auto"] {
        let started = Instant::now();
        let (status, stdout, stderr) =
            common::run(&["run", "--tier", tier, "tests/limits/spawn_tree.tj", "14000"]);
        if fits {
            assert_eq!(
                (status, stdout.as_str()),
                (0, "14000\n"),
                "--tier {tier}: {stderr}"
            );
        } else {
            // A smaller system may refuse: cleanly, never by a signal.
            assert!(
                status == 0 || stderr.starts_with("runtime error: out of memory"),
                "{stderr}"
            );
            eprintln!("this system allows fewer threads or mappings: only a clean end is checked");
        }
        // 2 s here; the bound only catches a cost that is not linear.
        assert!(started.elapsed() < Duration::from_secs(30), "--tier {tier}");
    }
}

#[test]
fn a_profile_counts_every_thread_after_their_rings_are_let_go() {
    // The sampling ring of an ended thread is let go once drained; the
    // profile still counts the thread, its dropped samples and idle ticks.
    let out = std::env::temp_dir().join(format!("tierjit-limits-{}.tjprof", std::process::id()));
    let out = out.to_str().unwrap();
    let (status, stdout, stderr) = common::run(&[
        "run",
        &format!("--profile={out}"),
        "tests/limits/spawn_binary_tree.tj",
        "8",
    ]);
    assert_eq!((status, stdout.as_str()), (0, "256\n"), "{stderr}");
    let (status, json, stderr) = common::run(&["report", "--json", out]);
    let _ = std::fs::remove_file(out);
    assert_eq!(status, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["sampler"]["threads"], 511, "{json}");
}
