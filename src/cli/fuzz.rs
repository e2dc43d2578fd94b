//! `tierjit fuzz`: generate programs, run each under several tiers, and
//! keep a minimized copy of every program on which they disagree.
//!
//! Each tier runs as a subprocess of this very binary (see
//! [`tierjit::fuzz`]). Programs from seeds S, S+1, ... are checked on
//! `--jobs` threads; every mismatch is then minimized (the first
//! `--max-minimize` of them; the rest are saved as generated) and written to
//! `OUT/seed-S.tj` with a header saying which tiers disagreed and how, and
//! each tier's outcome at the end. Exit status: 0 if every program agreed,
//! 1 if any did not, 64 if a tier does not run at all.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use tierjit::fuzz::{self, gen, Mismatch, Outcome, Status};

/// Options of `tierjit fuzz`.
#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many programs to generate and run.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// The tiers to compare, comma-separated; `mixed:N` is `--tier mixed
    /// --mixed-seed N`; `osr` is `--tier interp --osr-opt`, `osr-baseline` is `--tier baseline --osr-opt`; `stress` is `--tier auto --jit-stress` (a flip every 100 us). With one tier, programs must still compile, run to
    /// completion and not crash.
    #[arg(long, value_delimiter = ',', default_value = "interp,baseline")]
    tiers: Vec<String>,
    /// Where to save failing programs.
    #[arg(long, default_value = "fuzz-failures")]
    out: PathBuf,
    /// Parallel runs (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Minimize at most this many failures; later ones are saved unminimized.
    #[arg(long, default_value_t = 20)]
    max_minimize: usize,
    /// The tierjit binary that runs the programs (default: this one), e.g.
    /// a release build, or a wrapper script.
    #[arg(long)]
    exe: Option<PathBuf>,
}

/// Exit status when some program failed.
const EXIT_FAILURES: i32 = 1;
/// Exit status when a tier cannot run a trivial program.
const EXIT_BAD_TIER: i32 = 64;

/// A program on which the check failed.
struct Failure {
    seed: u64,
    program: String,
    problem: Problem,
}

enum Problem {
    /// The generator broke its contract: the program does not compile.
    DoesNotCompile(String),
    Mismatch(Mismatch),
}

/// Counts of how agreeing runs ended, to show what the programs exercised.
#[derive(Default)]
struct Tally {
    programs: u64,
    clean_exits: u64,
    runtime_errors: u64,
    other_statuses: u64,
    failures: Vec<Failure>,
}

impl Tally {
    fn record(&mut self, seed: u64, program: String, result: Result<Outcome, Problem>) {
        self.programs += 1;
        match result {
            Ok(o) if o.is_runtime_error() => self.runtime_errors += 1,
            Ok(o) if o.status == Status::Exited(0) => self.clean_exits += 1,
            Ok(_) => self.other_statuses += 1,
            Err(problem) => self.failures.push(Failure {
                seed,
                program,
                problem,
            }),
        }
    }
}

/// Runs `tierjit fuzz`; gives the exit status.
pub fn run(args: FuzzArgs) -> i32 {
    let exe = match args.exe.clone().map_or_else(std::env::current_exe, Ok) {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find the tierjit binary: {e}");
            return EXIT_BAD_TIER;
        }
    };
    let tiers: Vec<&str> = args.tiers.iter().map(String::as_str).collect();
    if let Err(message) = probe_tiers(&exe, &tiers) {
        eprintln!("error: {message}");
        return EXIT_BAD_TIER;
    }
    let started = Instant::now();
    let mut tally = check_all(&exe, &tiers, &args);
    tally.failures.sort_by_key(|f| f.seed);
    let last = args.seed.saturating_add(args.count.saturating_sub(1));
    println!(
        "fuzz: {} programs (seeds {}..={last}) on {}: {} mismatches; {} exited 0, {} runtime errors, {} other statuses; {:.1} s",
        tally.programs,
        args.seed,
        tiers.join(","),
        tally.failures.len(),
        tally.clean_exits,
        tally.runtime_errors,
        tally.other_statuses,
        started.elapsed().as_secs_f64(),
    );
    if tally.failures.is_empty() {
        return 0;
    }
    save_failures(&exe, &tiers, &args, &tally.failures);
    EXIT_FAILURES
}

