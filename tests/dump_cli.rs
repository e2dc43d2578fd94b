//! `tierjit dump`: the bytecode as before, and with `--ssa` the
//! optimizer's IR as built, after a named pass or after every pass; stage
//! names come from the optimizer's table and a wrong one is a usage error.

mod common;

use tierjit::tiers::opt;

/// The `; NAME after STAGE` header lines of a dump.
fn headers(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("; ")).collect()
}

#[test]
fn bytecode_dump_is_unchanged() {
    let (status, stdout, stderr) = common::run(&["dump", "examples/fib.tj"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert!(stdout.contains("fn fib(int) -> int"), "{stdout}");
    assert!(stdout.contains("fn main()"), "{stdout}");
    let (status, only, _) = common::run(&["dump", "--fn", "fib", "examples/fib.tj"]);
    assert_eq!(status, 0);
    assert!(only.contains("fn fib(int) -> int") && !only.contains("fn main()"));
}

#[test]
fn ssa_as_built_parses_and_verifies() {
    let (status, stdout, stderr) = common::run(&["dump", "--ssa", "examples/fib.tj"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert_eq!(
        headers(&stdout),
        ["; fib after build", "; main after build"]
    );
    for text in stdout.split("\n\n").filter(|t| !t.trim().is_empty()) {
        let f = opt::ir::parse::parse_func(text).expect("a dump parses back");
        opt::ir::verify::verify(&f).expect("and verifies");
        let ir = text.split_once('\n').unwrap().1;
        assert_eq!(ir.trim_end(), opt::ir::print::func_to_string(&f).trim_end());
    }
}

#[test]
fn ssa_after_inline_shows_the_inlined_frames() {
    let (status, stdout, _) = common::run(&[
        "dump",
        "--ssa",
        "--after",
        "inline",
        "--fn",
        "fib",
        "examples/fib.tj",
    ]);
    assert_eq!(status, 0);
    assert_eq!(headers(&stdout), ["; fib after inline"]);
    assert!(stdout.contains("inline 1 = f0 parent 0"), "{stdout}");
    assert!(stdout.contains("frame_check 1"), "{stdout}");
}

#[test]
fn ssa_after_all_prints_every_ir_stage_that_runs() {
    let (status, stdout, _) = common::run(&[
        "dump",
        "--ssa",
        "--after",
        "all",
        "--fn",
        "fib",
        "examples/fib.tj",
    ]);
    assert_eq!(status, 0);
    let mut want = vec!["; fib after build".to_string()];
    want.extend(
        opt::PASSES
            .iter()
            .map(|p| format!("; fib after {}", p.name)),
    );
    assert_eq!(headers(&stdout), want);

    let (status, stdout, _) = common::run(&[
        "dump",
        "--ssa",
        "--after",
        "all",
        "--passes",
        "fold,dce",
        "--fn",
        "fib",
        "examples/fib.tj",
    ]);
    assert_eq!(status, 0);
    assert_eq!(
        headers(&stdout),
        ["; fib after build", "; fib after fold", "; fib after dce"]
    );
}

#[test]
fn bad_stage_names_are_usage_errors_listing_the_stages() {
    let (status, stdout, stderr) =
        common::run(&["dump", "--ssa", "--after", "bogus", "examples/fib.tj"]);
    assert_eq!((status, stdout.as_str()), (64, ""));
    for pass in opt::PASSES {
        assert!(stderr.contains(pass.name), "{stderr}");
    }
    let (status, _, stderr) =
        common::run(&["dump", "--ssa", "--after", "regalloc", "examples/fib.tj"]);
    assert_eq!(status, 64);
    assert!(stderr.contains("makes no IR"), "{stderr}");
    let (status, _, stderr) =
        common::run(&["dump", "--ssa", "--passes", "fold,nope", "examples/fib.tj"]);
    assert_eq!(status, 64);
    assert!(stderr.contains("`nope`"), "{stderr}");
    let (status, _, _) = common::run(&["dump", "--after", "fold", "examples/fib.tj"]);
    assert_eq!(status, 64, "--after needs --ssa");
    let (status, _, stderr) = common::run(&["dump", "--ssa", "--fn", "nope", "examples/fib.tj"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("no function named `nope`"), "{stderr}");
}
