//! How fast the baseline and the optimizing compiler turn bytecode into
//! machine code.
//!
//! The workload is every function of every program in `benches/tj/` and
//! `examples/`, compiled from the same in-memory modules on each iteration
//! (the tj front end is not measured). For the baseline compiler, two
//! groups time the same work: `baseline_instructions` reports bytecode
//! instructions per second and `baseline_bytes` machine-code bytes per
//! second. A summary line after them, `baseline: N instructions -> M
//! bytes`, tells the size of the workload. For the optimizer,
//! `opt_instructions` reports bytecode instructions per second (default
//! options: no IR verifier, no allocation checker), and a table after it
//! gives the time of each stage (`opt::stage_names`, from the report of
//! every compilation, averaged over [`STAGE_ROUNDS`] rounds) and the
//! slowest functions.
//!
//! The optimizer's rate is given two ways: over the bytecode of the
//! functions compiled, and over that plus the bytecode of every inlined
//! call (each copy counted once per inlined call, as HotSpot's
//! `-XX:+CITime` counts "inlined bytes"): an optimizer that inlines
//! compiles more bytecode than the function it was given, `fib` with
//! recursive inlining 31 copies of its own 8 instructions.
//!
//! Run with `cargo bench --bench compile_speed -- --quick`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tierjit::tiers::baseline;
use tierjit::tiers::bytecode::{FuncId, Module};
use tierjit::tiers::opt;

/// The directories whose `*.tj` programs make up the workload.
const PROGRAM_DIRS: [&str; 2] = ["benches/tj", "examples"];

/// Rounds of optimizing the whole workload for the table of stage times.
const STAGE_ROUNDS: u32 = 20;

/// How many of the slowest functions the optimizer's table lists.
const SLOWEST_SHOWN: usize = 5;

/// Every program of [`PROGRAM_DIRS`], compiled to bytecode, in path order,
/// with its path (relative to the repository).
fn load_programs() -> Vec<(String, Module)> {
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
            let module = tierjit::lang::compile(&source)
                .unwrap_or_else(|e| panic!("{} does not compile: {e:?}", path.display()));
            let shown = path.strip_prefix(root).unwrap_or(path);
            (shown.display().to_string(), module)
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

/// Optimizes every function of `modules`; gives the total number of
/// machine-code bytes.
fn optimize_all(modules: &[Module]) -> usize {
    let options = opt::Options::default();
    let mut bytes = 0;
    for module in modules {
        for i in 0..module.funcs.len() {
            let compiled = opt::compile(module, FuncId(i as u32), &options).expect("optimizes");
            bytes += compiled.code.len();
        }
    }
    bytes
}

/// The bytecode instructions the optimizer compiles for the whole
/// workload: each function's own, plus those of every inlined call.
fn instructions_with_inlined(modules: &[Module]) -> usize {
    let options = opt::Options::default();
    let mut total = 0;
    for module in modules {
        for (i, func) in module.funcs.iter().enumerate() {
            let compiled = opt::compile(module, FuncId(i as u32), &options).expect("optimizes");
            let inlined: usize = compiled
                .inlines
                .iter()
                .map(|frame| module.func(frame.func).code.len())
                .sum();
            total += func.code.len() + inlined;
        }
    }
    total
}

/// Optimizes the workload [`STAGE_ROUNDS`] times, recording every
/// compilation's stage times; prints the mean time of each stage per round
/// and the functions that took longest (best of the rounds).
fn print_opt_stage_times(programs: &[(String, Module)], instructions: usize, with_inlined: usize) {
    let options = opt::Options::default();
    let mut stages: HashMap<&'static str, Duration> = HashMap::new();
    let mut best: HashMap<(usize, usize), Duration> = HashMap::new();
    let mut total = Duration::ZERO;
    for _ in 0..STAGE_ROUNDS {
        for (p, (_, module)) in programs.iter().enumerate() {
            for i in 0..module.funcs.len() {
                let mut report = opt::Report::default();
                let start = Instant::now();
                opt::compile_with_report(module, FuncId(i as u32), &options, &mut report)
                    .expect("optimizes");
                let took = start.elapsed();
                total += took;
                let slot = best.entry((p, i)).or_insert(took);
                *slot = (*slot).min(took);
                for (stage, time) in report.times {
                    *stages.entry(stage).or_default() += time;
                }
            }
        }
    }
    let per_round = total.as_secs_f64() / f64::from(STAGE_ROUNDS);
    println!(
        "opt: {instructions} instructions in {:.3} ms per round = {:.2} M instructions/s ({STAGE_ROUNDS} rounds)",
        per_round * 1e3,
        instructions as f64 / per_round / 1e6
    );
    println!(
        "opt: {with_inlined} instructions with inlined calls = {:.2} M instructions/s",
        with_inlined as f64 / per_round / 1e6
    );
    let staged: f64 = stages.values().map(Duration::as_secs_f64).sum();
    println!("opt: time by stage, per round:");
    for name in opt::stage_names() {
        let secs = stages.get(name).map_or(0.0, Duration::as_secs_f64);
        println!(
            "  {name:<10} {:>9.3} ms  {:>5.1}%",
            secs / f64::from(STAGE_ROUNDS) * 1e3,
            100.0 * secs / staged.max(1e-12)
        );
    }
    let mut slowest: Vec<_> = best.into_iter().collect();
    slowest.sort_by_key(|&(_, t)| std::cmp::Reverse(t));
    println!("opt: slowest functions (best of {STAGE_ROUNDS}):");
    for ((p, i), time) in slowest.into_iter().take(SLOWEST_SHOWN) {
        let (path, module) = &programs[p];
        let func = &module.funcs[i];
        println!(
            "  {:>9.3} ms  {} in {path} ({} instructions)",
            time.as_secs_f64() * 1e3,
            func.name,
            func.code.len()
        );
    }
}

/// Times `compile` of the whole workload as group `name`'s `compile_all`.
fn bench_group(
    c: &mut Criterion,
    name: &str,
    throughput: Throughput,
    modules: &[Module],
    compile: fn(&[Module]) -> usize,
) {
    let mut group = c.benchmark_group(name);
    group.throughput(throughput);
    group.bench_function("compile_all", |b| b.iter(|| compile(black_box(modules))));
    group.finish();
}

fn compile_speed(c: &mut Criterion) {
    let programs = load_programs();
    let modules: Vec<Module> = programs.iter().map(|(_, m)| m.clone()).collect();
    let instructions: usize = modules
        .iter()
        .flat_map(|m| &m.funcs)
        .map(|f| f.code.len())
        .sum();
    let bytes = compile_all(&modules);
    let elements = Throughput::Elements(instructions as u64);
    bench_group(
        c,
        "baseline_instructions",
        elements.clone(),
        &modules,
        compile_all,
    );
    let size = Throughput::Bytes(bytes as u64);
    bench_group(c, "baseline_bytes", size, &modules, compile_all);

    println!(
        "baseline: {instructions} instructions -> {bytes} bytes ({} programs, {} functions)",
        modules.len(),
        modules.iter().map(|m| m.funcs.len()).sum::<usize>()
    );

    let opt_bytes = optimize_all(&modules);
    bench_group(c, "opt_instructions", elements, &modules, optimize_all);
    println!("opt: {instructions} instructions -> {opt_bytes} bytes");
    let with_inlined = instructions_with_inlined(&modules);
    print_opt_stage_times(&programs, instructions, with_inlined);
}

criterion_group!(benches, compile_speed);
criterion_main!(benches);
