//! Differential testing: run one program under several tiers and demand
//! the same behaviour from each.
//!
//! ```text
//! gen::generate(seed) ──▶ program text ──▶ temp file ──▶ `tierjit run --tier=T FILE`
//!                                                          for each tier T
//!                               compare (status, stdout, stderr) ◀──┘
//!                                          │ mismatch
//!                                          ▼
//!                         minimize: delete lines, blocks, subexpressions
//!                         while it compiles and the tiers still disagree
//! ```
//!
//! Contract: every run is a subprocess of the `tierjit` binary, so a tier
//! that crashes or hangs cannot take the driver down; a run is killed after
//! its timeout ([`DEFAULT_TIMEOUT`](crate::fuzz::DEFAULT_TIMEOUT)) and
//! reported as [`Status::TimedOut`](crate::fuzz::Status::TimedOut).
//! All tiers of one comparison run the same file, so backtraces name the
//! same path. A *mismatch* is any difference in exit status, stdout or
//! stderr between tiers, and also, even with a single tier, a run that died
//! by a signal, timed out or could not be started: tj programs never do
//! that on a correct tierjit.
//!
//! A tier is named as on the command line (`interp`, `baseline`, `opt`);
//! `NAME:N` runs `--tier=NAME --mixed-seed=N`; `opt-check` runs `--tier=opt
//! --opt-check` (IR verified after every pass, allocations checked); `osr`
//! interprets and moves every activation into optimized code at its first
//! loop (`--tier=interp --osr-opt`: every loop is entered by on-stack
//! replacement); `osr-baseline` does the same from baseline code
//! (`--tier=baseline --osr-opt`: baseline code leaves its frame at a loop
//! header for the optimized code's); `stress` is automatic tiering with
//! `--jit-stress` flipping a function among the three tiers every 100 us.
//! Every run defines the test host functions (`--test-host-functions`,
//! [`host`]), which random programs call, so host calls and their errors
//! are compared across the tiers too.

pub mod campaign;
pub mod gen;
pub mod host;
mod minimize;

pub use minimize::minimize;

use std::fmt;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long one run may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of each output stream is kept; the rest is drained
/// and dropped, so a runaway program cannot exhaust memory.
const MAX_CAPTURE: usize = 1 << 20;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The process exited with this status.
    Exited(i32),
    /// The process died from this signal.
    Signaled(i32),
    /// The process ran past its timeout and was killed.
    TimedOut,
    /// The process could not be started (the reason is in `stderr`).
    NotStarted,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "exit status {code}"),
            Status::Signaled(signal) => write!(f, "killed by signal {signal}"),
            Status::TimedOut => f.write_str("timed out"),
            Status::NotStarted => f.write_str("not started"),
        }
    }
}

/// Everything a run of a program shows to the outside world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How the process ended.
    pub status: Status,
    /// Its standard output (the first MiB of it, lossily UTF-8).
    pub stdout: String,
    /// Its standard error, likewise.
    pub stderr: String,
}

impl Outcome {
    /// Whether the run ended in a way no tj program may end: a signal, a
    /// timeout, or no process at all.
    pub fn is_abnormal(&self) -> bool {
        !matches!(self.status, Status::Exited(_))
    }

    /// Whether the run ended with a tj runtime error.
    pub fn is_runtime_error(&self) -> bool {
        self.status == Status::Exited(2) && self.stderr.starts_with("runtime error: ")
    }

    fn not_started(reason: String) -> Outcome {
        Outcome {
            status: Status::NotStarted,
            stdout: String::new(),
            stderr: reason,
        }
    }
}

/// Runs `exe run --tier=TIER PROGRAM` with [`DEFAULT_TIMEOUT`].
pub fn run_tier(exe: &Path, program_path: &Path, tier: &str) -> Outcome {
    run_tier_within(exe, program_path, tier, DEFAULT_TIMEOUT)
}

/// Runs `exe run --tier=TIER PROGRAM`, killing it after `timeout`. The
/// tier `warm:MODE` runs the program twice with a fresh code cache:
/// first in MODE (`opt`, `baseline`, `mixed:SEED`), which saves its code,
/// then in auto mode, which starts with that code; the second run is the
/// outcome.
pub fn run_tier_within(exe: &Path, program_path: &Path, tier: &str, timeout: Duration) -> Outcome {
    let Some(first) = tier.strip_prefix("warm:") else {
        return run_args(exe, program_path, &cold_tier_args(tier), timeout);
    };
    static DIRS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tierjit-warm-{}-{n}", std::process::id()));
    let cache = ["--code-cache".to_string(), dir.display().to_string()];
    let mut args = tier_args(first);
    args.extend(cache.clone());
    let cold = run_args(exe, program_path, &args, timeout);
    let mut args = tier_args("auto");
    args.extend(cache);
    let warm = run_args(exe, program_path, &args, timeout);
    let _ = std::fs::remove_dir_all(&dir);
    if cold.is_abnormal() {
        return cold;
    }
    warm
}

