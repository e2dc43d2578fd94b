//! `tierjit disasm`: the listing a person reads, end to end through the
//! command (the byte-coverage property is a unit test in `src/disasm.rs`).

use std::process::{Command, Output};

fn tierjit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .env("TIERJIT_CODE_CACHE", "off")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tierjit runs")
}

fn stdout_of(args: &[&str]) -> String {
    let output = tierjit(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8(output.stdout).expect("utf-8 listing")
}

#[test]
fn lists_every_function_with_source_bytecode_and_machine_code() {
    let listing = stdout_of(&["disasm", "examples/fib.tj"]);
    for header in ["fn fib(int) -> int", "fn main()"] {
        assert!(listing.contains(header), "no `{header}` in:\n{listing}");
    }
    for needle in [
        "; line 5: return fib(n - 1) + fib(n - 2);",
        "add.i",
        "ret",
        "call qword ptr",
        "; prologue",
        "; out-of-line code",
    ] {
        assert!(listing.contains(needle), "no `{needle}` in:\n{listing}");
    }
}

#[test]
fn fn_flag_lists_only_that_function() {
    let listing = stdout_of(&["disasm", "examples/fib.tj", "--fn", "fib"]);
    let headers: Vec<&str> = listing.lines().filter(|l| l.starts_with("fn ")).collect();
    assert_eq!(headers.len(), 1, "{listing}");
    assert!(headers[0].starts_with("fn fib(int) -> int"), "{listing}");
    assert!(
        !listing.contains("print"),
        "main's code leaked in:\n{listing}"
    );
}

#[test]
fn unknown_function_is_an_error() {
    let output = tierjit(&["disasm", "examples/fib.tj", "--fn", "fibonacci"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no function named `fibonacci`"), "{stderr}");
}

#[test]
fn optimized_code_names_each_direct_call_and_keeps_it_patchable() {
    let listing = stdout_of(&["disasm", "--tier", "opt", "examples/fib.tj", "--fn", "fib"]);
    let calls: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains("; fib, direct: patched to its code when placed"))
        .collect();
    assert!(!calls.is_empty(), "no direct call named in:\n{listing}");
    for line in calls {
        // `OFFSET  e8 00 00 00 00  call ...`: the rel32 is written when
        // the code is placed, and 4-byte aligned so one store patches it.
        let mut fields = line.split_whitespace();
        let offset = usize::from_str_radix(fields.next().unwrap(), 16).unwrap();
        assert_eq!(fields.next(), Some("e8"), "{line}");
        assert_eq!((offset + 1) % 4, 0, "displacement not aligned: {line}");
    }
    // No method-table load for the calls: only helpers go through tables.
    assert!(!listing.contains("call qword ptr [rax+rdx*8]"), "{listing}");
}
