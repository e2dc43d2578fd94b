//! Faults in the JIT never change a program's result: with a compiler
//! that fails or panics, executable memory that cannot be mapped, or a
//! code memory limit reached, every function stays in a tier that works,
//! and stdout, stderr and the exit status are the interpreter's.
//! The faults are injected with `--inject-fault` (src/runtime/faults.rs).

mod common;

/// Programs with loops, calls, threads and runtime errors.
const PROGRAMS: [&str; 6] = [
    "tests/programs/hot_calls.tj",
    "tests/programs/hot_sieve.tj",
    "tests/programs/index_oob_hot.tj",
    "tests/programs/recursion_mutual.tj",
    "tests/programs/thread_runtime_error.tj",
    "tests/programs/threads_shared_array.tj",
];

/// The ways to run that compile: eagerly, automatically, flipping tiers
/// under stress, and by on-stack replacement.
const MODES: [&[&str]; 5] = [
    &["--tier", "baseline"],
    &["--tier", "opt"],
    &["--tier", "auto", "--tier-thresholds", "0,0.15,1000"],
    &[
        "--tier",
        "auto",
        "--jit-stress",
        "--jit-stress-period-us",
        "100",
    ],
    &["--tier", "interp", "--osr-opt"],
];

/// Faults: all attempts failing, or the first few working and the rest
/// failing (some functions compiled, some not).
const FAULTS: [&[&str]; 7] = [
    &["--inject-fault", "compile-error"],
    &["--inject-fault", "compile-error:2"],
    &["--inject-fault", "compile-panic"],
    &["--inject-fault", "compile-panic:3"],
    &["--inject-fault", "code-map"],
    &["--code-memory-limit", "1K"],
    &["--code-memory-limit", "6K"],
];

fn run(program: &str, options: &[&str]) -> (i32, String, String) {
    let mut args = vec!["run"];
    args.extend_from_slice(options);
    args.push(program);
    common::run(&args)
}

#[test]
fn jit_faults_leave_every_result_as_the_interpreter_gives_it() {
    for program in PROGRAMS {
        let expected = run(program, &["--tier", "interp"]);
        for mode in MODES {
            for fault in FAULTS {
                let options = [mode, fault].concat();
                let seen = run(program, &options);
                assert_eq!(seen, expected, "{program} with {}", options.join(" "));
            }
        }
    }
}

#[test]
fn a_failed_compile_is_traced_and_the_function_stays() {
    let (status, _, stderr) = run(
        "tests/programs/hot_calls.tj",
        &[
            "--tier",
            "opt",
            "--trace-tiers",
            "--inject-fault",
            "compile-error:1",
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains("interp -> opt failed: injected fault; it stays in interp"),
        "{stderr}"
    );
    let (status, _, stderr) = run(
        "tests/programs/hot_calls.tj",
        &[
            "--tier",
            "baseline",
            "--trace-tiers",
            "--code-memory-limit",
            "1K",
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains(
            "interp -> baseline failed: executable memory: the code memory limit (1024 bytes) is reached; it stays in interp"
        ),
        "{stderr}"
    );
}

#[test]
fn a_failed_compile_is_in_the_profile_and_its_report() {
    let out = std::env::temp_dir().join(format!("tierjit-faults-{}.tjprof", std::process::id()));
    let out = out.to_str().unwrap();
    let profile = format!("--profile={out}");
    let (status, _, stderr) = run(
        "tests/programs/hot_calls.tj",
        &[
            "--tier",
            "baseline",
            &profile,
            "--inject-fault",
            "compile-error:1",
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    let (status, report, stderr) = common::run(&["report", out]);
    let _ = std::fs::remove_file(out);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        report.contains("compile interp -> baseline failed, stays interp"),
        "{report}"
    );
}

#[test]
fn bad_fault_and_limit_options_are_refused() {
    let (status, _, stderr) = run("tests/programs/hot_calls.tj", &["--inject-fault", "nope"]);
    assert_eq!(status, 64, "{stderr}");
    assert!(stderr.contains("unknown fault `nope`"), "{stderr}");
    let (status, _, stderr) = run(
        "tests/programs/hot_calls.tj",
        &["--code-memory-limit", "12Q"],
    );
    assert_eq!(status, 64, "{stderr}");
    assert!(stderr.contains("is not a size"), "{stderr}");
}

#[test]
fn a_panicking_thread_ends_the_program_instead_of_leaving_its_joiner_waiting() {
    // The fourth spawned thread panics as it starts (a runtime bug): its
    // joiner used to wait for ever.
    for tier in ["interp", "baseline", "opt", "auto"] {
        let mut child = common::command(&[
            "run",
            "--tier",
            tier,
            "--inject-fault",
            "thread-panic:3",
            "tests/limits/spawn_tree.tj",
            "10",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("--tier {tier}: still running after 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (status, stdout, stderr) = common::outcome(&child.wait_with_output().unwrap());
        assert_eq!(
            (status, stdout.as_str(), stderr.as_str()),
            (2, "", "runtime error: out of memory\n"),
            "--tier {tier}"
        );
    }
}
