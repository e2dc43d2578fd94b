//! Differential testing: generated programs (`tierjit::fuzz::gen`) must
//! behave identically under every tier in [`TIERS`]: same exit status,
//! stdout and stderr, never a crash or a hang. With a single tier this still
//! checks that every generated program compiles, terminates and does not
//! crash, and that the generator exercises runtime errors and output.
//!
//! A failure names its seed; `tierjit fuzz --seed S --count 1 --tiers ...`
//! reproduces it and saves a minimized program.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tierjit::fuzz::gen::{generate, GenConfig};
use tierjit::fuzz::{compare, minimize, run_tier_within, Outcome, Status};

/// The tiers every generated program runs under: `opt-check` is the
/// optimizer with its IR verified after every pass and every register
/// allocation checked; `mixed:4` starts functions in all three tiers;
/// `osr-baseline` moves every baseline activation that loops into
/// optimized code at its first loop header.
const TIERS: &[&str] = &[
    "interp",
    "baseline",
    "opt-check",
    "mixed:4",
    "osr-baseline",
    "warm:mixed:5",
];

/// The generated programs: seeds `FIRST_SEED..FIRST_SEED + PROGRAMS`.
const FIRST_SEED: u64 = 0x7165_0000;
const PROGRAMS: u64 = 1000;
/// Test threads running programs (CI machines have two cores).
const THREADS: usize = 2;

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tierjit"))
}

/// What the runs of all programs showed.
#[derive(Default)]
struct Tally {
    runtime_errors: u64,
    printed: u64,
    failures: Vec<String>,
}

fn check_seed(seed: u64, tally: &Mutex<Tally>) {
    let program = generate(seed, &GenConfig::default());
    if let Err(errors) = tierjit::fuzz::host::compile(program.as_bytes()) {
        let first = errors[0].render("generated.tj");
        let failure = format!("seed {seed} does not compile: {first}\n{program}");
        tally.lock().unwrap().failures.push(failure);
        return;
    }
    let result = compare(exe(), &program, TIERS);
    let mut tally = tally.lock().unwrap();
    match result {
        Ok(outcome) => {
            tally.runtime_errors += u64::from(outcome.is_runtime_error());
            tally.printed += u64::from(!outcome.stdout.is_empty());
        }
        Err(mismatch) => tally.failures.push(format!("seed {seed}: {mismatch}")),
    }
}

/// Calls `check` with seeds `FIRST_SEED..FIRST_SEED + count` on
/// [`THREADS`] threads.
fn for_each_seed(count: u64, check: impl Fn(u64) + Sync) {
    let next = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                check(FIRST_SEED + i);
            });
        }
    });
}

#[test]
fn generated_programs_behave_the_same_on_every_tier() {
    let tally = Mutex::new(Tally::default());
    for_each_seed(PROGRAMS, |seed| check_seed(seed, &tally));
    let tally = tally.into_inner().unwrap();
    let shown: Vec<&String> = tally.failures.iter().take(3).collect();
    assert!(
        tally.failures.is_empty(),
        "{} of {PROGRAMS} programs failed on {TIERS:?}; the first:\n{shown:#?}",
        tally.failures.len()
    );
    assert!(
        tally.runtime_errors * 20 >= PROGRAMS,
        "only {} of {PROGRAMS} programs end in a runtime error",
        tally.runtime_errors
    );
    assert!(
        tally.printed * 10 >= PROGRAMS * 8,
        "only {} of {PROGRAMS} programs print anything",
        tally.printed
    );
}

