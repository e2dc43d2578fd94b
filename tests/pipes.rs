//! `tierjit run` whose stdout's reader goes away (`| head -1`): the
//! program stops as SIGPIPE would have stopped it, in every tier, with
//! status 141 and nothing on stderr; and the commands that print a lot
//! (`report`, `dump`, `disasm`) end quietly too.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs `tierjit ARGS` with stdout piped, reads one line, closes the pipe
/// and gives the exit status and stderr (failing after 20 s).
fn closed_after_one_line(args: &[&str]) -> (Option<i32>, String) {
    let mut child = common::command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tierjit runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line");
    assert!(!line.is_empty(), "{args:?}: nothing printed");
    drop(stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?}: still running 20 s after its stdout closed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr");
    (status.code(), stderr)
}

#[test]
fn a_program_printing_forever_ends_when_its_reader_goes_away() {
    for tier in ["interp", "baseline", "opt", "auto"] {
        let (code, stderr) =
            closed_after_one_line(&["run", "--tier", tier, "tests/pipes/printer.tj"]);
        assert_eq!(code, Some(141), "{tier}: {stderr}");
        assert_eq!(stderr, "", "{tier}");
    }
}

#[test]
fn commands_that_print_a_lot_end_quietly() {
    for args in [
        &["disasm", "--tier", "opt", "benches/tj/fannkuch.tj"][..],
        &[
            "dump",
            "--ssa",
            "--after",
            "all",
            "--fn",
            "fannkuch",
            "benches/tj/fannkuch.tj",
        ],
    ] {
        let (code, stderr) = closed_after_one_line(args);
        assert!(matches!(code, Some(0 | 141)), "{args:?}: {code:?} {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
