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

#[test]
fn threads_survive_thousands_of_code_replacements() {
    let program = "tests/stress/shared.tj";
    let rounds = "400000";
    // The baseline tier is checked against the interpreter elsewhere; here
    // it gives the expected total quickly.
    let (status, expected, _) = run(&["run", "--tier", "baseline", program, rounds]);
    assert_eq!(status, 0);
    let mut total_retired = 0;
    let mut attempt = 0;
    // Run until at least a thousand blobs were retired (and as many
    // installed): each run takes a few hundred, more on a quiet machine.
    while total_retired < 1000 && attempt < 12 {
        attempt += 1;
        let args = [
            "run",
            "--jit-stress",
            "--jit-stress-period-us",
            "20",
            "--tier-stats",
            program,
            rounds,
        ];
        total_retired += run_stressed(&args, &expected, attempt).0;
    }
    assert!(
        total_retired >= 1000,
        "only {total_retired} retirements over {attempt} runs"
    );
}

/// More busy threads than cores, and `main` blocked in `join`: handshake
/// rounds stay open for milliseconds while the threads wait for a core,
/// and blobs retired meanwhile must wait for a later round.
#[test]
fn eight_threads_on_few_cores_survive_code_replacements() {
    let program = "tests/stress/threads8.tj";
    let rounds = "100000";
    let (status, expected, _) = run(&["run", "--tier", "baseline", program, rounds]);
    assert_eq!(status, 0);
    let (mut total_retired, mut attempt) = (0, 0);
    while total_retired < 500 && attempt < 8 {
        attempt += 1;
        let args = [
            "run",
            "--jit-stress",
            "--jit-stress-period-us",
            "20",
            "--tier-stats",
            program,
            rounds,
        ];
        let (retired, stderr) = run_stressed(&args, &expected, attempt);
        assert!(stderr.contains("stack-walk handshakes"), "{stderr}");
        total_retired += retired;
    }
    assert!(
        total_retired >= 500,
        "only {total_retired} retirements over {attempt} runs"
    );
}

#[test]
fn eight_threads_survive_ten_thousand_replacements_with_repatched_calls() {
    let program = "tests/stress/calls.tj";
    let rounds = "1000000";
    let (status, expected, _) = run(&["run", "--tier", "baseline", program, rounds]);
    assert_eq!(status, 0);
    let (mut total_retired, mut total_repatched) = (0, 0);
    let mut attempt = 0;
    // Each run retires a few thousand blobs on this project's 2-core
    // machine (stress moves code every 20 us, paced by the handshakes).
    while total_retired < 10_000 && attempt < 10 {
        attempt += 1;
        let args = [
            "run",
            "--jit-stress",
            "--jit-stress-period-us",
            "20",
            "--tier-stats",
            program,
            rounds,
        ];
        let (retired, stderr) = run_stressed(&args, &expected, attempt);
        total_retired += retired;
        total_repatched += tier_stat(&stderr, "call sites repatched");
    }
    assert!(
        total_retired >= 10_000 && total_repatched >= 10_000,
        "only {total_retired} replacements and {total_repatched} repatched call sites \
         over {attempt} runs"
    );
}

#[test]
fn threads_survive_retirement_of_the_osr_code_they_run() {
    let program = "tests/stress/osr.tj";
    let rounds = "300000";
    let (status, expected, _) = run(&["run", "--tier", "interp", program, rounds]);
    assert_eq!(status, 0);
    let (mut total_retired, mut total_osr) = (0, 0);
    let mut attempt = 0;
    while (total_retired < 100 || total_osr < 10_000) && attempt < 12 {
        attempt += 1;
        let args = [
            "run",
            "--tier",
            "interp",
            "--osr-opt",
            "--jit-stress",
            "--jit-stress-period-us",
            "20",
            "--tier-stats",
            program,
            rounds,
        ];
        let (retired, stderr) = run_stressed(&args, &expected, attempt);
        total_retired += retired;
        total_osr += tier_stat(&stderr, "on-stack replacements");
    }
    assert!(
        total_retired >= 100 && total_osr >= 10_000,
        "only {total_retired} retirements and {total_osr} OSR entries over {attempt} runs"
    );
}
