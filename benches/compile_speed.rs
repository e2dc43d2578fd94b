//! How fast the baseline compiler turns bytecode into machine code.
//!
//! The workload is every function of every program in `benches/tj/` and
//! `examples/`, compiled from the same in-memory modules on each iteration
//! (the tj front end is not measured). Two groups time the same work:
//! `baseline_instructions` reports bytecode instructions per second and
//! `baseline_bytes` machine-code bytes per second. A summary line after them,
//! `baseline: N instructions -> M bytes`, tells the size of the workload.
//!
//! Run with `cargo bench --bench compile_speed -- --quick`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;
use tierjit::tiers::baseline;
use tierjit::tiers::bytecode::{FuncId, Module};

/// The directories whose `*.tj` programs make up the workload.
const PROGRAM_DIRS: [&str; 2] = ["benches/tj", "examples"];

/// Every program of [`PROGRAM_DIRS`], compiled to bytecode, in path order.
fn load_programs() -> Vec<Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for dir in PROGRAM_DIRS {
        let entries = std::fs::read_dir(root.join(dir)).expect("program directory");
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "tj") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let source = std::fs::read(path).expect("readable program");
            tierjit::lang::compile(&source)
                .unwrap_or_else(|e| panic!("{} does not compile: {e:?}", path.display()))
        })
        .collect()
}

/// Baseline-compiles every function of `modules`; gives the total number
/// of machine-code bytes.
fn compile_all(modules: &[Module]) -> usize {
    let mut bytes = 0;
    for module in modules {
        for i in 0..module.funcs.len() {
            let compiled = baseline::compile(module, FuncId(i as u32)).expect("compiles");
            bytes += compiled.code.len();
        }
    }
    bytes
}

fn compile_speed(c: &mut Criterion) {
    let modules = load_programs();
    let instructions: usize = modules
        .iter()
        .flat_map(|m| &m.funcs)
        .map(|f| f.code.len())
        .sum();
    let bytes = compile_all(&modules);

    let mut group = c.benchmark_group("baseline_instructions");
    group.throughput(Throughput::Elements(instructions as u64));
    group.bench_function("compile_all", |b| {
        b.iter(|| compile_all(black_box(&modules)))
    });
    group.finish();

    let mut group = c.benchmark_group("baseline_bytes");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("compile_all", |b| {
        b.iter(|| compile_all(black_box(&modules)))
    });
    group.finish();

    println!(
        "baseline: {instructions} instructions -> {bytes} bytes ({} programs, {} functions)",
        modules.len(),
        modules.iter().map(|m| m.funcs.len()).sum::<usize>()
    );
}

criterion_group!(benches, compile_speed);
criterion_main!(benches);
