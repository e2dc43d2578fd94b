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
//! its timeout ([`DEFAULT_TIMEOUT`]) and reported as [`Status::TimedOut`].
//! All tiers of one comparison run the same file, so backtraces name the
//! same path. A *mismatch* is any difference in exit status, stdout or
//! stderr between tiers, and also, even with a single tier, a run that died
//! by a signal, timed out or could not be started: tj programs never do
//! that on a correct tierjit.
//!
//! A tier is named as on the command line (`interp`, `baseline`); `NAME:N`
//! runs `--tier=NAME --mixed-seed=N`.

pub mod gen;

use std::fmt;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::lang;

/// How long one run may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The timeout of each run while minimizing a failure that was not itself
/// a timeout: generated programs finish in milliseconds, and a candidate
/// that loops is rejected, so there is no need to wait long for it.
const MINIMIZE_RUN_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`minimize`] keeps trying before it settles for what it has.
const MINIMIZE_TIME_LIMIT: Duration = Duration::from_secs(90);

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
    /// Its standard output (at most [`MAX_CAPTURE`] bytes, lossily UTF-8).
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

/// Runs `exe run --tier=TIER PROGRAM`, killing it after `timeout`.
pub fn run_tier_within(exe: &Path, program_path: &Path, tier: &str, timeout: Duration) -> Outcome {
    let spawned = Command::new(exe)
        .arg("run")
        .args(tier_args(tier))
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

/// The command-line options that select `tier` (see the module docs).
fn tier_args(tier: &str) -> Vec<String> {
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

    /// Every tier's outcome in full, as `//` comment lines.
    pub fn details(&self) -> String {
        let mut text = String::new();
        for (tier, outcome) in &self.outcomes {
            text.push_str(&format!("// --tier {tier}: {}\n", outcome.status));
            for (name, stream) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
                text.push_str(&format!("// {name}:\n"));
                for line in stream.lines() {
                    text.push_str(&format!("// > {line}\n"));
                }
            }
        }
        text
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

/// Shrinks a program on which the tiers disagree to a small one on which
/// they still do; gives `program_text` itself if they agree on it.
///
/// Candidates are checked with [`lang::compile`] in-process before any
/// run. A candidate counts as still failing if the tiers still mismatch
/// and, unless the original failure involved a timeout (or a crash), the
/// candidate's does not time out (or does crash), so minimizing cannot
/// drift towards a program that merely loops. Gives up refining after
/// [`MINIMIZE_TIME_LIMIT`] and returns the smallest failure found.
pub fn minimize(exe: &Path, program_text: &str, tiers: &[&str]) -> String {
    let Err(original) = compare(exe, program_text, tiers) else {
        return program_text.to_string();
    };
    let search = Minimizer {
        exe,
        tiers,
        timeout: if original.has_timeout() {
            DEFAULT_TIMEOUT
        } else {
            MINIMIZE_RUN_TIMEOUT
        },
        allow_timeout: original.has_timeout(),
        need_crash: original.has_crash(),
        deadline: Instant::now() + MINIMIZE_TIME_LIMIT,
    };
    let mut lines: Vec<String> = program_text.lines().map(String::from).collect();
    loop {
        let before = text_len(&lines);
        search.remove_chunks(&mut lines);
        search.remove_blocks(&mut lines);
        search.drop_else_branches(&mut lines);
        search.unwrap_blocks(&mut lines);
        search.simplify_groups(&mut lines);
        search.simplify_atoms(&mut lines);
        if text_len(&lines) >= before || search.out_of_time() {
            break;
        }
    }
    join_lines(&lines)
}

fn text_len(lines: &[String]) -> usize {
    lines.iter().map(|l| l.len() + 1).sum()
}

fn join_lines(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The state of one [`minimize`] search.
struct Minimizer<'a> {
    exe: &'a Path,
    tiers: &'a [&'a str],
    timeout: Duration,
    allow_timeout: bool,
    need_crash: bool,
    deadline: Instant,
}

impl Minimizer<'_> {
    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Whether `lines` compile and still show the failure being minimized.
    fn fails(&self, lines: &[String]) -> bool {
        let text = join_lines(lines);
        if lang::compile(text.as_bytes()).is_err() {
            return false;
        }
        match compare_within(self.exe, &text, self.tiers, self.timeout) {
            Ok(_) => false,
            Err(m) => {
                (self.allow_timeout || !m.has_timeout()) && (!self.need_crash || m.has_crash())
            }
        }
    }

    /// Tries `candidate`; adopts it if it still fails.
    fn attempt(&self, lines: &mut Vec<String>, candidate: Vec<String>) -> bool {
        let adopted = !self.out_of_time() && self.fails(&candidate);
        if adopted {
            *lines = candidate;
        }
        adopted
    }

    /// Delta debugging over lines: deletes runs of lines, halving the run
    /// length down to one.
    fn remove_chunks(&self, lines: &mut Vec<String>) {
        let mut size = lines.len() / 2;
        while size >= 1 && !self.out_of_time() {
            let mut start = 0;
            while start < lines.len() && !self.out_of_time() {
                let end = (start + size).min(lines.len());
                let candidate = [&lines[..start], &lines[end..]].concat();
                if !self.attempt(lines, candidate) {
                    start += size;
                }
            }
            size /= 2;
        }
    }

    /// Deletes whole blocks: an opening line through its closing line.
    fn remove_blocks(&self, lines: &mut Vec<String>) {
        for open in (0..lines.len()).rev() {
            if open >= lines.len() || net_braces(&lines[open]) <= 0 {
                continue;
            }
            if let Some(close) = matching_close(lines, open) {
                let candidate = [&lines[..open], &lines[close + 1..]].concat();
                self.attempt(lines, candidate);
            }
        }
    }

    /// Replaces `} else ... {` and everything up to the end of the `if`
    /// with `}`.
    fn drop_else_branches(&self, lines: &mut Vec<String>) {
        for at in (0..lines.len()).rev() {
            let Some(line) = lines.get(at) else { continue };
            let trimmed = line.trim();
            if !(trimmed.starts_with('}') && trimmed.ends_with('{')) {
                continue;
            }
            if let Some(close) = matching_close(lines, at) {
                let indent = &line[..line.len() - line.trim_start().len()];
                let closer = [format!("{indent}}}")];
                let candidate = [&lines[..at], &closer[..], &lines[close + 1..]].concat();
                self.attempt(lines, candidate);
            }
        }
    }

    /// Keeps a block's body but deletes its opening and closing lines.
    fn unwrap_blocks(&self, lines: &mut Vec<String>) {
        for open in (0..lines.len()).rev() {
            if open >= lines.len() || net_braces(&lines[open]) <= 0 {
                continue;
            }
            if let Some(close) = matching_close(lines, open) {
                let candidate =
                    [&lines[..open], &lines[open + 1..close], &lines[close + 1..]].concat();
                self.attempt(lines, candidate);
            }
        }
    }

    /// Replaces parenthesized subexpressions by one of their operands or by
    /// a small literal.
    fn simplify_groups(&self, lines: &mut Vec<String>) {
        for row in 0..lines.len() {
            let mut from = 0;
            while let Some((open, close)) = next_group(&lines[row], from) {
                if self.out_of_time() {
                    return;
                }
                if !self.simplify_group(lines, row, open, close) {
                    from = open + 1;
                }
            }
        }
    }

    /// Replaces single names and numbers by small literals, except on
    /// `while` and `fn` lines, whose counters and depth guards keep the
    /// program finite.
    fn simplify_atoms(&self, lines: &mut Vec<String>) {
        for row in 0..lines.len() {
            let header = ["while ", "fn "]
                .iter()
                .any(|h| lines[row].trim_start().starts_with(h));
            if header {
                continue;
            }
            let mut skip = 0;
            while let Some(&(start, end)) = atoms(&lines[row]).get(skip) {
                if self.out_of_time() {
                    return;
                }
                let line = lines[row].clone();
                // A literal stays as it is: replacing it by another could
                // go back and forth forever.
                let adopted = !ATOM_LITERALS.contains(&&line[start..end])
                    && ATOM_LITERALS.iter().any(|literal| {
                        let mut candidate = lines.clone();
                        candidate[row] = format!("{}{literal}{}", &line[..start], &line[end..]);
                        self.attempt(lines, candidate)
                    });
                if !adopted {
                    skip += 1;
                }
            }
        }
    }

    fn simplify_group(
        &self,
        lines: &mut Vec<String>,
        row: usize,
        open: usize,
        close: usize,
    ) -> bool {
        let line = lines[row].clone();
        let inner = &line[open + 1..close];
        let mut replacements = group_operands(inner);
        replacements.extend(["0", "1", "0.0", "true"].map(String::from));
        for replacement in replacements {
            let mut candidate = lines.clone();
            candidate[row] = format!("{}{replacement}{}", &line[..open], &line[close + 1..]);
            if self.attempt(lines, candidate) {
                return true;
            }
        }
        false
    }
}

