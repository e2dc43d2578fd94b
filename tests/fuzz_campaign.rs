//! Long `tierjit fuzz` campaigns: a progress line with a rate, seed
//! ranges split across machines with `--shard`, and memory that does not
//! grow with `--count`.
//!
//! The tiers here are fake: shell scripts given as `--exe`, each a few
//! milliseconds a run, so that a campaign of a hundred programs takes a
//! second and the outcomes are known in advance. All of them are written
//! once, before any test starts a process (see [`fakes`]), so no child
//! inherits a script still open for writing ("text file busy"), into
//! cargo's scratch directory for integration tests.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tierjit::fuzz::gen::{generate, GenConfig};

/// The program `tierjit fuzz` first runs on each tier to probe it.
const PROBE: &str = "fn main() { print(1); }";

/// Each fake answers the probe correctly (prints 1), then does its own
/// thing on the generated programs, which are its last argument.
fn fake_script(body: &str) -> String {
    format!("#!/bin/sh\nfor f; do :; done\ncase \"$(cat \"$f\")\" in '{PROBE}') echo 1; exit 0;; esac\n{body}\n")
}

struct Fakes {
    dir: PathBuf,
    /// Every tier prints `1`: all programs agree.
    agree: PathBuf,
    /// Like `agree`, 50 ms a run.
    slow: PathBuf,
    /// Also copies each program to `$FAKE_LOG/`.
    logging: PathBuf,
    /// The tier `buggy` prints an extra line: every program fails.
    buggy: PathBuf,
    /// Every run prints 1 MiB, which differs between `interp` and the
    /// other tier: every program fails, each with 2 MiB of output.
    chatty: PathBuf,
}

fn fakes() -> &'static Fakes {
    static FAKES: OnceLock<Fakes> = OnceLock::new();
    FAKES.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-campaign");
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.join(name);
            std::fs::write(&path, fake_script(body)).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        Fakes {
            agree: write("agree", "echo 1"),
            slow: write("slow", "sleep 0.05; echo 1"),
            logging: write("logging", "cp \"$f\" \"$FAKE_LOG/\"; echo 1"),
            buggy: write("buggy", "[ \"$2\" = --tier=buggy ] && echo extra; echo 1"),
            chatty: write(
                "chatty",
                "[ \"$2\" = --tier=interp ] || echo x; exec head -c 1048576 /dev/zero",
            ),
            dir,
        }
    })
}

