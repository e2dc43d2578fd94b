//! Helpers shared by the integration tests that run the `tierjit` binary.

use std::process::{Command, Output};

/// `tierjit ARGS`, to be run in the repository root (paths in tests are
/// relative to it).
#[allow(dead_code)] // not every test crate builds its own command
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tierjit"));
    command.env("TIERJIT_CODE_CACHE", "off");
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    command
}

/// A finished run as (status, stdout, stderr); status -1 if it died by a
/// signal.
#[allow(dead_code)] // not every test crate reads a whole run
pub fn outcome(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `tierjit ARGS` in the repository root: (status, stdout, stderr);
/// status -1 if it died by a signal.
#[allow(dead_code)] // not every test crate runs the command this way
pub fn run(args: &[&str]) -> (i32, String, String) {
    outcome(&command(args).output().expect("tierjit runs"))
}

/// Waits for `child` (which nothing else waits for) and gives its exit
/// status (-1 if a signal ended it) and its peak resident memory in KiB
/// (`wait4`'s `ru_maxrss`: the child's own, which std cannot give).
#[allow(dead_code)] // not every test crate measures memory
pub fn wait_with_peak_rss(child: &std::process::Child) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which `child` never waits for;
    // `status` and `usage` are valid for writes.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss as u64)
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
