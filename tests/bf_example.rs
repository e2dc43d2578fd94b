//! The `bf` example host (examples/bf.rs), run as a program in every
//! tier: exact output of the programs in benches/bf/ and of small programs
//! for each idiom the lowering recognises (checked against a naive
//! interpreter here), input with and without stdin, output flushed before
//! a read, and the errors: unbalanced brackets and a pointer off the tape
//! are messages with a position and a non-zero status, never a panic.
//!
//! The example is built by the test itself (`cargo build --example bf`,
//! into the target directory and profile the test was built in).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const TIERS: [&str; 4] = ["interp", "baseline", "opt", "auto"];

/// The example's binary, built on first use.
fn bf_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // This test runs from TARGET/PROFILE/deps/.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--offline", "--example", "bf"])
            .env("CARGO_TARGET_DIR", target_dir);
        if profile != "debug" {
            build.args(["--profile", profile]);
        }
        let out = build.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo build --example bf failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir.join("examples").join("bf")
    })
}

/// What one run of the example did.
#[derive(Debug)]
struct Run {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `bf ARGS`, with `stdin` as its input (`None`: no stdin at all).
fn bf(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(bf_binary())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        status: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{args:?}: {run:?}");
    run
}

/// Writes `program` to a file of its own; gives its path.
fn program_file(name: &str, program: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bf-example");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.b"));
    std::fs::write(&path, program).unwrap();
    path.to_str().unwrap().to_string()
}

/// The plainest bf interpreter: the reference the example is checked
/// against (30,000 wrapping cells, 0 at end of input).
fn reference(program: &[u8], input: &[u8]) -> Vec<u8> {
    let code: Vec<u8> = program
        .iter()
        .copied()
        .filter(|c| b"+-<>[].,".contains(c))
        .collect();
    let mut partner = vec![0; code.len()];
    let mut open = Vec::new();
    for (i, &c) in code.iter().enumerate() {
        if c == b'[' {
            open.push(i);
        } else if c == b']' {
            let o = open.pop().unwrap();
            (partner[o], partner[i]) = (i, o);
        }
    }
    let (mut tape, mut p, mut pc, mut out) = (vec![0u8; 30_000], 0, 0, Vec::new());
    let mut input = input.iter();
    while pc < code.len() {
        match code[pc] {
            b'+' => tape[p] = tape[p].wrapping_add(1),
            b'-' => tape[p] = tape[p].wrapping_sub(1),
            b'>' => p += 1,
            b'<' => p -= 1,
            b'.' => out.push(tape[p]),
            b',' => tape[p] = input.next().copied().unwrap_or(0),
            b'[' if tape[p] == 0 => pc = partner[pc],
            b']' if tape[p] != 0 => pc = partner[pc],
            _ => {}
        }
        pc += 1;
    }
    out
}

#[test]
fn hello_world_in_every_tier() {
    for tier in TIERS {
        let run = bf(&["--tier", tier, "benches/bf/hello.b"], None);
        assert_eq!(run.status, Some(0), "{tier}: {run:?}");
        assert_eq!(run.stdout, b"Hello, World!\n", "{tier}");
        assert_eq!(run.stderr, "", "{tier}");
    }
}

#[test]
fn input_with_and_without_stdin_in_every_tier() {
    let cases: [(Option<&[u8]>, &[u8]); 3] = [
        (Some(b"stressed\nabc"), b"cba\ndesserts"),
        (Some(b""), b""),
        (None, b""),
    ];
    for tier in TIERS {
        for (stdin, expected) in cases {
            let run = bf(&["--tier", tier, "benches/bf/rev.b"], stdin);
            assert_eq!(run.status, Some(0), "{tier}, {stdin:?}: {run:?}");
            assert_eq!(run.stdout, expected, "{tier}, {stdin:?}");
        }
    }
}

/// Programs for each idiom of the lowering, and loops around them.
const IDIOMS: [(&str, &str); 10] = [
    ("wrap", "-.+.+++[-]-."),
    ("runs_cancel", "+-+- >< comment +++ >< .-- ++ .---."),
    ("clears", "+++++[-].+++[+].++++[--].+++[---]."),
    ("multiply_down", "+++++[>+++++++++<-]>.[-<+>>+++<]<.>>."),
    ("multiply_up", ">-[<+++>+]<.>>++++++++++[<++++++++++>+]<."),
    ("multiply_factor_255", ">+++++[<-->-]<.>++++[<->-]<."),
    ("multiply_factor_0", ">+++++[>+<<+>>-<-]<.>>."),
    ("nested", "++++[>++++[>+++<-]>.<<-]>>."),
    ("scan", ">+>+>+>+[<]>.>>>>>>>>+[<]>."),
    (
        "input_in_loops",
        ">,[.>,]<[+.<]++++[>,.<-]>[-]-------[>,.<+]",
    ),
];

#[test]
fn each_idiom_matches_a_naive_interpreter_in_every_tier() {
    let input = b"tierjit bf";
    for (name, program) in IDIOMS {
        let path = program_file(name, program);
        let expected = reference(program.as_bytes(), input);
        for tier in TIERS {
            let run = bf(&["--tier", tier, &path], Some(input));
            assert_eq!(run.status, Some(0), "{name} in {tier}: {run:?}");
            assert_eq!(run.stdout, expected, "{name} in {tier}");
        }
    }
}

