//! Failures writing what a run writes beside its output (the profile, the
//! perf map, the jitdump) are one warning line each, naming the file and
//! the OS error; the program's stdout and exit status do not change. The
//! files are tried in a missing directory, under a regular file (ENOTDIR),
//! in a read-only directory (skipped as root, whom modes do not stop), on
//! a full disk (`/dev/full`), past the file size limit, and, for the perf
//! outputs, with the disk filling up mid-run (a test-only option).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const TIERJIT: &str = env!("CARGO_BIN_EXE_tierjit");
const PROGRAM: &str = "tests/outputs/exits_7.tj";
/// What PROGRAM prints; it exits with 7.
const STDOUT: &str = "46368\n";

/// A finished run.
struct Run {
    pid: u32,
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Runs `tierjit run ARGS PROGRAM` after the shell command `setup`, in
    /// which `$$` is tierjit's process id (the shell `exec`s tierjit).
    fn after(setup: &str, args: &[&str]) -> Run {
        Run::of(
            Command::new("sh")
                .arg("-c")
                .arg(format!("{setup}\nexec \"$0\" \"$@\""))
                .arg(TIERJIT)
                .arg("run")
                .args(args)
                .arg(PROGRAM),
        )
    }

    /// Runs `tierjit run ARGS PROGRAM`.
    fn new(args: &[&str]) -> Run {
        Run::after(":", args)
    }

