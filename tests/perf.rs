//! perf integration: the jitdump recipe names generated code in `perf
//! report` (run where `perf` is installed and allowed; skipped with a
//! message elsewhere), and the perf map lists every placed blob.

use std::path::Path;
use std::process::Command;

const TIERJIT: &str = env!("CARGO_BIN_EXE_tierjit");

fn fib() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/fib.tj")
        .display()
        .to_string()
}

#[test]
fn perf_map_names_every_compiled_function() {
    let out = Command::new(TIERJIT)
        .env("TIERJIT_CODE_CACHE", "off")
        .args(["run", "--tier", "baseline", "--perf-map", &fib(), "20"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // The map is named after the process that wrote it; find it by content.
    let maps: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("perf-"))
        })
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|text| (p, text)))
        .filter(|(_, text)| text.contains("tj:fib [baseline]"))
        .collect();
    assert!(!maps.is_empty(), "no /tmp/perf-PID.map names tj:fib");
    for (path, text) in maps {
        for line in text.lines() {
            let fields: Vec<&str> = line.splitn(3, ' ').collect();
            assert_eq!(fields.len(), 3, "{line}");
            assert!(
                u64::from_str_radix(fields[0], 16).is_ok()
                    && u64::from_str_radix(fields[1], 16).is_ok(),
                "{line}"
            );
        }
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn perf_inject_names_generated_code_from_the_jitdump() {
    let usable = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-o", "/dev/null", "true"])
        .output();
    if !usable.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: perf is not installed or may not record here (apt-get install linux-perf)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("tierjit-perf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("perf.data");
    let injected = dir.join("perf.jit.data");
    let record = Command::new("perf")
        .env("TIERJIT_CODE_CACHE", "off")
        .args(["record", "-k", "1", "-e", "cpu-clock", "-o"])
        .arg(&data)
        .args([
            TIERJIT,
            "run",
            "--tier",
            "baseline",
            "--jitdump",
            "--jitdump-dir",
        ])
        .arg(&dir)
        .args([&fib(), "30"])
        .output()
        .unwrap();
    assert!(
        record.status.success(),
        "{}",
        String::from_utf8_lossy(&record.stderr)
    );
    let inject = Command::new("perf")
        .args(["inject", "--jit", "-i"])
        .arg(&data)
        .arg("-o")
        .arg(&injected)
        .output()
        .unwrap();
    assert!(
        inject.status.success(),
        "{}",
        String::from_utf8_lossy(&inject.stderr)
    );
    let report = Command::new("perf")
        .args(["report", "--stdio", "-i"])
        .arg(&injected)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        text.contains("tj:fib [baseline]"),
        "perf report does not name tj:fib:\n{text}"
    );
}
