//! `tierjit report` as a person meets it: every output form of a valid
//! profile, and one clear line and exit status 1 (never a panic) for a
//! file that is missing, truncated, corrupted or not a profile.

use std::path::PathBuf;
use std::process::{Command, Output};

use tierjit_profiler::format;
use tierjit_profiler::profile::{Frame, Profile, Sample, Tier, TierEvent, TierEventKind};

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tierjit-report-cli-{}-{name}", std::process::id()))
}

fn report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .arg("report")
        .args(args)
        .output()
        .expect("tierjit runs")
}

/// Two functions, fib 75% of the time (in the optimizing tier), main 25%;
/// main's loop got optimized OSR code, which main then entered.
fn profile_bytes() -> Vec<u8> {
    let frame = |func, tier, line| Frame { func, tier, line };
    let sample = |frames: Vec<Frame>| Sample {
        thread: 0,
        time_ns: 0,
        weight_ns: 1_000_000,
        frames,
    };
    let fib = vec![frame(1, Tier::Optimized, 4), frame(0, Tier::Interp, 9)];
    let profile = Profile {
        program: "fib.tj".into(),
        duration_ns: 4_000_000,
        functions: vec!["main".into(), "fib".into()],
        samples: vec![
            sample(fib.clone()),
            sample(fib.clone()),
            sample(fib),
            sample(vec![frame(0, Tier::Interp, 9)]),
        ],
        events: vec![
            TierEvent {
                time_ns: 1_000_000,
                func: 0,
                kind: TierEventKind::OsrCompile {
                    pc: 6,
                    duration_ns: 250_000,
                    queue_ns: 1_000,
                },
            },
            TierEvent {
                time_ns: 1_300_000,
                func: 0,
                kind: TierEventKind::OsrEntry {
                    pc: 6,
                    from: Tier::Interp,
                    to: Tier::Optimized,
                },
            },
        ],
        ..Profile::default()
    };
    format::to_bytes(&profile).unwrap()
}

fn write_temp(name: &str, bytes: &[u8]) -> (PathBuf, String) {
    let path = temp(name);
    std::fs::write(&path, bytes).unwrap();
    let shown = path.to_str().unwrap().to_string();
    (path, shown)
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Checks a rejected file: status 1, one stderr line naming it.
fn assert_rejected(output: &Output, file: &str, says: &str) {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(file),
        "{stderr}"
    );
    assert!(stderr.contains(says), "{stderr}");
}

#[test]
fn text_report_is_the_default() {
    let (path, shown) = write_temp("text.tjprof", &profile_bytes());
    let output = report(&[&shown]);
    let _ = std::fs::remove_file(path);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("tierjit profile of fib.tj\n"), "{text}");
    assert!(
        text.contains("   75.0%    75.0%      0.0%        0.0%  100.0%        3  fib\n"),
        "{text}"
    );
    assert!(
        text.contains("  1.300 ms  main      osr entry interp -> opt (loop at pc 6)\n"),
        "{text}"
    );
}

#[test]
fn folded_and_json_replace_the_text() {
    let (path, shown) = write_temp("forms.tjprof", &profile_bytes());
    let folded = report(&[&shown, "--folded"]);
    let json = report(&[&shown, "--json"]);
    let both = report(&[&shown, "--json", "--folded"]);
    let _ = std::fs::remove_file(path);
    assert_eq!(
        String::from_utf8(folded.stdout).unwrap(),
        "main [interp] 1000\nmain [interp];fib [opt] 3000\n"
    );
    let json = String::from_utf8(json.stdout).unwrap();
    assert!(
        json.trim_start().starts_with('{') && json.contains("\"name\": \"fib\""),
        "{json}"
    );
    assert!(json.contains("\"kind\": \"osr_entry\""), "{json}");
    assert_eq!(both.status.code(), Some(64), "--json and --folded conflict");
}

#[test]
fn flamegraph_writes_svg_and_prints_the_text() {
    let (path, shown) = write_temp("flame.tjprof", &profile_bytes());
    let svg_path = temp("flame.svg");
    let output = report(&[&shown, "--flamegraph", svg_path.to_str().unwrap()]);
    let svg = std::fs::read_to_string(&svg_path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(&svg_path);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("tierjit profile of"));
    assert!(svg.contains("<svg") && svg.contains("fib [opt]"));
}

#[test]
fn a_missing_file_is_named() {
    let missing = temp("missing.tjprof");
    let shown = missing.to_str().unwrap();
    assert_rejected(&report(&[shown]), shown, "cannot read");
}

#[test]
fn a_truncated_file_is_named() {
    let bytes = profile_bytes();
    let (path, shown) = write_temp("cut.tjprof", &bytes[..bytes.len() - 3]);
    let output = report(&[&shown]);
    let _ = std::fs::remove_file(path);
    assert_rejected(&output, &shown, "truncated");
}

#[test]
fn a_file_that_is_not_a_profile_is_named() {
    let (path, shown) = write_temp("source.tjprof", b"fn main() -> int { return 0; }\n");
    let output = report(&[&shown]);
    let _ = std::fs::remove_file(path);
    assert_rejected(&output, &shown, "not a tierjit profile (bad magic)");
}

#[test]
fn corrupted_files_never_crash_the_command() {
    let good = profile_bytes();
    for at in (8..good.len()).step_by(3) {
        let mut bytes = good.clone();
        bytes[at] ^= 0xa5;
        let (path, shown) = write_temp(&format!("flip-{at}.tjprof"), &bytes);
        let output = report(&[&shown]);
        let _ = std::fs::remove_file(path);
        match output.status.code() {
            Some(0) => {}
            Some(1) => assert_rejected(&output, &shown, ""),
            other => panic!("byte {at}: status {other:?}: {}", stderr_of(&output)),
        }
    }
}
