//! Runs every `tests/programs/*.tj` under every tier and compares stdout,
//! stderr and exit status with the file's expect block (format in
//! `tests/programs/README.md`). `TIERJIT_BLESS=1` rewrites the blocks from
//! the interpreter's behaviour.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The tiers every program runs under; each must match the expectations.
/// `opt` compiles every function with the optimizer, verifying its IR
/// after every pass and checking every register allocation. `mixed:N`
/// starts each function in the tier (interp, baseline, opt) seed N picks.
/// `stress` is automatic tiering with `--jit-stress` flipping a function
/// every 100 us. `profiled:ENGINE` is automatic tiering sampled at 10 kHz
/// with that engine and a profile written: the signals must change nothing
/// (the line saying where the profile went is taken out of stderr). `osr`
/// interprets, and moves every activation, at its first backward branch,
/// into optimized code compiled for that loop header (with the optimizer's
/// checks), so every loop runs entered by on-stack replacement;
/// `osr-baseline` does the same from baseline code, which leaves its
/// frame at a loop header for the optimized code's. `hot` is automatic tiering sampled at 10 kHz with thresholds so low
/// that a function sampled once goes to baseline code and one sampled
/// again to optimized code (with the optimizer's checks), running
/// activations moving along by on-stack replacement, at any loop header
/// as soon as they are found behind. `image` builds a
/// module image (`tierjit build`) and runs it, mapped in place, in auto
/// mode (backtraces name the image: its path is put back). `warm` runs
/// the program twice with a fresh code cache, in `mixed:2` and then in
/// auto mode, which starts with the code the first run saved (baseline,
/// optimized and call stubs to interpreted callees); the second run
/// counts.
const TIERS: &[&str] = &[
    "interp",
    "baseline",
    "opt",
    "mixed:1",
    "mixed:2",
    "mixed:3",
    "auto",
    "stress",
    "profiled:sampler-thread",
    "profiled:thread-timers",
    "osr",
    "osr-baseline",
    "hot",
    "image",
    "warm",
];

const EXPECT_MARKER: &str = "// == expect";

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: i32,
    stdout: String,
    stderr: String,
}

fn parse_expectations(source: &str) -> Option<Outcome> {
    let block = &source[source.find(EXPECT_MARKER)?..];
    let mut outcome = Outcome {
        status: -1,
        stdout: String::new(),
        stderr: String::new(),
    };
    let mut section = None;
    for line in block.lines().skip(1) {
        let line = line.trim_end();
        if let Some(s) = line.strip_prefix("// status: ") {
            outcome.status = s.trim().parse().ok()?;
        } else if line == "// stdout:" {
            section = Some(true);
        } else if line == "// stderr:" {
            section = Some(false);
        } else if let Some(rest) = line.strip_prefix("// >") {
            let text = rest.strip_prefix(' ').unwrap_or(rest);
            let target = match section? {
                true => &mut outcome.stdout,
                false => &mut outcome.stderr,
            };
            target.push_str(text);
            target.push('\n');
        } else if !line.is_empty() {
            panic!("unexpected line in expect block: {line:?}");
        }
    }
    Some(outcome)
}

fn render_expectations(o: &Outcome) -> String {
    let mut s = format!("{EXPECT_MARKER}\n// status: {}\n// stdout:\n", o.status);
    let quote = |text: &str, s: &mut String| {
        for line in text.lines() {
            if line.is_empty() {
                s.push_str("// >\n");
            } else {
                s.push_str(&format!("// > {line}\n"));
            }
        }
    };
    quote(&o.stdout, &mut s);
    s.push_str("// stderr:\n");
    quote(&o.stderr, &mut s);
    s
}