    fn of(command: &mut Command) -> Run {
        let child = command
            .env("TIERJIT_CODE_CACHE", "off")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("tierjit runs");
        let pid = child.id();
        let out = child.wait_with_output().expect("tierjit ends");
        Run {
            pid,
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts that the program ran as always and that stderr is one
    /// warning about `file` with `error` (an OS error's text).
    fn assert_one_warning(&self, file: &Path, error: &str) {
        let what = format!("{} ({error})", file.display());
        assert_eq!(
            (self.status, self.stdout.as_str()),
            (Some(7), STDOUT),
            "{what}: {}",
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: {}", self.stderr);
        assert!(
            lines[0].starts_with("tierjit: warning: cannot ")
                && lines[0].contains(&file.display().to_string())
                && lines[0].contains(error),
            "{what}: {}",
            self.stderr
        );
    }
}

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tierjit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A regular file in the directory: a path under it gives ENOTDIR.
    fn file(&self) -> PathBuf {
        let file = self.0.join("a-file");
        std::fs::write(&file, "").unwrap();
        file
    }

    /// A read-only subdirectory, or `None` (with a message) where modes
    /// do not stop this user from writing (root).
    fn read_only(&self) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.0.join("read-only");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::write(dir.join("probe"), "").is_ok() {
            eprintln!("skipped: the read-only directory case (this user writes into mode 0555 directories)");
            return None;
        }
        Some(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let read_only = self.0.join("read-only");
        let _ = std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const MISSING: &str = "No such file or directory (os error 2)";
const NOT_A_DIRECTORY: &str = "Not a directory (os error 20)";
const READ_ONLY: &str = "Permission denied (os error 13)";
const FULL: &str = "No space left on device (os error 28)";

#[test]
fn a_profile_that_cannot_be_written_is_a_warning() {
    let dir = TempDir::new("profile");
    let mut cases = vec![
        (dir.0.join("missing/p.tjprof"), MISSING),
        (dir.file().join("p.tjprof"), NOT_A_DIRECTORY),
        (PathBuf::from("/dev/full"), FULL),
    ];
    if let Some(read_only) = dir.read_only() {
        cases.push((read_only.join("p.tjprof"), READ_ONLY));
    }
    for (path, error) in cases {
        let path_arg = path.to_str().unwrap();
        Run::new(&["--tier", "interp", "--profile", path_arg]).assert_one_warning(&path, error);
    }
}

#[test]
fn a_profile_past_the_file_size_limit_is_a_warning_not_sigxfsz() {
    // `ulimit -f`: past it a write raises SIGXFSZ, whose default action
    // ends the process; the command ignores it, so the write fails with
    // EFBIG instead. (Interpreted: code memory is a memfd, which the limit
    // also stops growing.)
    let dir = TempDir::new("fsize");
    let path = dir.0.join("p.tjprof");
    let mut command = Command::new(TIERJIT);
    command.env("TIERJIT_CODE_CACHE", "off");
    command.args([
        "run",
        "--tier",
        "interp",
        "--profile",
        path.to_str().unwrap(),
        PROGRAM,
    ]);
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the
    // parent's.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 16,
                rlim_max: 16,
            };
            match libc::setrlimit(libc::RLIMIT_FSIZE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    Run::of(&mut command).assert_one_warning(&path, "File too large (os error 27)");
}

#[test]
fn a_jitdump_that_cannot_be_created_is_a_warning() {
    let dir = TempDir::new("jitdump");
    let mut cases = vec![
        (dir.0.join("missing"), MISSING),
        (dir.file(), NOT_A_DIRECTORY),
    ];
    if let Some(read_only) = dir.read_only() {
        cases.push((read_only, READ_ONLY));
    }
    for (jitdump_dir, error) in cases {
        let dir_arg = jitdump_dir.to_str().unwrap();
        let run = Run::new(&["--tier", "baseline", "--jitdump", "--jitdump-dir", dir_arg]);
        run.assert_one_warning(&jitdump_dir.join(format!("jit-{}.dump", run.pid)), error);
    }
    // A full disk: the header is the first write.
    let full = dir.0.join("full");
    std::fs::create_dir_all(&full).unwrap();
    let run = Run::after(
        &format!("ln -s /dev/full '{}'/jit-$$.dump", full.display()),
        &[
            "--tier",
            "baseline",
            "--jitdump",
            "--jitdump-dir",
            full.to_str().unwrap(),
        ],
    );
    run.assert_one_warning(&full.join(format!("jit-{}.dump", run.pid)), FULL);
}

/// `/tmp/perf-PID.map`, removed when dropped.
struct PerfMapPath(PathBuf);

impl Drop for PerfMapPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_perf_map_that_cannot_be_created_is_a_warning() {
    // perf reads only /tmp/perf-PID.map, so the test puts something in
    // the way at that path before tierjit starts: a directory, or a link
    // into a missing directory. (Not a link to /dev/full: a test that
    // scans /tmp for perf maps, run meanwhile, would read it forever. The
    // next test fills the disk under the perf map.)
    for (setup, error) in [
        ("mkdir /tmp/perf-$$.map", "Is a directory (os error 21)"),
        (
            "ln -s /tierjit-test-missing-dir/perf.map /tmp/perf-$$.map",
            MISSING,
        ),
    ] {
        let run = Run::after(setup, &["--tier", "baseline", "--perf-map"]);
        let path = PerfMapPath(PathBuf::from(format!("/tmp/perf-{}.map", run.pid)));
        run.assert_one_warning(&path.0, error);
    }
}

#[test]
fn a_disk_that_fills_up_mid_run_stops_the_perf_outputs_with_a_warning_each() {
    // The test-only option fails every write after the first entry as a
    // full disk would: the second function's entry goes nowhere.
    let dir = TempDir::new("fills-up");
    let run = Run::new(&[
        "--tier",
        "baseline",
        "--perf-map",
        "--jitdump",
        "--jitdump-dir",
        dir.0.to_str().unwrap(),
        "--inject-fault",
        "perf-write:1",
    ]);
    let map = PerfMapPath(PathBuf::from(format!("/tmp/perf-{}.map", run.pid)));
    let jitdump = dir.0.join(format!("jit-{}.dump", run.pid));
    assert_eq!(
        (run.status, run.stdout.as_str()),
        (Some(7), STDOUT),
        "{}",
        run.stderr
    );
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{}", run.stderr);
    for (warning, path) in warnings.iter().zip([&map.0, &jitdump]) {
        assert!(
            warning.starts_with("tierjit: warning: cannot write ")
                && warning.contains(&path.display().to_string())
                && warning.contains(FULL),
            "{}",
            run.stderr
        );
    }
    // What was written before stays: one entry each.
    let entries = std::fs::read_to_string(&map.0).unwrap();
    assert_eq!(entries.lines().count(), 1, "{entries}");
    assert!(std::fs::metadata(&jitdump).unwrap().len() > 40);
}

#[test]
fn a_flame_graph_that_cannot_be_written_is_one_error_line() {
    // `tierjit report --flamegraph` exists to write that file: failing to
    // is its error (exit 1), but a clean one.
    let dir = TempDir::new("flamegraph");
    let profile = dir.0.join("p.tjprof");
    // A run long enough to be sampled on a loaded machine (PROGRAM's few
    // milliseconds may give no sample, and a profile without samples has
    // no flame graph to write).
    let run = Command::new(TIERJIT)
        .env("TIERJIT_CODE_CACHE", "off")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--tier", "interp", "--profile"])
        .arg(&profile)
        .args(["benches/tj/fib.tj", "30"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let out = Command::new(TIERJIT)
        .env("TIERJIT_CODE_CACHE", "off")
        .args([
            "report",
            profile.to_str().unwrap(),
            "--flamegraph",
            "/dev/full",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, format!("error: cannot write /dev/full: {FULL}\n"),);
}

#[test]
fn an_embedder_gets_the_warnings_and_a_vm_that_runs() {
    use std::sync::{Arc, Mutex};
    use tierjit::runtime::{warnings::Warnings, TierMode, Vm, VmOptions};
    let dir = TempDir::new("embedder");
    let missing = dir.0.join("missing");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = VmOptions {
        tier: TierMode::Baseline,
        line_buffered: Some(false),
        jitdump_dir: Some(missing.clone()),
        warnings: Warnings::new({
            let seen = seen.clone();
            move |message| seen.lock().unwrap().push(message.to_string())
        }),
        ..VmOptions::default()
    };
    let source = "fn main() -> int { return 7; }";
    let module = tierjit::lang::compile(source.as_bytes()).expect("compiles");
    let vm = Vm::new(module, options).expect("a missing jitdump directory is no error");
    assert_eq!(vm.run_main().map_err(|_| "runtime error"), Ok(Some(7)));
    vm.shutdown();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains(&missing.display().to_string()), "{seen:?}");
}

#[test]
fn output_that_cannot_be_written_is_said_and_is_no_success() {
    // stdout on a full disk: the program runs to its end, the loss is one
    // warning, and a status of 0 becomes 1 (a script must not take the
    // cut-off output for the whole); any other status stays.
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for (program, status) in [("tests/outputs/exits_7.tj", 7), ("examples/fib.tj", 1)] {
        let out = Command::new(env!("CARGO_BIN_EXE_tierjit"))
            .env("TIERJIT_CODE_CACHE", "off")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", program])
            .stdout(full())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{program}: {stderr}");
        assert_eq!(
            stderr,
            "tierjit: warning: cannot write the program's output: No space left on device \
             (os error 28); the rest of it was lost\n",
            "{program}"
        );
    }
}