/// Checks that every tier runs a trivial program correctly, so that a
/// misspelled tier is not mistaken for a thousand agreeing runs.
fn probe_tiers(exe: &Path, tiers: &[&str]) -> Result<(), String> {
    if tiers.is_empty() {
        return Err("--tiers is empty".to_string());
    }
    for &tier in tiers {
        let outcome = fuzz::compare(exe, "fn main() { print(1); }\n", &[tier]);
        match outcome {
            Ok(o) if o.status == Status::Exited(0) && o.stdout == "1\n" => {}
            Ok(o) => {
                return Err(format!(
                    "tier {tier} does not work: {}\n{}",
                    o.status, o.stderr
                ))
            }
            Err(m) => return Err(format!("tier {tier} does not work: {m}")),
        }
    }
    Ok(())
}

/// Generates and checks every program on `--jobs` threads.
fn check_all(exe: &Path, tiers: &[&str], args: &FuzzArgs) -> Tally {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = AtomicU64::new(0);
    let (sender, receiver) = mpsc::channel();
    let mut tally = Tally::default();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.count {
                    break;
                }
                let seed = args.seed.wrapping_add(i);
                let (program, result) = check_one(exe, tiers, seed);
                if sender.send((seed, program, result)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        let step = (args.count / 10).max(1);
        for (seed, program, result) in receiver {
            tally.record(seed, program, result);
            if tally.programs % step == 0 && tally.programs < args.count {
                eprintln!(
                    "fuzz: {}/{} programs, {} mismatches",
                    tally.programs,
                    args.count,
                    tally.failures.len()
                );
            }
        }
    });
    tally
}

fn check_one(exe: &Path, tiers: &[&str], seed: u64) -> (String, Result<Outcome, Problem>) {
    let program = gen::generate(seed, &gen::GenConfig::default());
    let result = match tierjit::lang::compile(program.as_bytes()) {
        Err(errors) => {
            let first = errors.first().map(|e| e.render("generated.tj"));
            Err(Problem::DoesNotCompile(first.unwrap_or_default()))
        }
        Ok(_) => fuzz::compare(exe, &program, tiers).map_err(Problem::Mismatch),
    };
    (program, result)
}

/// Minimizes (the first `--max-minimize`) and writes every failure.
fn save_failures(exe: &Path, tiers: &[&str], args: &FuzzArgs, failures: &[Failure]) {
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: cannot create {}: {e}", args.out.display());
        return;
    }
    for (i, failure) in failures.iter().enumerate() {
        let minimize = i < args.max_minimize;
        let text = failure_file(exe, tiers, failure, minimize);
        let path = args.out.join(format!("seed-{}.tj", failure.seed));
        let summary = match &failure.problem {
            Problem::DoesNotCompile(error) => format!("does not compile: {error}"),
            Problem::Mismatch(m) => m.summary(),
        };
        match std::fs::write(&path, text) {
            Ok(()) => println!("saved {}: {summary}", path.display()),
            Err(e) => eprintln!("error: cannot write {}: {e}", path.display()),
        }
    }
    let _ = std::io::stdout().flush();
}

/// The saved form of a failure: a three-line header, the (minimized)
/// program, and each tier's outcome on exactly that file as a trailing
/// comment, so the backtraces' line numbers match it.
fn failure_file(exe: &Path, tiers: &[&str], failure: &Failure, minimize: bool) -> String {
    let seed = failure.seed;
    let reproduce = format!(
        "// reproduce: tierjit fuzz --seed {seed} --count 1 --tiers {}\n",
        tiers.join(",")
    );
    let mismatch = match &failure.problem {
        Problem::DoesNotCompile(error) => {
            let header = format!("// tierjit fuzz: seed {seed} does not compile: {error}\n");
            return format!("{header}{reproduce}\n{}", failure.program);
        }
        Problem::Mismatch(m) => m,
    };
    let original_lines = failure.program.lines().count();
    let program = if minimize {
        eprintln!("fuzz: minimizing seed {seed} ({original_lines} lines)");
        fuzz::minimize(exe, &failure.program, tiers)
    } else {
        failure.program.clone()
    };
    let size = format!(
        "// {} of {original_lines} generated lines; each tier's outcome on this file is at the end\n",
        program.lines().count()
    );
    // The minimized program may fail in fewer ways than the original.
    let summary = match fuzz::compare(exe, &program, tiers) {
        Err(m) => m.summary(),
        Ok(_) => mismatch.summary(),
    };
    let text = format!("// tierjit fuzz: seed {seed}: {summary}\n{reproduce}{size}{program}");
    let trailer = match fuzz::compare(exe, &text, tiers) {
        Err(m) => m.details(),
        Ok(_) => "// (the tiers agree on this file: the failure did not reproduce)\n".to_string(),
    };
    format!("{text}// == outcomes\n{trailer}")
}