fn program_args(source: &str) -> Vec<String> {
    source
        .lines()
        .take_while(|l| !l.starts_with(EXPECT_MARKER))
        .find_map(|l| l.strip_prefix("// args:"))
        .map(|a| a.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// Builds the image of `path` and runs it in auto mode.
fn run_image(root: &Path, relative: &Path, args: &[String]) -> Outcome {
    let stem = relative.file_stem().unwrap().to_string_lossy();
    let image = std::env::temp_dir().join(format!(
        "tierjit-programs-{}-{stem}.tjm",
        std::process::id()
    ));
    let outcome = |out: std::process::Output| Outcome {
        status: out.status.code().unwrap_or(-1000),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).replace(
            &image.display().to_string(),
            &relative.display().to_string(),
        ),
    };
    let built = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .current_dir(root)
        .arg("build")
        .arg(relative)
        .arg("-o")
        .arg(&image)
        .output()
        .expect("tierjit builds");
    if !built.status.success() {
        return outcome(built);
    }
    let ran = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .current_dir(root)
        .args(["run", "--tier=auto"])
        .arg(&image)
        .args(args)
        .output()
        .expect("tierjit runs");
    let _ = std::fs::remove_file(&image);
    outcome(ran)
}

/// Runs `path` in `mixed:2` with a fresh code cache, then in auto mode
/// from that cache; gives the second run.
fn run_warm(root: &Path, relative: &Path, args: &[String]) -> Outcome {
    let stem = relative.file_stem().unwrap().to_string_lossy();
    let cache = std::env::temp_dir().join(format!(
        "tierjit-programs-{}-{stem}-cache",
        std::process::id()
    ));
    let run = |tier_args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tierjit"))
            .current_dir(root)
            .arg("run")
            .args(tier_args)
            .arg("--code-cache")
            .arg(&cache)
            .arg(relative)
            .args(args)
            .output()
            .expect("tierjit runs")
    };
    run(&["--tier=mixed", "--mixed-seed=2"]);
    let out = run(&["--tier=auto"]);
    let _ = std::fs::remove_dir_all(&cache);
    Outcome {
        status: out.status.code().unwrap_or(-1000),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(path: &Path, tier: &str, args: &[String]) -> Outcome {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let relative = path.strip_prefix(root).unwrap();
    if tier == "image" {
        return run_image(root, relative, args);
    }
    if tier == "warm" {
        return run_warm(root, relative, args);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .current_dir(root)
        .arg("run")
        .args(tier_args(tier))
        .arg(relative)
        .args(args)
        .output()
        .expect("tierjit runs");
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if tier.starts_with("profiled:") || tier == "hot" {
        let written = stderr
            .lines()
            .filter(|l| l.starts_with("tierjit: profile written to "))
            .count();
        // Programs that do not compile never run, so write no profile.
        assert!(written <= 1, "{}: {stderr}", path.display());
        stderr = stderr
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("tierjit: profile written to "))
            .collect();
    }
    Outcome {
        status: out.status.code().unwrap_or(-1000),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

/// The command-line options that select `tier`.
fn tier_args(tier: &str) -> Vec<String> {
    if tier == "stress" {
        return ["--tier=auto", "--jit-stress", "--jit-stress-period-us=100"]
            .map(String::from)
            .to_vec();
    }
    if tier == "opt" {
        return ["--tier=opt", "--opt-check"].map(String::from).to_vec();
    }
    if tier == "osr-baseline" {
        return ["--tier=baseline", "--osr-opt", "--opt-check"]
            .map(String::from)
            .to_vec();
    }
    if tier == "hot" {
        let out = std::env::temp_dir().join(format!(
            "tierjit-programs-{}-hot.tjprof",
            std::process::id()
        ));
        return vec![
            "--tier=auto".into(),
            format!("--profile={}", out.display()),
            "--profile-hz=10000".into(),
            "--tier-thresholds=0,0.15,1000,0".into(),
            "--opt-check".into(),
        ];
    }
    if tier == "osr" {
        return ["--tier=interp", "--osr-opt", "--opt-check"]
            .map(String::from)
            .to_vec();
    }
    match tier.split_once(':') {
        Some(("profiled", engine)) => {
            let out = std::env::temp_dir().join(format!(
                "tierjit-programs-{}-{engine}.tjprof",
                std::process::id()
            ));
            vec![
                "--tier=auto".into(),
                format!("--profile={}", out.display()),
                "--profile-hz=10000".into(),
                format!("--profile-engine={engine}"),
            ]
        }
        Some((name, seed)) => vec![format!("--tier={name}"), format!("--mixed-seed={seed}")],
        None => vec![format!("--tier={tier}")],
    }
}

fn programs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tj"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_program_behaves_as_expected_on_every_tier() {
    let bless = std::env::var_os("TIERJIT_BLESS").is_some();
    let mut failures = Vec::new();
    let files = programs();
    assert!(files.len() > 10, "the corpus is missing");
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        let args = program_args(&source);
        if bless {
            let actual = run(path, TIERS[0], &args);
            let head = source
                .find(EXPECT_MARKER)
                .map_or(&source[..], |i| &source[..i]);
            let head = head.trim_end_matches('\n');
            std::fs::write(path, format!("{head}\n{}", render_expectations(&actual))).unwrap();
            continue;
        }
        let Some(expected) = parse_expectations(&source) else {
            failures.push(format!("{}: no expect block", path.display()));
            continue;
        };
        for tier in TIERS {
            let actual = run(path, tier, &args);
            if actual != expected {
                failures.push(format!(
                    "{} [--tier {tier}]\n--- expected\n{}--- actual\n{}",
                    path.display(),
                    render_expectations(&expected),
                    render_expectations(&actual)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} programs failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
