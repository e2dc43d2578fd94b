//! What crossing between host and guest costs, in each tier:
//!
//! - `host_to_guest`: a host calling a tj function through
//!   [`tierjit::runtime::typed::TypedFunc`] with typed arguments, either
//!   setting the thread up for each call (`TypedFunc::call`) or through a
//!   standing [`tierjit::runtime::call_context::CallContext`]
//!   (`TypedFunc::call_in`);
//! - `guest_to_host`: tj code calling a host function
//!   ([`tierjit::HostFunctions::define`]) in a loop of 1000 calls, so one
//!   iteration is 1000 calls plus the loop (compare `guest_loop_alone`,
//!   the same loop calling nothing).
//!
//! Compare with the per-call times of the embedded runtimes that publish
//! them: 25-27 ns for a typed host-to-guest call, 3-4 ns guest-to-host.
//!
//! Run with `cargo bench --bench calls` (`-- --quick` for a smoke run).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tierjit::runtime::{TierMode, Vm, VmOptions};
use tierjit::HostFunctions;

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
        group.bench_function(format!("{name}/per_call_setup"), |b| {
            b.iter(|| add.call(&vm, (black_box(20), black_box(22))).unwrap())
        });
        let mut cx = vm.call_context().expect("a context");
        group.bench_function(format!("{name}/call_context"), |b| {
            b.iter(|| {
                add.call_in(&mut cx, (black_box(20), black_box(22)))
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn guest_to_host(c: &mut Criterion) {
    let source = b"
        fn calls(n: int) -> int { let s = 0; for i in 0..n { s = s + ident(i); } return s; }
        fn alone(n: int) -> int { let s = 0; for i in 0..n { s = s + (i ^ 1); } return s; }
        fn main() {}";
    let mut group = c.benchmark_group("guest_to_host");
    for (name, tier) in [
        ("interp", TierMode::Interp),
        ("baseline", TierMode::Baseline),
        ("opt", TierMode::Opt),
    ] {
        let mut host = HostFunctions::new();
        host.define("ident", |(i,): (i64,)| Ok(i ^ 1));
        let module =
            tierjit::lang::compile_with_imports(source, &host.imports()).expect("compiles");
        let options = VmOptions {
            tier,
            host_functions: host,
            ..Default::default()
        };
        let vm = Vm::new(module, options).expect("starts");
        for (what, func) in [("1000_calls", "calls"), ("loop_alone", "alone")] {
            let f = vm.typed::<(i64,), i64>(func).expect("fn(int) -> int");
            let mut cx = vm.call_context().expect("a context");
            group.bench_function(format!("{name}/{what}"), |b| {
                b.iter(|| f.call_in(&mut cx, (black_box(1000),)).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, host_to_guest, guest_to_host);
criterion_main!(benches);
