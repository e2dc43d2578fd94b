//! Helpers shared by the integration tests that run the `tierjit` binary.

use std::process::Command;

/// Runs `tierjit ARGS` in the repository root: (status, stdout, stderr);
/// status -1 if it died by a signal.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("tierjit runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first number on the `--tier-stats` line of `stderr` that contains
/// `what`.
#[allow(dead_code)] // not every test crate reads tier statistics
pub fn tier_stat(stderr: &str, what: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no '{what}' in {stderr}"));
    line.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .unwrap()
        .parse()
        .unwrap()
}