fn run_args(exe: &Path, program_path: &Path, args: &[String], timeout: Duration) -> Outcome {
    let spawned = Command::new(exe)
        .arg("run")
        .args(args)
        .arg(program_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return Outcome::not_started(format!("cannot run {}: {e}", exe.display())),
    };
    let stdout = child.stdout.take().map(capture);
    let stderr = child.stderr.take().map(capture);
    let status = match wait_within(&mut child, timeout) {
        Some(exit) => exit_status(exit),
        None => Status::TimedOut,
    };
    let collect = |reader: Option<JoinHandle<Vec<u8>>>| {
        let bytes = reader.and_then(|r| r.join().ok()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Outcome {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    }
}

/// The command-line options that select `tier` (see the module docs),
/// with the test host functions ([`host`]) defined.
fn tier_args(tier: &str) -> Vec<String> {
    let mut args = tier_only_args(tier);
    args.push("--test-host-functions".into());
    args
}

/// [`tier_args`], and no code cache (except where the `warm:` tier gives
/// one): each run is cold, and leaves nothing behind.
fn cold_tier_args(tier: &str) -> Vec<String> {
    let mut args = tier_args(tier);
    args.push("--no-code-cache".into());
    args
}

fn tier_only_args(tier: &str) -> Vec<String> {
    if tier == "opt-check" {
        return vec!["--tier=opt".into(), "--opt-check".into()];
    }
    if tier == "osr" {
        return vec!["--tier=interp".into(), "--osr-opt".into()];
    }
    if tier == "osr-baseline" {
        return vec!["--tier=baseline".into(), "--osr-opt".into()];
    }
    if tier == "stress" {
        return vec![
            "--tier=auto".into(),
            "--jit-stress".into(),
            "--jit-stress-period-us=100".into(),
        ];
    }
    match tier.split_once(':') {
        Some((name, seed)) => vec![format!("--tier={name}"), format!("--mixed-seed={seed}")],
        None => vec![format!("--tier={tier}")],
    }
}

/// Reads a pipe to its end on a thread, keeping the first [`MAX_CAPTURE`]
/// bytes; reading concurrently keeps a chatty child from blocking on a
/// full pipe.
fn capture(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buffer = [0u8; 8192];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let room = MAX_CAPTURE - kept.len();
                    kept.extend_from_slice(&buffer[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        kept
    })
}

/// Waits for `child` to exit; kills and reaps it after `timeout`.
fn wait_within(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => break,
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn exit_status(status: ExitStatus) -> Status {
    match (status.code(), status.signal()) {
        (Some(code), _) => Status::Exited(code),
        (None, Some(signal)) => Status::Signaled(signal),
        (None, None) => Status::NotStarted,
    }
}

/// A program file in the temp directory, deleted on drop.
struct TempProgram {
    path: PathBuf,
}

impl TempProgram {
    fn write(text: &str) -> std::io::Result<TempProgram> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("tierjit-fuzz-{}-{n}.tj", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text)?;
        Ok(TempProgram { path })
    }
}

impl Drop for TempProgram {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The tiers of a comparison disagreed, or one of them ended abnormally.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// Each tier with what it did, in the order given.
    pub outcomes: Vec<(String, Outcome)>,
}

impl Mismatch {
    /// The parts of the outcome that differ between tiers, of `status`,
    /// `stdout` and `stderr`.
    pub fn differing_parts(&self) -> Vec<&'static str> {
        let Some((_, first)) = self.outcomes.first() else {
            return Vec::new();
        };
        let rest = || self.outcomes.iter().skip(1).map(|(_, o)| o);
        let mut parts = Vec::new();
        if rest().any(|o| o.status != first.status) {
            parts.push("status");
        }
        if rest().any(|o| o.stdout != first.stdout) {
            parts.push("stdout");
        }
        if rest().any(|o| o.stderr != first.stderr) {
            parts.push("stderr");
        }
        parts
    }

    /// Whether some tier timed out.
    pub fn has_timeout(&self) -> bool {
        self.outcomes
            .iter()
            .any(|(_, o)| o.status == Status::TimedOut)
    }

    /// Whether some tier died by a signal.
    pub fn has_crash(&self) -> bool {
        let crashed = |o: &Outcome| matches!(o.status, Status::Signaled(_));
        self.outcomes.iter().any(|(_, o)| crashed(o))
    }

    /// One line: which tiers failed and how, e.g. `interp, baseline differ
    /// in stdout, status` or `baseline killed by signal 11`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .outcomes
            .iter()
            .filter(|(_, o)| o.is_abnormal())
            .map(|(tier, o)| format!("{tier} {}", o.status))
            .collect();
        let differing = self.differing_parts();
        if !differing.is_empty() {
            let tiers: Vec<&str> = self.outcomes.iter().map(|(t, _)| t.as_str()).collect();
            parts.push(format!(
                "{} differ in {}",
                tiers.join(", "),
                differing.join(", ")
            ));
        }
        parts.join("; ")
    }

    /// Every tier's outcome, as `//` comment lines: each stream up to
    /// [`DETAIL_LINES`] lines and [`DETAIL_BYTES`] bytes, so that a saved
    /// failure stays small whatever the program printed.
    pub fn details(&self) -> String {
        let mut text = String::new();
        for (tier, outcome) in &self.outcomes {
            text.push_str(&format!("// --tier {tier}: {}\n", outcome.status));
            for (name, stream) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
                text.push_str(&format!("// {name}:\n"));
                quote_stream(&mut text, stream);
            }
        }
        text
    }
}