/// With `trap_percent: 0` no program may end in a runtime error: every
/// division, index and array length the generator leaves unguarded, in
/// loops, helpers and invariant expressions alike, must be safe.
#[test]
fn programs_that_must_not_trap_do_not() {
    let config = GenConfig {
        trap_percent: 0,
        ..GenConfig::default()
    };
    let failures = Mutex::new(Vec::new());
    for_each_seed(PROGRAMS / 2, |seed| {
        let program = generate(seed, &config);
        let failure = match compare(exe(), &program, &["interp"]) {
            Ok(outcome) if !outcome.is_runtime_error() => return,
            Ok(outcome) => outcome.stderr,
            Err(mismatch) => mismatch.summary(),
        };
        let failure = format!("seed {seed} with trap_percent 0: {failure}\n{program}");
        failures.lock().unwrap().push(failure);
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} programs failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// A stand-in for the `tierjit` binary: a shell script.
struct FakeTierjit {
    path: PathBuf,
}

impl FakeTierjit {
    fn new(name: &str, script: &str) -> FakeTierjit {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir();
        let path = dir.join(format!("tierjit-fake-{name}-{}", std::process::id()));
        // `$f`: the last argument, the program.
        let script = format!("#!/bin/sh\nfor f; do :; done\n{script}\n");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeTierjit { path }
    }
}

impl Drop for FakeTierjit {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn a_hang_is_killed_and_a_signal_is_reported() {
    let program = Path::new("unused.tj");
    let sleeper = FakeTierjit::new("sleeper", "exec sleep 30");
    let started = std::time::Instant::now();
    let outcome = run_tier_within(&sleeper.path, program, "interp", Duration::from_millis(300));
    assert_eq!(outcome.status, Status::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));

    let crasher = FakeTierjit::new("crasher", "echo partial; kill -SEGV $$");
    let outcome = run_tier_within(&crasher.path, program, "interp", Duration::from_secs(10));
    assert_eq!(outcome.status, Status::Signaled(11));
    assert_eq!(outcome.stdout, "partial\n");
    assert!(outcome.is_abnormal());
}

#[test]
fn one_crashing_tier_is_a_mismatch_even_alone() {
    let crasher = FakeTierjit::new("crasher-alone", "kill -SEGV $$");
    let mismatch = compare(&crasher.path, "fn main() { }\n", &["interp"]).unwrap_err();
    assert!(mismatch.has_crash());
    assert_eq!(mismatch.summary(), "interp killed by signal 11");
}

/// A "buggy" tier that prints one extra line whenever the program contains
/// `print(77);`; minimizing must boil a large program down to that line.
#[test]
fn minimizing_keeps_only_what_the_disagreement_needs() {
    let real = exe().display().to_string();
    let script = format!(
        "if [ \"$2\" = --tier=buggy ] && grep -q 'print(77);' \"$f\"; then echo extra; fi\n\
         exec '{real}' run --tier=interp --test-host-functions \"$f\""
    );
    let fake = FakeTierjit::new("buggy", &script);
    let tiers = &["interp", "buggy"];
    let seed = (FIRST_SEED..FIRST_SEED + 50)
        .find(|&s| {
            let p = generate(s, &GenConfig::default());
            (60..150).contains(&p.lines().count())
                && compare(exe(), &p, &["interp"])
                    .is_ok_and(|o: Outcome| o.status == Status::Exited(0))
        })
        .expect("some program exits normally");
    let generated = generate(seed, &GenConfig::default());
    let mut lines: Vec<&str> = generated.lines().collect();
    let main = lines
        .iter()
        .position(|l| l.starts_with("fn main("))
        .unwrap();
    lines.insert(main + 1, "print(77);");
    let program = lines.join("\n") + "\n";
    assert!(compare(&fake.path, &program, tiers).is_err());

    let small = minimize(&fake.path, &program, tiers);
    assert!(compare(&fake.path, &small, tiers).is_err());
    assert!(small.contains("print(77);"), "{small}");
    assert!(small.lines().count() <= 4, "not minimal:\n{small}");
}

/// `tierjit fuzz` end to end, against a tier that prints an extra line on
/// every program that uses `atomic_add`: it must exit 1 and save each
/// failing program with its header, the first one minimized.
#[test]
fn the_fuzz_command_saves_minimized_failures() {
    let real = exe().display().to_string();
    let script = format!(
        "if [ \"$2\" = --tier=buggy ] && grep -q 'atomic_add' \"$f\"; then echo extra; fi\n\
         exec '{real}' run --tier=interp --test-host-functions \"$f\""
    );
    let fake = FakeTierjit::new("fuzz-cli", &script);
    let out = std::env::temp_dir().join(format!("tierjit-fuzz-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // Start at a short failing program, so that minimizing it is quick.
    let uses_atomic_add = |s: u64| generate(s, &GenConfig::default()).contains("atomic_add");
    let first = (1..)
        .find(|&s| uses_atomic_add(s) && generate(s, &GenConfig::default()).lines().count() < 120)
        .unwrap();
    let run = std::process::Command::new(exe())
        .args(["fuzz", "--seed", &first.to_string(), "--count", "8"])
        .args([
            "--tiers",
            "interp,buggy",
            "--max-minimize",
            "1",
            "--jobs",
            "2",
        ])
        .arg("--exe")
        .arg(&fake.path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    let summary = format!(
        "fuzz: 8 programs (seeds {first}..={}) on interp,buggy: ",
        first + 7
    );
    assert!(stdout.starts_with(&summary), "{stdout}");

    let mut saved: Vec<(u64, String)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let seed = name.strip_prefix("seed-").unwrap().parse().unwrap();
            (seed, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    saved.sort();
    std::fs::remove_dir_all(&out).unwrap();
    let failing: Vec<u64> = (first..first + 8).filter(|&s| uses_atomic_add(s)).collect();
    assert_eq!(saved.iter().map(|s| s.0).collect::<Vec<_>>(), failing);
    for (seed, text) in &saved {
        let header = format!("// tierjit fuzz: seed {seed}: interp, buggy differ in stdout");
        assert!(text.starts_with(&header), "{text}");
        assert!(
            text.contains("// == outcomes\n// --tier interp: exit status"),
            "{text}"
        );
    }
    let (_, minimized) = &saved[0];
    let program_lines = minimized.lines().filter(|l| !l.starts_with("//")).count();
    assert!(program_lines <= 10, "not minimized:\n{minimized}");
}
