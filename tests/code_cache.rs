//! The code cache through the command: warm runs start with the code an
//! earlier run saved and compile nothing, a changed program runs cold and
//! replaces its entry, damaged files are a one-line warning and a cold run
//! that prints what a clean run prints, concurrent runs share one
//! directory safely, and `tierjit cache ls|info|clear` show and clear it.

mod common;

use std::path::{Path, PathBuf};

/// A fresh cache directory for one test.
fn cache_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tierjit-cache-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `tierjit run --code-cache DIR ARGS`: (status, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let dir = dir.display().to_string();
    let mut all = vec!["run", "--code-cache", &dir];
    all.extend_from_slice(args);
    common::run(&all)
}

/// `tierjit cache --code-cache DIR ARGS`: (status, stdout, stderr).
fn cache(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let dir = dir.display().to_string();
    let mut all = vec!["cache", "--code-cache", &dir];
    all.extend_from_slice(args);
    common::run(&all)
}

/// The tier events of a `--trace-tiers` run.
fn tier_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("] tier: ")).collect()
}

fn the_entry(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tjc"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

#[test]
fn a_warm_run_loads_the_hot_code_and_compiles_nothing() {
    let dir = cache_dir("warm");
    let program = ["--trace-tiers", "benches/tj/fib.tj", "27"];
    let (status, cold_out, cold_err) = run(&dir, &program);
    assert_eq!(status, 0, "{cold_err}");
    assert!(
        tier_lines(&cold_err).iter().any(|l| l.contains("compile")),
        "{cold_err}"
    );
    // A second run may still compile what the first found hot too late;
    // the third has it all.
    run(&dir, &program);
    let (status, warm_out, warm_err) = run(&dir, &program);
    assert_eq!(status, 0, "{warm_err}");
    assert_eq!(warm_out, cold_out);
    let lines = tier_lines(&warm_err);
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("fib: installed opt code from cache")),
        "{warm_err}"
    );
    assert!(
        lines.iter().all(|l| l.contains("from cache")),
        "a warm run compiled: {warm_err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_changed_program_runs_cold_and_replaces_its_entry() {
    let dir = cache_dir("changed");
    let source = std::fs::read_to_string("benches/tj/fib.tj").unwrap();
    let program = dir.with_extension("tj");
    std::fs::write(&program, &source).unwrap();
    let path = program.display().to_string();
    let args = ["--tier", "opt", path.as_str(), "20"];
    assert_eq!(run(&dir, &args).1, "6765\n");
    let first = the_entry(&dir);
    // Another constant: another module, another key.
    std::fs::write(&program, source.replace("n < 2", "n < 3")).unwrap();
    let (status, out, err) = run(&dir, &["--trace-tiers", path.as_str(), "20"]);
    assert_eq!((status, out.as_str()), (0, "10946\n"), "{err}");
    assert!(!err.contains("from cache"), "the old entry was used: {err}");
    run(&dir, &args);
    let second = the_entry(&dir);
    assert_ne!(first, second, "the entry of the old program is gone");
    std::fs::remove_file(&program).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_file_is_one_warning_and_a_cold_run() {
    let dir = cache_dir("damaged");
    let program = "tests/programs/rce_in_bounds.tj";
    let args = [program, "3", "-1", "2"];
    let mut eager = vec!["--tier", "opt"];
    eager.extend_from_slice(&args);
    let clean = run(&dir, &eager);
    assert_eq!(clean.0, 0, "{}", clean.2);
    let entry = the_entry(&dir);
    let good = std::fs::read(&entry).unwrap();
    let mut damaged: Vec<Vec<u8>> = Vec::new();
    for at in (0..good.len()).filter(|&at| at < 200 || at % 397 == 0) {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        damaged.push(bad);
    }
    for len in [0, 7, 100, good.len() / 2, good.len() - 1] {
        damaged.push(good[..len].to_vec());
    }
    let mut auto = vec!["--no-code-cache"];
    auto.extend_from_slice(&args);
    let expected = common::run(&{
        let mut a = vec!["run"];
        a.extend_from_slice(&auto);
        a
    });
    for bad in damaged {
        std::fs::write(&entry, &bad).unwrap();
        let (status, out, err) = run(&dir, &args);
        assert_eq!((status, &out), (expected.0, &expected.1), "{err}");
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("tierjit: warning: code cache"))
            .collect();
        assert_eq!(warnings.len(), 1, "{err}");
        assert!(warnings[0].ends_with("; running cold"), "{err}");
        assert_eq!(err.replace(&format!("{}\n", warnings[0]), ""), expected.2);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_runs_share_one_cache() {
    let dir = cache_dir("concurrent");
    let d = dir.display().to_string();
    for round in 0..3 {
        let children: Vec<_> = (0..4)
            .map(|i| {
                let tier = if (round + i) % 2 == 0 { "opt" } else { "auto" };
                common::command(&[
                    "run",
                    "--code-cache",
                    &d,
                    "--tier",
                    tier,
                    "benches/tj/fib.tj",
                    "24",
                ])
                .output()
                .unwrap()
            })
            .collect();
        for out in children {
            assert_eq!(common::outcome(&out), (0, "46368\n".into(), String::new()));
        }
    }
    let (status, info, err) = cache(&dir, &["info", "benches/tj/fib.tj"]);
    assert_eq!(status, 0, "{err}");
    assert!(
        info.lines()
            .any(|l| l.starts_with("fib ") && l.contains(" opt ")),
        "{info}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cache_commands_list_show_and_clear() {
    let dir = cache_dir("commands");
    let (status, out, _) = cache(&dir, &["ls"]);
    assert_eq!(status, 0);
    assert!(out.ends_with(": 0 entries\n"), "{out}");
    run(&dir, &["--tier", "opt", "benches/tj/fib.tj", "10"]);
    let (_, out, _) = cache(&dir, &["ls"]);
    assert!(out.contains(": 1 entries\n"), "{out}");
    let fib = std::fs::canonicalize("benches/tj/fib.tj").unwrap();
    assert!(
        out.lines().any(|l| l.ends_with(&fib.display().to_string())),
        "{out}"
    );
    let (_, info, _) = cache(&dir, &["info", "benches/tj/fib.tj"]);
    for function in ["fib", "main"] {
        assert!(
            info.lines()
                .any(|l| l.starts_with(&format!("{function} ")) && l.contains(" opt ")),
            "{info}"
        );
    }
    let (_, out, _) = cache(&dir, &["clear"]);
    assert!(out.ends_with(": removed 1 entries\n"), "{out}");
    let (_, info, _) = cache(&dir, &["info", "benches/tj/fib.tj"]);
    assert!(info.contains("no entry: the next run is cold"), "{info}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_code_cache_reads_and_writes_nothing() {
    let dir = cache_dir("off");
    // An eager run with TIERJIT_CODE_CACHE naming `dir`: true if it wrote
    // there.
    let writes = |extra: &[&str]| {
        let mut args = vec!["run", "--tier", "opt"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["benches/tj/fib.tj", "10"]);
        let out = common::command(&args)
            .env("TIERJIT_CODE_CACHE", &dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        let wrote = dir.exists();
        let _ = std::fs::remove_dir_all(&dir);
        wrote
    };
    assert!(writes(&[]), "TIERJIT_CODE_CACHE names the directory");
    assert!(!writes(&["--no-code-cache"]));
}

#[test]
fn the_profile_timeline_shows_cache_loads() {
    let dir = cache_dir("profile");
    run(&dir, &["--tier", "opt", "benches/tj/fib.tj", "10"]);
    let profile = dir.join("warm.tjprof").display().to_string();
    let (status, _, err) = run(&dir, &["--profile", &profile, "benches/tj/fib.tj", "25"]);
    assert_eq!(status, 0, "{err}");
    let (status, report, err) = common::run(&["report", &profile]);
    assert_eq!(status, 0, "{err}");
    assert!(
        report.contains("install opt from the code cache"),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_long_run_saves_before_it_ends_and_a_killed_run_leaves_its_code() {
    let dir = cache_dir("long");
    let d = dir.display().to_string();
    // Seconds of work (fannkuch 11), killed once its code is saved.
    let mut child = common::command(&["run", "--code-cache", &d, "benches/tj/fannkuch.tj", "11"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let saved = loop {
        let found = std::fs::read_dir(&dir).is_ok_and(|mut d| {
            d.any(|e| e.unwrap().path().extension().is_some_and(|x| x == "tjc"))
        });
        if found || std::time::Instant::now() > deadline {
            break found;
        }
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        saved && still_running,
        "no save while it ran (saved {saved})"
    );
    let (status, out, err) = run(&dir, &["--trace-tiers", "benches/tj/fannkuch.tj", "7"]);
    assert_eq!((status, out.as_str()), (0, "228\n16\n"), "{err}");
    assert!(err.contains("installed opt code from cache"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cache_that_cannot_be_written_is_one_warning_and_the_same_run() {
    let not_a_dir = cache_dir("not-a-dir");
    std::fs::write(&not_a_dir, b"a file where the directory should be").unwrap();
    let (status, out, err) = run(&not_a_dir, &["--tier", "opt", "benches/tj/fib.tj", "20"]);
    assert_eq!((status, out.as_str()), (0, "6765\n"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("tierjit: warning: code cache: cannot write "),
        "{err}"
    );
    std::fs::remove_file(&not_a_dir).unwrap();
}
