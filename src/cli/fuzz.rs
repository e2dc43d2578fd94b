//! `tierjit fuzz`: generate programs, run each under several tiers, and
//! keep a minimized copy of every program on which they disagree.
//!
//! Each tier runs as a subprocess of this very binary (see
//! [`tierjit::fuzz`]). Programs from seeds S, S+1, ... are checked on
//! `--jobs` threads (`--shard K/N` takes the K-th of N parts of the range,
//! see [`tierjit::fuzz::campaign`]). Every failure is written to
//! `OUT/seed-S.tj` as soon as it is found, with a header saying which
//! tiers disagreed and how, and each tier's outcome at the end; once all
//! programs ran, the failures with the `--max-minimize` lowest seeds are
//! minimized and rewritten. Exit status: 0 if every program agreed, 1 if
//! any did not, 64 if a tier does not run at all or the options are bad.
//!
//! Memory stays bounded whatever `--count`: the driver keeps counts, the
//! `--max-minimize` failures it will minimize (program and one-line
//! summary), and what the `--jobs` runs in flight captured. A progress
//! line on stderr gives the rate and the time left.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tierjit::fuzz::campaign::{Progress, SeedRange, Shard};
use tierjit::fuzz::{self, gen, Outcome, Status};

/// Options of `tierjit fuzz`.
#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many programs to generate and run.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Run only part K of N (from 1) of the seeds `--seed` ..
    /// `--seed + --count`: N machines given the same range and shards 1/N
    /// .. N/N check each seed exactly once.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
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
    /// Minimize at most this many failures, those with the lowest seeds;
    /// the others stay saved as generated.
    #[arg(long, default_value_t = 20)]
    max_minimize: usize,
    /// Seconds between progress lines on stderr; 0 for none (default: 1,
    /// redrawn in place, on a terminal; 10 otherwise).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    progress_every: Option<Duration>,
    /// The tierjit binary that runs the programs (default: this one), e.g.
    /// a release build, or a wrapper script.
    #[arg(long)]
    exe: Option<PathBuf>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{e}"))
}

/// Exit status when some program failed.
const EXIT_FAILURES: i32 = 1;
/// Exit status when a tier cannot run a trivial program.
const EXIT_BAD_TIER: i32 = 64;

/// How one program's check ended, as the driver learns it: what the
/// tiers printed is not kept.
enum Checked {
    /// Every tier exited with status 0.
    CleanExit,
    /// Every tier stopped with the same runtime error.
    RuntimeError,
    /// Every tier exited with the same other status.
    OtherStatus,
    /// Already saved as generated.
    Failed(Failure),
    /// A stop signal came while it ran: its runs may have been stopped
    /// too, so it tells nothing.
    Interrupted,
}

impl Checked {
    fn agreed(outcome: &Outcome) -> Checked {
        if outcome.is_runtime_error() {
            Checked::RuntimeError
        } else if outcome.status == Status::Exited(0) {
            Checked::CleanExit
        } else {
            Checked::OtherStatus
        }
    }
}

/// A program on which the check failed.
struct Failure {
    seed: u64,
    program: String,
    /// One line: how the tiers failed.
    summary: String,
    /// Whether minimizing applies (the tiers ran and disagreed).
    is_mismatch: bool,
    /// Its file, `OUT/seed-S.tj`.
    path: PathBuf,
    /// Whether it could be saved there, and why not.
    saved: Result<(), String>,
}

/// Why a program failed, as found.
enum Problem {
    /// The generator broke its contract: the program does not compile.
    DoesNotCompile(String),
    Mismatch(fuzz::Mismatch),
}

/// Counts of how agreeing runs ended, to show what the programs exercised,
/// and the failures to minimize at the end.
#[derive(Default)]
struct Tally {
    programs: u64,
    clean_exits: u64,
    runtime_errors: u64,
    other_statuses: u64,
    failures: u64,
    /// The mismatches with the lowest seeds, at most `--max-minimize`.
    to_minimize: BTreeMap<u64, Failure>,
    /// Programs `0..prefix` of the range are all checked ...
    prefix: u64,
    /// ... and these after it too (at most about `--jobs` of them).
    beyond: std::collections::BTreeSet<u64>,
}

impl Tally {
    /// Notes that program `i` of the range was checked.
    fn checked(&mut self, i: u64) {
        self.beyond.insert(i);
        while self.beyond.remove(&self.prefix) {
            self.prefix += 1;
        }
    }