/// At most this many lines of each stream are quoted in [`Mismatch::details`].
pub const DETAIL_LINES: usize = 1000;
/// At most this many bytes of each stream are quoted in [`Mismatch::details`].
pub const DETAIL_BYTES: usize = 64 << 10;

/// Appends `stream` to `text` as `// > ` lines, up to [`DETAIL_LINES`]
/// lines and [`DETAIL_BYTES`] bytes, and says how much it left out.
fn quote_stream(text: &mut String, stream: &str) {
    let mut quoted = 0;
    for (n, line) in stream.split_inclusive('\n').enumerate() {
        let mut cut = line.len().min(DETAIL_BYTES - quoted);
        if n == DETAIL_LINES || cut == 0 {
            break;
        }
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let shown = &line[..cut];
        let shown = shown.strip_suffix('\n').unwrap_or(shown);
        text.push_str("// > ");
        text.push_str(shown.strip_suffix('\r').unwrap_or(shown));
        text.push('\n');
        quoted += cut;
        if cut < line.len() {
            break;
        }
    }
    if quoted < stream.len() {
        let left_out = stream.len() - quoted;
        text.push_str(&format!("// > ... ({left_out} more bytes)\n"));
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        f.write_str(&self.details())
    }
}

impl std::error::Error for Mismatch {}

/// Runs `program_text` under every tier with [`DEFAULT_TIMEOUT`]; gives
/// the outcome they all agree on, or the mismatch.
pub fn compare(exe: &Path, program_text: &str, tiers: &[&str]) -> Result<Outcome, Mismatch> {
    compare_within(exe, program_text, tiers, DEFAULT_TIMEOUT)
}

/// [`compare`] with a timeout for each run.
pub fn compare_within(
    exe: &Path,
    program_text: &str,
    tiers: &[&str],
    timeout: Duration,
) -> Result<Outcome, Mismatch> {
    let outcomes: Vec<(String, Outcome)> = match TempProgram::write(program_text) {
        Ok(file) => tiers
            .iter()
            .map(|&tier| {
                (
                    tier.to_string(),
                    run_tier_within(exe, &file.path, tier, timeout),
                )
            })
            .collect(),
        Err(e) => {
            let reason = format!("cannot write the program to the temp directory: {e}");
            let failed = Outcome::not_started(reason);
            tiers
                .iter()
                .map(|&t| (t.to_string(), failed.clone()))
                .collect()
        }
    };
    let first = outcomes.first().map(|(_, o)| o.clone());
    let agree = outcomes.iter().all(|(_, o)| Some(o) == first.as_ref());
    match first {
        Some(first) if agree && !first.is_abnormal() => Ok(first),
        _ => Err(Mismatch { outcomes }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_map_to_options() {
        assert_eq!(tier_only_args("baseline"), ["--tier=baseline"]);
        assert_eq!(
            tier_only_args("mixed:3"),
            ["--tier=mixed", "--mixed-seed=3"]
        );
        assert_eq!(tier_only_args("osr"), ["--tier=interp", "--osr-opt"]);
        assert_eq!(tier_args("opt").last().unwrap(), "--test-host-functions");
    }

    #[test]
    fn details_quote_a_bounded_part_of_each_stream() {
        let quote = |stream: &str| {
            let mut text = String::new();
            quote_stream(&mut text, stream);
            text
        };
        assert_eq!(quote("a\nb"), "// > a\n// > b\n");
        assert_eq!(quote(""), "");
        let long = "x".repeat(DETAIL_BYTES + 10);
        let quoted = quote(&long);
        assert!(
            quoted.ends_with("\n// > ... (10 more bytes)\n"),
            "{}",
            &quoted[..40]
        );
        let many = "y\n".repeat(DETAIL_LINES + 3);
        assert_eq!(quote(&many).lines().count(), DETAIL_LINES + 1);
        assert!(quote(&many).ends_with("// > ... (6 more bytes)\n"));
    }
}