/// A fresh directory for one test, under the fakes' directory.
fn scratch(name: &str) -> PathBuf {
    let dir = fakes().dir.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `tierjit fuzz --exe FAKE ARGS`: (status, stdout, stderr).
fn fuzz(fake: &Path, args: &[&str]) -> (i32, String, String) {
    let fake = fake.to_str().expect("a UTF-8 temp path");
    common::run(&[&["fuzz", "--exe", fake], args].concat())
}

/// The programs per second in a progress line, e.g. `fuzz: 3/20
/// programs, 12.5 programs/s, 0 mismatches, 0s elapsed, ETA 1s`.
fn rate(line: &str) -> Option<f64> {
    let (before, _) = line.split_once(" programs/s")?;
    before.rsplit(' ').next()?.parse().ok()
}

#[test]
fn a_progress_line_gives_the_rate_at_each_interval_and_at_the_end() {
    let dir = scratch("progress");
    let out = dir.to_str().unwrap();
    // At least 20 * 50 ms / 2 jobs = 0.5 s: the 0.1 s interval passes
    // before the last program is done, however loaded the machine.
    let args = ["--count", "20", "--jobs", "2", "--progress-every", "0.1"];
    let (status, stdout, stderr) = fuzz(&fakes().slow, &[&args[..], &["--out", out]].concat());
    assert_eq!(status, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("programs/s"))
        .collect();
    assert!(
        lines.len() >= 2,
        "no progress line before the end:\n{stderr}"
    );
    for line in &lines {
        assert!(line.starts_with("fuzz: "), "{line}");
        assert!(line.contains(" elapsed, ETA "), "{line}");
        assert!(rate(line).is_some(), "{line}");
    }
    let last = lines.last().unwrap();
    assert!(last.starts_with("fuzz: 20/20 programs, "), "{stderr}");
    assert!(last.contains(", 0 mismatches, "), "{last}");
    assert!(last.ends_with("ETA 0s"), "{last}");
    assert!(rate(last).unwrap() > 0.0, "{last}");

    // `--progress-every 0`: no progress lines at all.
    let quiet = ["--count", "3", "--progress-every", "0", "--out", out];
    let (status, _, stderr) = fuzz(&fakes().agree, &quiet);
    assert_eq!(status, 0);
    assert!(!stderr.contains("programs/s"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The exact seeds a summary line says it covered: `(seeds A..=B, shard
/// K/N of seeds ...)` or `(no seeds, ...)`.
fn covered(summary: &str) -> Vec<u64> {
    let range = summary.split_once('(').unwrap().1;
    if range.starts_with("no seeds") {
        return Vec::new();
    }
    let range = range.strip_prefix("seeds ").unwrap();
    let range = range.split([',', ')']).next().unwrap();
    let (first, last) = range.split_once("..=").unwrap();
    (first.parse().unwrap()..=last.parse().unwrap()).collect()
}

/// Three machines given one range and shards 1/3, 2/3, 3/3 run each seed's
/// program exactly once between them, and each summary names its seeds.
#[test]
fn shards_are_disjoint_and_cover_the_range() {
    let dir = scratch("shards");
    let (first, count) = (7000u64, 10u64);
    let mut ran_by_shard = Vec::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let log = dir.join(shard.replace('/', "-of-"));
        std::fs::create_dir_all(&log).unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_tierjit"))
            .env("TIERJIT_CODE_CACHE", "off")
            .args(["fuzz", "--seed", &first.to_string()])
            .args(["--count", &count.to_string()])
            .args(["--shard", shard, "--tiers", "interp", "--jobs", "2"])
            .arg("--exe")
            .arg(&fakes().logging)
            .arg("--out")
            .arg(dir.join("out"))
            .env("FAKE_LOG", &log)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert_eq!(run.status.code(), Some(0), "{stdout}");
        let whole = format!("shard {shard} of seeds {first}..={})", first + count - 1);
        assert!(stdout.lines().next().unwrap().contains(&whole), "{stdout}");
        let programs: BTreeSet<String> = std::fs::read_dir(&log)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .filter(|p| p.trim_end() != PROBE)
            .collect();
        let seeds = covered(&stdout);
        let expected: BTreeSet<String> = seeds
            .iter()
            .map(|&s| generate(s, &GenConfig::default()))
            .collect();
        assert_eq!(
            programs, expected,
            "shard {shard} ran other seeds than {seeds:?}"
        );
        ran_by_shard.push(seeds);
    }
    let all: Vec<u64> = ran_by_shard.concat();
    assert_eq!(
        all,
        (first..first + count).collect::<Vec<_>>(),
        "{ran_by_shard:?}"
    );
    assert!(ran_by_shard.iter().all(|s| s.len() == 3 || s.len() == 4));

    // More machines than seeds: some shards are empty, and say so.
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    let tiny: Vec<&str> = "--seed 5 --count 2 --shard 1/3 --out"
        .split(' ')
        .chain([out])
        .collect();
    let (status, stdout, _) = fuzz(&fakes().agree, &tiny);
    assert_eq!(status, 0);
    let empty = "fuzz: 0 programs (no seeds, shard 1/3 of seeds 5..=6)";
    assert!(stdout.starts_with(empty), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A failure found in a shard names its own seed, and the command it
/// gives reproduces the same saved file.
#[test]
fn a_failure_in_a_shard_is_reproduced_by_its_seed_alone() {
    let dir = scratch("reproduce");
    let (first_out, again_out) = (dir.join("campaign"), dir.join("again"));
    let options = |more: &str, out: &Path| -> Vec<String> {
        let common = "--tiers interp,buggy --max-minimize 0 --out";
        let words = format!("{more} {common}");
        let words = words.split(' ').map(String::from);
        words.chain([out.display().to_string()]).collect()
    };
    let campaign = options("--seed 900 --count 4 --shard 2/2", &first_out);
    let (status, stdout, stderr) = fuzz(&fakes().buggy, &strs(&campaign));
    assert_eq!(status, 1, "{stdout}{stderr}");
    let summary = "fuzz: 2 programs (seeds 902..=903, shard 2/2 of seeds 900..=903)";
    assert!(stdout.starts_with(summary), "{stdout}");
    let path = first_out.join("seed-903.tj");
    let note = format!(
        "fuzz: seed 903: interp, buggy differ in stdout; saved {}",
        path.display()
    );
    assert!(stderr.contains(&note), "{stderr}");
    let saved = std::fs::read_to_string(&path).unwrap();
    let reproduce = "// reproduce: tierjit fuzz --seed 903 --count 1 --tiers interp,buggy";
    assert_eq!(saved.lines().nth(1), Some(reproduce));

    let one_seed = options("--seed 903 --count 1", &again_out);
    let (status, stdout, _) = fuzz(&fakes().buggy, &strs(&one_seed));
    assert_eq!(status, 1, "{stdout}");
    let again = std::fs::read_to_string(again_out.join("seed-903.tj")).unwrap();
    assert_eq!(again, saved);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn strs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

/// Runs `tierjit fuzz ARGS` and gives its exit status and peak resident
/// memory in KiB (`wait4`'s `ru_maxrss`, the child's own).
#[allow(clippy::zombie_processes)] // reaped by `wait4`, which std cannot do
fn fuzz_peak_rss(fake: &Path, args: &[&str]) -> (i32, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .arg("fuzz")
        .arg("--exe")
        .arg(fake)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tierjit runs");
    common::wait_with_peak_rss(&child)
}

/// 120 failing programs with 2 MiB of output each: kept until the end,
/// they would take 240 MiB; the driver must keep only counts, the
/// failures it will minimize, and the runs in flight.
#[test]
fn memory_stays_bounded_however_many_programs_fail() {
    let out = scratch("memory");
    let options = "--count 120 --tiers interp,other --jobs 2 --max-minimize 0";
    let args: Vec<&str> = options
        .split(' ')
        .chain(["--out", out.to_str().unwrap()])
        .collect();
    let (status, peak_kib) = fuzz_peak_rss(&fakes().chatty, &args);
    assert_eq!(status, 1);
    let saved = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(saved, 120, "every failure is saved");
    std::fs::remove_dir_all(&out).unwrap();
    assert!(peak_kib < 80 << 10, "peak RSS {peak_kib} KiB");
}

#[test]
fn a_stop_signal_ends_a_campaign_with_its_summary_and_where_to_go_on() {
    let out = std::env::temp_dir().join(format!("tierjit-fuzz-stop-{}", std::process::id()));
    let child = common::command(&[
        "fuzz",
        "--seed",
        "100",
        "--count",
        "1000000",
        "--tiers",
        "interp,baseline",
        "--progress-every",
        "0",
        "--out",
        out.to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let (status, stdout, stderr) = common::outcome(&child.wait_with_output().unwrap());
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(status, 143, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    // fuzz: N programs (seeds ...) on interp,baseline: 0 mismatches; ...
    let checked: u64 = lines[0]
        .strip_prefix("fuzz: ")
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(checked > 0 && checked < 1_000_000, "{stdout}");
    assert!(lines[0].contains(": 0 mismatches;"), "{stdout}");
    // fuzz: stopped by signal 15: the first P programs were all checked;
    // to go on: --seed 100+P --count 1000000-P. The summary may count a
    // few more (finished out of order, past one the signal cut short).
    let prefix: u64 = lines[1]
        .strip_prefix("fuzz: stopped by signal 15: the first ")
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(prefix <= checked && checked <= prefix + 64, "{stdout}");
    assert!(
        lines[1].ends_with(&format!(
            "programs were all checked; to go on: --seed {} --count {}",
            100 + prefix,
            1_000_000 - prefix
        )),
        "{stdout}"
    );
}
