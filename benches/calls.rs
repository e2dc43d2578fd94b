//! What crossing between host and guest costs: a host calling a tj
//! function through [`tierjit::runtime::typed::TypedFunc`] with typed
//! arguments, the callee compiled by the optimizer (`--tier opt`), the
//! interpreter and the baseline compiler. Compare with the per-call time
//! of the embedded runtimes that publish it (25-27 ns for a typed
//! host-to-guest call).
//!
//! Run with `cargo bench --bench calls` (`-- --quick` for a smoke run).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tierjit::runtime::{TierMode, Vm, VmOptions};

fn host_to_guest(c: &mut Criterion) {
    let source = b"fn add(a: int, b: int) -> int { return a + b; } fn main() {}";
    let mut group = c.benchmark_group("host_to_guest");
    for (name, tier) in [
        ("interp", TierMode::Interp),
        ("baseline", TierMode::Baseline),
        ("opt", TierMode::Opt),
    ] {
        let module = tierjit::lang::compile(source).expect("compiles");
        let options = VmOptions {
            tier,
            ..Default::default()
        };
        let vm = Vm::new(module, options).expect("starts");
        let add = vm
            .typed::<(i64, i64), i64>("add")
            .expect("add(int, int) -> int");
        group.bench_function(name, |b| {
            b.iter(|| add.call(&vm, (black_box(20), black_box(22))).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, host_to_guest);
criterion_main!(benches);
