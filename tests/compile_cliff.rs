//! The optimizer on one huge function: ~100,000 bytecode instructions of
//! long straight lines, many (some nested) loops with array accesses and
//! divisions, and 300 variables live from start to end. The optimizer
//! must either compile it within a second of this thread's CPU time (in a
//! release build; a debug build only checks that it finishes; CPU time,
//! not wall time, so that other processes on a shared machine do not
//! count) or refuse it by its size budget,
//! and then `--tier opt` runs it in baseline code and `--trace-tiers`
//! says so.
//!
//! `cargo test --release --test compile_cliff -- --nocapture` prints the
//! time of each stage.

mod common;

use std::fmt::Write;
use std::time::{Duration, Instant};

use tierjit::tiers::opt;

/// How many variables stay live through the whole function.
const LIVE: usize = 300;
/// The size asked for, in bytecode instructions.
const TARGET: usize = 100_000;

/// A deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One piece of the body: a straight run of arithmetic, or a loop (every
/// fourth one with a loop inside) over the array.
fn chunk(out: &mut String, rng: &mut Rng, k: usize) {
    let mut v = || format!("x{}", rng.below(LIVE));
    if !k.is_multiple_of(3) {
        for _ in 0..8 {
            let (a, b, c) = (v(), v(), v());
            writeln!(out, "    {a} = ({b} * 3 + {c}) ^ ({a} >> 2);").unwrap();
        }
        return;
    }
    let (a, b, c, d) = (v(), v(), v(), v());
    writeln!(out, "    for i in 0..n {{").unwrap();
    writeln!(out, "        {a} = {a} + arr[i] * {b};").unwrap();
    writeln!(out, "        {c} = {c} + {a} / (({d} & 7) + 1);").unwrap();
    if k.is_multiple_of(4) {
        writeln!(out, "        for j in 0..i {{").unwrap();
        writeln!(out, "            {d} = {d} ^ (arr[j] + {b} % 5);").unwrap();
        writeln!(out, "        }}").unwrap();
    }
    writeln!(out, "    }}").unwrap();
}

/// A program whose function `big` has `chunks` chunks.
fn program(chunks: usize) -> String {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut s = String::from("fn big(arr: [int], n: int) -> int {\n");
    for i in 0..LIVE {
        writeln!(s, "    let x{i} = n + {i};").unwrap();
    }
    for k in 0..chunks {
        chunk(&mut s, &mut rng, k);
    }
    s.push_str("    let sum = 0;\n");
    for i in 0..LIVE {
        writeln!(s, "    sum = sum ^ x{i};").unwrap();
    }
    s.push_str("    return sum;\n}\n\nfn main() {\n    print(big([3; 4], 4));\n}\n");
    s
}

fn big_size(source: &str) -> (tierjit::tiers::bytecode::Module, usize) {
    let module = tierjit::lang::compile(source.as_bytes()).expect("the program compiles");
    let size = module.func(module.find("big").unwrap()).code.len();
    (module, size)
}

/// The program with `big` of about [`TARGET`] bytecode instructions.
fn huge_program() -> (String, tierjit::tiers::bytecode::Module, usize) {
    let (_, small) = big_size(&program(100));
    let (_, smaller) = big_size(&program(0));
    let per_chunk = (small - smaller) as f64 / 100.0;
    let chunks = ((TARGET - smaller) as f64 / per_chunk).ceil() as usize;
    let source = program(chunks);
    let (module, size) = big_size(&source);
    assert!(
        (TARGET..TARGET + TARGET / 20).contains(&size),
        "aimed at {TARGET} instructions, got {size}"
    );
    (source, module, size)
}

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .expect("the thread CPU clock");
    Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32)
}

#[test]
fn a_huge_function_compiles_quickly_or_stays_in_baseline() {
    let (source, module, size) = huge_program();
    let big = module.find("big").unwrap();
    let mut report = opt::Report::default();
    let options = opt::Options {
        // The verifier's cost is not the optimizer's: keep it out of the
        // time measured (the filetests and program tests verify).
        verify: Some(false),
        ..opt::Options::default()
    };
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    let result = opt::compile_with_report(&module, big, &options, &mut report);
    let took = thread_cpu_time() - cpu_start;
    println!(
        "big: {size} bytecode instructions, optimizer {took:.3?} CPU ({:.3?} wall)",
        start.elapsed()
    );
    for (stage, time) in &report.times {
        println!("  {stage:<10} {time:>12.3?}");
    }
    let refused = match result {
        Ok(code) => {
            println!("  -> {} bytes of machine code", code.code.len());
            if !cfg!(debug_assertions) {
                assert!(
                    took < Duration::from_secs(1),
                    "the optimizer took {took:?} on {size} instructions; slowest stage: {:?}",
                    report.times.iter().max_by_key(|t| t.1)
                );
            }
            false
        }
        Err(e) => {
            assert!(e.0.contains("budget"), "refused for another reason: {e}");
            true
        }
    };

    // The command line agrees: it runs, prints what the interpreter does,
    // and --trace-tiers says which tier `big` got.
    let path = std::env::temp_dir().join(format!("tierjit-cliff-{}.tj", std::process::id()));
    std::fs::write(&path, &source).unwrap();
    let file = path.to_str().unwrap();
    let (status, want, _) = common::run(&["run", "--tier", "interp", file]);
    let (opt_status, got, trace) = common::run(&["run", "--tier", "opt", "--trace-tiers", file]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!((opt_status, got), (status, want));
    println!("--trace-tiers:\n{trace}");
    if refused {
        assert!(trace.contains("staying in baseline"), "{trace}");
        assert!(trace.contains("tier: big: interp -> baseline"), "{trace}");
    } else {
        assert!(trace.contains("tier: big: interp -> opt"), "{trace}");
    }
}
