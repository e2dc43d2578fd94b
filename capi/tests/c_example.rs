//! capi/examples/host.c, built by a C compiler against libtierjit.a and
//! against libtierjit.so, runs and prints exactly what it should: the
//! C API seen from C, with the header as it is committed.
//!
//! cargo does not build a package's static or shared library for its
//! integration tests (only an rlib would be), so the test builds them with
//! `cargo build -p tierjit-capi --lib --tests`, in the same target
//! directory and profile. `--tests` turns on the dev-dependencies, as
//! `cargo test` does, so that features unify the same way and the runtime
//! built for the tests is reused (without it, cbindgen's dependencies
//! change the features of `bitflags`, which rebuilds `nix` and everything
//! above it). Without a C compiler (`$CC`, else `cc`) the test says so and
//! passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What host.c prints.
const EXPECTED: &str = "\
sum_to(100) = 5050; add saw 100 calls summing to 5050
score(21.0, true) = 42.0
score(i, i is even) for i in 1..1000 adds up to 751000.0
hello from tj
7
average(10, 0) failed with status 6:
runtime error: division by zero
  at ratio (host.tj:10)
  at average (host.tj:12)
refund(5) failed with status 6:
runtime error: host function 'add': -5 is negative
  at refund (host.tj:15)
score(5) failed with status 5:
`score` is `fn(float, bool) -> float`: it takes 2 arguments, not 1
";

/// The libraries' system dependencies, as `cargo rustc -p tierjit-capi
/// --crate-type staticlib -- --print native-static-libs` lists them.
const NATIVE_LIBS: [&str; 7] = [
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

#[test]
fn the_c_host_example_runs_against_both_libraries() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if Command::new(&cc).arg("--version").output().is_err() {
        println!("skipped: no C compiler (`{cc}`); set CC to run capi/examples/host.c");
        return;
    }
    let capi = Path::new(env!("CARGO_MANIFEST_DIR"));
    let libs = build_libraries();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_example");
    std::fs::create_dir_all(&out).unwrap();
    let compile = |output: &Path, link: &[&str]| {
        let mut command = Command::new(&cc);
        command
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg("-I")
            .arg(capi.join("../include"))
            .arg(capi.join("examples/host.c"))
            .args(link)
            .arg("-o")
            .arg(output);
        succeeded(command.output().unwrap(), "compiling host.c");
    };

    let static_host = out.join("host-static");
    let archive = libs.join("libtierjit.a");
    let mut link = vec![archive.to_str().unwrap()];
    link.extend(NATIVE_LIBS);
    compile(&static_host, &link);
    check_run(&static_host);

    let shared_host = out.join("host-shared");
    let dir = libs.to_str().unwrap();
    compile(
        &shared_host,
        &["-L", dir, &format!("-Wl,-rpath,{dir}"), "-ltierjit"],
    );
    check_run(&shared_host);
}

/// Runs a built host and checks its output and status.
fn check_run(host: &Path) {
    let output = Command::new(host).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{host:?}: {}\n{stderr}",
        output.status
    );
    assert_eq!(stdout, EXPECTED, "{host:?}");
    assert_eq!(stderr, "", "{host:?}");
}

/// Builds libtierjit.a and libtierjit.so in this test's target directory
/// and profile (see the module doc); gives the directory they are in.
fn build_libraries() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    // This test runs as TARGET/PROFILE/deps/c_example-HASH.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        other => other,
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--offline",
            "-p",
            "tierjit-capi",
            "--lib",
            "--tests",
        ])
        .args(["--profile", profile])
        .env("CARGO_TARGET_DIR", target);
    succeeded(command.output().unwrap(), "cargo build -p tierjit-capi");
    profile_dir.to_path_buf()
}

fn succeeded(output: Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