    fn record(&mut self, checked: Checked, max_minimize: usize) {
        self.programs += 1;
        match checked {
            Checked::RuntimeError => self.runtime_errors += 1,
            Checked::CleanExit => self.clean_exits += 1,
            Checked::OtherStatus => self.other_statuses += 1,
            Checked::Interrupted => self.programs -= 1,
            Checked::Failed(failure) => {
                self.failures += 1;
                if failure.is_mismatch {
                    self.to_minimize.insert(failure.seed, failure);
                    if self.to_minimize.len() > max_minimize {
                        self.to_minimize.pop_last();
                    }
                }
            }
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
    let whole = match SeedRange::new(args.seed, args.count) {
        Ok(range) => range,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_TIER;
        }
    };
    let range = args.shard.map_or(whole, |shard| whole.shard(shard));
    let tiers: Vec<&str> = args.tiers.iter().map(String::as_str).collect();
    if let Err(message) = probe_tiers(&exe, &tiers) {
        eprintln!("error: {message}");
        return EXIT_BAD_TIER;
    }
    // Before the workers exist (signals.rs): Ctrl-C ends the campaign
    // after the runs under way, with its summary.
    super::signals::watch_softly();
    let started = Instant::now();
    let tally = check_all(&exe, &tiers, &args, range);
    let elapsed = started.elapsed().as_secs_f64();
    let shard = match args.shard {
        Some(shard) => format!(", shard {shard} of {whole}"),
        None => String::new(),
    };
    println!(
        "fuzz: {} programs ({range}{shard}) on {}: {} mismatches; {} exited 0, {} runtime errors, {} other statuses; {elapsed:.1} s, {:.1} programs/s",
        tally.programs,
        tiers.join(","),
        tally.failures,
        tally.clean_exits,
        tally.runtime_errors,
        tally.other_statuses,
        tally.programs as f64 / elapsed.max(1e-9),
    );
    if let Some(signal) = super::signals::received() {
        let done = tally.prefix;
        if done < range.count() {
            println!(
                "fuzz: stopped by signal {signal}: the first {done} programs were all checked; to go on: --seed {} --count {}",
                range.seed(done),
                range.count() - done
            );
        }
        if tally.failures > 0 {
            println!(
                "fuzz: {} failures saved as generated in {}",
                tally.failures,
                args.out.display()
            );
        }
        let _ = std::io::stdout().flush();
        return 128 + signal;
    }
    if tally.failures == 0 {
        return 0;
    }
    let minimized = tally.to_minimize.len() as u64;
    for failure in tally.to_minimize.into_values() {
        save_minimized(&exe, &tiers, &failure);
    }
    if tally.failures > minimized {
        println!(
            "fuzz: {} more failures saved as generated in {} (listed on stderr)",
            tally.failures - minimized,
            args.out.display()
        );
    }
    let _ = std::io::stdout().flush();
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

/// Generates and checks the programs of `range` on `--jobs` threads; each
/// failure is saved as soon as it is found.
fn check_all(exe: &Path, tiers: &[&str], args: &FuzzArgs, range: SeedRange) -> Tally {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = AtomicU64::new(0);
    // Bounded: should the driver fall behind, the workers wait for it
    // rather than queue results without limit.
    let (sender, receiver) = mpsc::sync_channel(jobs * 2);
    let mut tally = Tally::default();
    let mut progress = ProgressLine::new(args.progress_every, range.count());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || loop {
                if super::signals::received().is_some() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= range.count() {
                    break;
                }
                let checked = check_one(exe, tiers, range.seed(i), &args.out);
                if sender.send((i, checked)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        loop {
            let received = match progress.due() {
                Some(due) => receiver.recv_timeout(due.saturating_duration_since(Instant::now())),
                None => receiver
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match received {
                Ok((i, checked)) => {
                    let note = match &checked {
                        Checked::Failed(failure) => Some(failure.note()),
                        _ => None,
                    };
                    if !matches!(checked, Checked::Interrupted) {
                        tally.checked(i);
                    }
                    tally.record(checked, args.max_minimize);
                    if let Some(note) = note {
                        progress.note(&note, &tally);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            progress.tick(&tally);
        }
    });
    progress.finish(&tally);
    tally
}

/// Checks the program of `seed`; saves it, as generated, if it fails.
fn check_one(exe: &Path, tiers: &[&str], seed: u64, out: &Path) -> Checked {
    let program = gen::generate(seed, &gen::GenConfig::default());
    let problem = match tierjit::fuzz::host::compile(program.as_bytes()) {
        Err(errors) => {
            let first = errors.first().map(|e| e.render("generated.tj"));
            Problem::DoesNotCompile(first.unwrap_or_default())
        }
        Ok(_) => match fuzz::compare(exe, &program, tiers) {
            // A Ctrl-C reaches the runs too (one process group).
            _ if super::signals::received().is_some() => return Checked::Interrupted,
            Ok(outcome) => return Checked::agreed(&outcome),
            Err(mismatch) => Problem::Mismatch(mismatch),
        },
    };
    let summary = match &problem {
        Problem::DoesNotCompile(error) => format!("does not compile: {error}"),
        Problem::Mismatch(mismatch) => mismatch.summary(),
    };
    let text = match &problem {
        Problem::DoesNotCompile(error) => format!(
            "// tierjit fuzz: seed {seed} does not compile: {error}\n{}\n{program}",
            reproduce_line(seed, tiers)
        ),
        Problem::Mismatch(_) => {
            let lines = program.lines().count();
            mismatch_file(exe, tiers, seed, &program, lines, &summary)
        }
    };
    let path = out.join(format!("seed-{seed}.tj"));
    let saved = write_failure(&path, &text);
    Checked::Failed(Failure {
        seed,
        program,
        summary,
        is_mismatch: matches!(problem, Problem::Mismatch(_)),
        path,
        saved,
    })
}

impl Failure {
    /// The line that reports the failure as it is found.
    fn note(&self) -> String {
        let (seed, summary) = (self.seed, &self.summary);
        match &self.saved {
            Ok(()) => format!(
                "fuzz: seed {seed}: {summary}; saved {}",
                self.path.display()
            ),
            Err(error) => format!("fuzz: seed {seed}: {summary}; error: {error}"),
        }
    }
}

/// Minimizes a failure and rewrites its file.
fn save_minimized(exe: &Path, tiers: &[&str], failure: &Failure) {
    let seed = failure.seed;
    let lines = failure.program.lines().count();
    eprintln!("fuzz: minimizing seed {seed} ({lines} lines)");
    let program = fuzz::minimize(exe, &failure.program, tiers);
    // The minimized program may fail in fewer ways than the original.
    let summary = match fuzz::compare(exe, &program, tiers) {
        Err(mismatch) => mismatch.summary(),
        Ok(_) => failure.summary.clone(),
    };
    let text = mismatch_file(exe, tiers, seed, &program, lines, &summary);
    match write_failure(&failure.path, &text) {
        Ok(()) => println!("saved {}: {}", failure.path.display(), failure.summary),
        Err(error) => eprintln!("error: {error}"),
    }
}

fn write_failure(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn reproduce_line(seed: u64, tiers: &[&str]) -> String {
    format!(
        "// reproduce: tierjit fuzz --seed {seed} --count 1 --tiers {}",
        tiers.join(",")
    )
}

/// The saved form of a mismatch: a three-line header, the program
/// (`generated_lines` long before minimizing), and each tier's outcome on
/// exactly that file as a trailing comment, so the backtraces' line
/// numbers match it.
fn mismatch_file(
    exe: &Path,
    tiers: &[&str],
    seed: u64,
    program: &str,
    generated_lines: usize,
    summary: &str,
) -> String {
    let size = format!(
        "// {} of {generated_lines} generated lines; each tier's outcome on this file is at the end\n",
        program.lines().count()
    );
    let text = format!(
        "// tierjit fuzz: seed {seed}: {summary}\n{}\n{size}{program}",
        reproduce_line(seed, tiers)
    );
    let trailer = match fuzz::compare(exe, &text, tiers) {
        Err(m) => m.details(),
        Ok(_) => "// (the tiers agree on this file: the failure did not reproduce)\n".to_string(),
    };
    format!("{text}// == outcomes\n{trailer}")
}

/// The progress line on stderr: redrawn in place on a terminal, otherwise
/// one line per interval; and a last one when the campaign ends.
struct ProgressLine {
    started: Instant,
    total: u64,
    /// None: no progress lines.
    every: Option<Duration>,
    due: Instant,
    in_place: bool,
    /// Whether a line is drawn in place, without its newline.
    drawn: bool,
}

impl ProgressLine {
    fn new(every: Option<Duration>, total: u64) -> ProgressLine {
        let in_place = std::io::stderr().is_terminal();
        let default = Duration::from_secs(if in_place { 1 } else { 10 });
        let every = Some(every.unwrap_or(default)).filter(|e| !e.is_zero());
        let started = Instant::now();
        ProgressLine {
            started,
            total,
            every,
            due: started + every.unwrap_or_default(),
            in_place,
            drawn: false,
        }
    }

    /// When the next line is due, if ever.
    fn due(&self) -> Option<Instant> {
        self.every.map(|_| self.due)
    }

    /// Draws the line if it is due.
    fn tick(&mut self, tally: &Tally) {
        let Some(every) = self.every else { return };
        let now = Instant::now();
        if now < self.due {
            return;
        }
        while self.due <= now {
            self.due += every;
        }
        self.draw(tally);
    }

    /// Prints `note` on a line of its own.
    fn note(&mut self, note: &str, tally: &Tally) {
        let mut stderr = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(stderr, "\r\x1b[K");
        }
        let _ = writeln!(stderr, "{note}");
        drop(stderr);
        if self.drawn {
            self.draw(tally);
        }
    }

    fn finish(&mut self, tally: &Tally) {
        if self.every.is_some() {
            self.draw(tally);
        }
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }

    fn draw(&mut self, tally: &Tally) {
        let line = Progress {
            done: tally.programs,
            total: self.total,
            failures: tally.failures,
            elapsed: self.started.elapsed(),
        };
        let mut stderr = std::io::stderr().lock();
        if self.in_place {
            let _ = write!(stderr, "\r{line}\x1b[K");
            let _ = stderr.flush();
            self.drawn = true;
        } else {
            let _ = writeln!(stderr, "{line}");
        }
    }
}