/// What the atom pass tries in place of a name or number.
const ATOM_LITERALS: &[&str] = &["0", "1", "0.0", "true"];

/// Words the atom pass leaves alone.
const KEYWORDS: &[&str] = &[
    "fn", "let", "const", "if", "else", "while", "for", "in", "return", "break", "continue",
    "true", "false", "int", "float", "bool", "spawn", "depth",
];

/// The byte ranges of the names and numbers on a line that the atom pass
/// may replace: not keywords, not callees, not a recursive call's
/// `depth - 1` (replacing its `1` would recurse forever), nothing in a
/// string or comment.
fn atoms(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'/' => break,
            b if is_word(b) => {
                let start = i;
                while i < bytes.len() && is_word(bytes[i]) {
                    i += 1;
                }
                let word = &line[start..i];
                let callee = bytes.get(i) == Some(&b'(');
                let depth_step = word == "1" && line[..start].ends_with("depth - ");
                if !(KEYWORDS.contains(&word) || callee || depth_step) {
                    found.push((start, i));
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// `{` minus `}` on a line, outside string literals and comments.
fn net_braces(line: &str) -> i32 {
    let mut net = 0;
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') | (false, '"') => in_string = !in_string,
            (false, '/') if chars.peek() == Some(&'/') => break,
            (false, '{') => net += 1,
            (false, '}') => net -= 1,
            _ => {}
        }
    }
    net
}

/// The line that closes the block opened on line `open` (the first line
/// after which the braces opened there are balanced).
fn matching_close(lines: &[String], open: usize) -> Option<usize> {
    let mut depth = 1;
    for (i, line) in lines.iter().enumerate().skip(open + 1) {
        depth += net_braces(line);
        if depth <= 0 {
            return Some(i);
        }
    }
    None
}

/// The next parenthesized group at or after byte `from` that is not an
/// argument list (a `(` right after a name), as the byte positions of its
/// parentheses.
fn next_group(line: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return None,
            b'(' if !in_string && i >= from => {
                let after_name =
                    i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
                if !after_name {
                    if let Some(close) = matching_paren(bytes, i) {
                        return Some((i, close));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn matching_paren(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Binary operators as the generator writes them, longest first so that
/// `<<` is not read as `<`.
const OPERATORS: &[&str] = &[
    "||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "<", ">", "|", "^", "&", "+", "-", "*", "/",
    "%",
];

/// The operands of `A op B` or of a unary `-A`, `!A`, `~A` (the text
/// inside a group's parentheses). Masks like `E & 7` and `E % 4` keep
/// their operand: they bound loop trip counts and array lengths.
fn group_operands(inner: &str) -> Vec<String> {
    for prefix in ["-", "!", "~"] {
        if let Some(rest) = inner.strip_prefix(prefix) {
            return vec![rest.to_string()];
        }
    }
    let Some((at, op)) = top_level_operator(inner) else {
        return Vec::new();
    };
    let lhs = &inner[..at];
    let rhs = &inner[at + op.len() + 2..];
    let is_mask = matches!(op, "&" | "%") && rhs.trim().parse::<i64>().is_ok();
    if is_mask {
        return Vec::new();
    }
    vec![lhs.to_string(), rhs.to_string()]
}

/// The first ` op ` outside nested brackets, as (byte position of the
/// space before it, operator).
fn top_level_operator(inner: &str) -> Option<(usize, &'static str)> {
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b' ' if depth == 0 => {
                let rest = &inner[i + 1..];
                let op = OPERATORS
                    .iter()
                    .find(|op| rest.starts_with(*op) && rest[op.len()..].starts_with(' '));
                if let Some(op) = op {
                    return Some((i, op));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_are_counted_outside_strings_and_comments() {
        assert_eq!(net_braces("while w1 < 3 { w1 = w1 + 1;"), 1);
        assert_eq!(net_braces("} else {"), 0);
        assert_eq!(net_braces("print(\"{\"); // }"), 0);
        assert_eq!(net_braces("if c { break; }"), 0);
    }

    #[test]
    fn blocks_match_across_else() {
        let lines: Vec<String> = ["if a {", "x = 1;", "} else {", "x = 2;", "}", "y = 3;"]
            .map(String::from)
            .to_vec();
        assert_eq!(matching_close(&lines, 0), Some(4));
        assert_eq!(matching_close(&lines, 2), Some(4));
    }

    #[test]
    fn groups_skip_argument_lists() {
        let line = "let v = abs((x + 1)) * (y - 2);";
        let (open, close) = next_group(line, 0).unwrap();
        assert_eq!(&line[open..=close], "(x + 1)");
        let (open, close) = next_group(line, open + 1).unwrap();
        assert_eq!(&line[open..=close], "(y - 2)");
    }

    #[test]
    fn operands_split_at_the_top_level_only() {
        assert_eq!(
            group_operands("(a << 2) + f(b, (c - 1))"),
            ["(a << 2)", "f(b, (c - 1))"]
        );
        assert_eq!(group_operands("-x"), ["x"]);
        assert_eq!(
            group_operands("a[(i % len(a))] < 2.0"),
            ["a[(i % len(a))]", "2.0"]
        );
        assert!(group_operands("v & 7").is_empty());
        assert!(group_operands("v % 4").is_empty());
    }

    #[test]
    fn tiers_map_to_options() {
        assert_eq!(tier_args("baseline"), ["--tier=baseline"]);
        assert_eq!(tier_args("mixed:3"), ["--tier=mixed", "--mixed-seed=3"]);
    }
}