/// The loop-heavy benchmark gives, each of its 8 rounds, a line of the
/// primes below 256 (with a space after each).
#[test]
fn the_primes_benchmark_in_the_compiled_tiers() {
    let primes: String = (2..256u32)
        .filter(|&n| (2..n).all(|d| n % d != 0))
        .map(|n| format!("{n} "))
        .collect();
    let expected = format!("{primes}\n").repeat(8);
    for tier in ["baseline", "opt", "auto"] {
        let run = bf(&["--tier", tier, "benches/bf/primes.b"], None);
        assert_eq!(run.status, Some(0), "{tier}: {run:?}");
        assert_eq!(String::from_utf8_lossy(&run.stdout), expected, "{tier}");
    }
}

#[test]
fn output_is_flushed_before_each_read() {
    // Writes 'F', reads a byte, writes it back.
    let path = program_file("prompt", "+++++++[>++++++++++<-]>.,.");
    let mut child = Command::new(bf_binary())
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut prompt = [0u8];
        let got = stdout.read_exact(&mut prompt).map(|()| prompt[0]);
        let _ = sender.send(got.ok());
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest);
        let _ = sender.send(rest.first().copied());
    });
    // The prompt comes while the program waits for input.
    let prompt = receiver.recv_timeout(Duration::from_secs(60));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"y").unwrap();
    drop(stdin);
    assert_eq!(prompt, Ok(Some(b'F')), "no prompt before the read");
    assert_eq!(receiver.recv().unwrap(), Some(b'y'));
    assert!(child.wait().unwrap().success());
}

#[test]
fn unbalanced_brackets_are_an_error_with_the_position() {
    let cases = [
        ("open", "+\n+[[]", "2:2: error: unmatched '['"),
        ("close", "[]+]", "1:4: error: unmatched ']'"),
    ];
    for (name, program, message) in cases {
        let path = program_file(name, program);
        let run = bf(&[&path], None);
        assert_eq!(run.status, Some(1), "{run:?}");
        assert_eq!(run.stdout, b"");
        assert_eq!(run.stderr, format!("bf: {path}:{message}\n"));
    }
}

#[test]
fn a_pointer_off_the_tape_is_a_runtime_error_in_every_tier() {
    // Each writes '!' first, which must come out before the error.
    let bang = "+++++++++++++++++++++++++++++++++.";
    let cases = [
        ("underflow", format!("{bang}\n<<+"), "2:3"),
        (
            "underflow_in_a_multiply_loop",
            format!("{bang}[-<+>]"),
            "1:35",
        ),
        ("overflow", format!("{bang}[>+]"), "1:37"),
    ];
    for (name, program, position) in &cases {
        let path = program_file(name, program);
        for tier in TIERS {
            let run = bf(&["--tier", tier, &path], None);
            assert_eq!(run.status, Some(2), "{name} in {tier}: {run:?}");
            assert_eq!(run.stdout, b"!", "{name} in {tier}");
            assert_eq!(
                run.stderr,
                format!(
                    "bf: {path}:{position}: runtime error: index out of bounds \
                     (the pointer is off the tape)\n"
                ),
                "{name} in {tier}"
            );
        }
    }
}

#[test]
fn trace_tiers_shows_the_compiles() {
    let run = bf(
        &["--tier", "opt", "--trace-tiers", "benches/bf/hello.b"],
        None,
    );
    assert_eq!(run.stdout, b"Hello, World!\n");
    assert!(run.stderr.contains("main: interp -> opt"), "{}", run.stderr);
    // Auto: the primes' loops go to optimized code while they run.
    let run = bf(&["--trace-tiers", "benches/bf/primes.b"], None);
    assert_eq!(run.status, Some(0));
    assert!(run.stderr.contains("-> opt"), "{}", run.stderr);
}

/// `--dump` prints the bytecode: clears and multiply loops are straight
/// code, and a loop with loops inside is a function of its own.
#[test]
fn the_lowering_as_dumped() {
    let path = program_file("idioms", "+[-]>+++[->++<]");
    let run = bf(&["--dump", &path], None);
    assert_eq!(run.status, Some(0), "{run:?}");
    let dump = String::from_utf8(run.stdout).unwrap();
    assert!(!dump.contains("jnei.i"), "a backward branch:\n{dump}");
    assert!(dump.contains("mul.i"), "{dump}");
    let path = program_file("nest", "+[>+[>+.<-]<-]");
    let dump = String::from_utf8(bf(&["--dump", &path], None).stdout).unwrap();
    assert!(dump.contains("call       r1, loop_1_2, r9"), "{dump}");
    assert!(dump.contains("fn loop_1_2([int], int) -> int"), "{dump}");
    assert!(dump.contains("addi.i     r3, r3, -1"), "{dump}");
}

#[test]
fn a_bad_command_line_is_status_64() {
    for args in [
        &["--tier", "fast", "x.b"][..],
        &[],
        &["--frobnicate", "x.b"],
    ] {
        let run = bf(args, None);
        assert_eq!(run.status, Some(64), "{args:?}: {run:?}");
        assert!(run.stderr.contains("usage: bf"), "{}", run.stderr);
    }
    let run = bf(&["--help"], None);
    assert_eq!(run.status, Some(0));
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("usage: bf"));
}
