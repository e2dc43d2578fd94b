//! The library without the command: a crate outside this workspace that
//! depends on tierjit with `default-features = false` builds, runs a tj
//! program in a `Vm`, and has no `clap`, `iced-x86` or `inferno` among its
//! dependencies (they are the command's: argument parsing, the
//! disassembler, flame graphs).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The command's dependencies, which a library user must not build.
const COMMAND_ONLY: [&str; 3] = ["clap", "iced-x86", "inferno"];

const MANIFEST: &str = r#"[package]
name = "tierjit-library-alone"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tierjit = { path = "REPO", default-features = false }

# Not a member of any workspace above it.
[workspace]
"#;

const MAIN: &str = r#"fn main() {
    let source = b"fn main() -> int { let s = 0; for i in 0..10 { s = s + i; } return s; }";
    let module = tierjit::lang::compile(source).expect("compiles");
    let vm = tierjit::runtime::Vm::new(module, Default::default()).expect("starts");
    println!("{:?}", vm.run_main().expect("runs"));
}
"#;

/// Writes the crate into a fresh directory under the system's temporary
/// directory (outside the workspace), with this workspace's lock file so
/// that the same versions resolve offline.
fn write_crate(repo: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tierjit-library-alone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = MANIFEST.replace("REPO", repo.to_str().unwrap());
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir
}

fn cargo(dir: &Path, repo: &Path, args: &[&str]) -> (bool, String, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(args)
        .arg("--offline")
        // Kept between runs, beside the workspace's own builds.
        .env("CARGO_TARGET_DIR", repo.join("target/library-alone"))
        .output()
        .expect("cargo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_library_builds_and_runs_without_the_commands_dependencies() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = write_crate(repo);
    let (ok, tree, stderr) = cargo(&dir, repo, &["tree", "--edges", "normal,build"]);
    assert!(ok, "cargo tree failed: {stderr}");
    assert!(tree.contains("tierjit v"), "{tree}");
    for name in COMMAND_ONLY {
        assert!(
            !tree.lines().any(|l| l.contains(&format!(" {name} v"))),
            "{name} is in the library's dependency tree:\n{tree}"
        );
    }
    let (ok, stdout, stderr) = cargo(&dir, repo, &["run", "--quiet"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "the crate did not build or run: {stderr}");
    assert_eq!(stdout, "Some(45)\n");
}
