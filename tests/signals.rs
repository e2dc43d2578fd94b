//! `tierjit run` stopped by SIGINT, SIGTERM or SIGHUP: every thread stops
//! in every tier, the output printed so far comes out, the profile is
//! written, and the exit status is 128 + the signal's number; a second
//! signal ends the process at once.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROGRAM: &str = "tests/signals/threads_and_recursion.tj";

/// Runs `tierjit run ARGS PROGRAM`, sends it `signals` (the first after
/// the program has had time to start, the rest at once), and gives its
/// status, stdout, stderr and how long it took to end after the first.
/// On a machine so loaded that the signal came before the program ran
/// (the process then ends at once, having printed nothing), tries again.
fn stopped(args: &[&str], signals: &[Signal]) -> (Option<i32>, String, String, Duration) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = stopped_once(args, signals);
        if !result.1.is_empty() || attempt == 3 {
            return result;
        }
    }
}

fn stopped_once(args: &[&str], signals: &[Signal]) -> (Option<i32>, String, String, Duration) {
    let child = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .args(args)
        .arg(PROGRAM)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tierjit runs");
    // Long enough to be running `main` on a loaded machine (a signal
    // before the Vm exists ends the process before anything is printed).
    std::thread::sleep(Duration::from_millis(400));
    let pid = Pid::from_raw(child.id() as i32);
    let sent = Instant::now();
    for &signal in signals {
        kill(pid, signal).expect("signal sent");
    }
    let out = child.wait_with_output().expect("tierjit ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        sent.elapsed(),
    )
}

#[test]
fn every_tier_stops_cleanly_on_each_signal() {
    for tier in ["interp", "baseline", "opt", "auto"] {
        for (signal, status) in [
            (Signal::SIGINT, 130),
            (Signal::SIGTERM, 143),
            (Signal::SIGHUP, 129),
        ] {
            let (code, stdout, stderr, took) = stopped(&["--tier", tier], &[signal]);
            let case = format!("{tier} {signal:?}");
            assert_eq!(code, Some(status), "{case}: {stderr}");
            assert_eq!(stdout, "1\n", "{case}: the printed line is lost");
            // No backtrace of the stop, nothing but what the run printed.
            assert_eq!(stderr, "", "{case}");
            assert!(took < Duration::from_secs(2), "{case}: took {took:?}");
        }
    }
}

#[test]
fn the_profile_is_written_with_what_was_sampled() {
    let profile =
        std::env::temp_dir().join(format!("tierjit-signal-{}.tjprof", std::process::id()));
    let profile = profile.to_str().unwrap();
    let (code, stdout, stderr, _) = stopped(&["--profile", profile], &[Signal::SIGINT]);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(stdout, "1\n");
    assert!(stderr.contains("profile written to"), "{stderr}");
    let report = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .args(["report", profile])
        .output()
        .expect("report runs");
    let _ = std::fs::remove_file(profile);
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{text}");
    // Both threads' functions were sampled before the stop.
    for function in ["fib", "spin"] {
        assert!(text.contains(function), "no {function} in:\n{text}");
    }
}

#[test]
fn a_second_signal_ends_the_run_at_once() {
    let (code, _, _, took) = stopped(&[], &[Signal::SIGINT, Signal::SIGINT]);
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(2), "took {took:?}");
}
