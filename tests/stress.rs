//! `--jit-stress` on several threads: thousands of installs and
//! retirements while four threads call the replaced functions, with no
//! crash, the same result as the interpreter, and a balanced retire log
//! (every retired blob freed by the end).

mod common;
use common::run;

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
        let (status, stdout, stderr) = run(&[
            "run",
            "--jit-stress",
            "--jit-stress-period-us",
            "20",
            "--tier-stats",
            program,
            rounds,
        ]);
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
        total_retired += retired;
    }
    assert!(
        total_retired >= 1000,
        "only {total_retired} retirements over {attempt} runs"
    );
}
