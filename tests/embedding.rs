//! A host that emits bytecode itself: a module built with
//! `ModuleBuilder`, run in every tier through typed calls, from several
//! host threads at once.

use std::sync::Arc;
use tierjit::runtime::{TierMode, Vm, VmOptions};
use tierjit::tiers::bytecode::builder::ModuleBuilder;
use tierjit::tiers::bytecode::{Instr, Module, Reg};
use tierjit::tiers::Type;

/// `sum(n) = 0 + 1 + ... + (n - 1)` as a loop, and `twice(n) = sum(n) +
/// sum(n)` calling it.
fn module() -> Module {
    let mut m = ModuleBuilder::new();
    let sum = m.declare("sum", vec![Type::Int], Some(Type::Int)).unwrap();
    let twice = m
        .declare("twice", vec![Type::Int], Some(Type::Int))
        .unwrap();
    let mut f = m.function(sum);
    let (n, acc, i) = (Reg(0), Reg(1), Reg(2));
    f.reserve_regs(3);
    f.load_int(acc, 0);
    f.load_int(i, 0);
    let (top, done) = (f.new_label(), f.new_label());
    f.bind(top);
    f.emit_branch(
        Instr::JumpLeInt {
            a: n,
            b: i,
            target: 0,
        },
        done,
    );
    f.emit(Instr::AddInt {
        dst: acc,
        a: acc,
        b: i,
    });
    f.emit(Instr::AddIntImm {
        dst: i,
        a: i,
        imm: 1,
    });
    f.emit_branch(Instr::Jump { target: 0 }, top);
    f.bind(done);
    f.emit(Instr::Return { src: acc });
    m.define(sum, f).unwrap();
    // twice: r1 = sum(n) with its window at r1, r2 = sum(n) at r2.
    let mut g = m.function(twice);
    g.reserve_regs(3);
    for r in [Reg(1), Reg(2)] {
        g.emit(Instr::Mov {
            dst: r,
            src: Reg(0),
        });
        g.emit(Instr::Call {
            dst: r,
            func: sum,
            base: r,
        });
    }
    g.emit(Instr::AddInt {
        dst: Reg(0),
        a: Reg(1),
        b: Reg(2),
    });
    g.emit(Instr::Return { src: Reg(0) });
    m.define(twice, g).unwrap();
    m.finish().unwrap()
}

#[test]
fn a_host_built_module_runs_in_every_tier_from_several_host_threads() {
    for tier in [
        TierMode::Interp,
        TierMode::Baseline,
        TierMode::Opt,
        TierMode::Auto,
    ] {
        let options = VmOptions {
            tier,
            ..Default::default()
        };
        let vm: Arc<Vm> = Vm::new(module(), options).unwrap();
        let twice = vm.typed::<(i64,), i64>("twice").unwrap();
        let threads: Vec<_> = (0..4i64)
            .map(|t| {
                let vm = vm.clone();
                std::thread::spawn(move || {
                    (0..200i64)
                        .map(|k| twice.call(&vm, (t * 1000 + k,)).unwrap())
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        for (t, thread) in threads.into_iter().enumerate() {
            let got = thread.join().unwrap();
            for (k, value) in got.into_iter().enumerate() {
                let n = t as i64 * 1000 + k as i64;
                assert_eq!(value, n * (n - 1), "{tier:?}: twice({n})");
            }
        }
        vm.shutdown();
    }
}

/// Host threads that each keep a `CallContext` and call through it
/// thousands of times while functions tier up and, under `jit_stress`,
/// flip between tiers with their old code retired after stack walks that
/// find the host threads parked between calls. A runtime error leaves the
/// context usable.
#[test]
fn call_contexts_stay_valid_across_tier_changes_and_errors() {
    let source = b"
        fn sum(n: int) -> int { let s = 0; for i in 0..n { s = s + i; } return s; }
        fn ratio(a: int, b: int) -> int { return sum(a) / b; }
        fn main() {}";
    for (tier, jit_stress) in [
        (TierMode::Interp, false),
        (TierMode::Opt, false),
        (TierMode::Auto, false),
        (TierMode::Auto, true),
    ] {
        let module = tierjit::lang::compile(source).unwrap();
        let options = VmOptions {
            tier,
            jit_stress,
            ..Default::default()
        };
        let vm: Arc<Vm> = Vm::new(module, options).unwrap();
        let ratio = vm.typed::<(i64, i64), i64>("ratio").unwrap();
        let threads: Vec<_> = (0..3i64)
            .map(|t| {
                let vm = vm.clone();
                std::thread::spawn(move || {
                    let mut cx = vm.call_context().unwrap();
                    for k in 0..3000i64 {
                        let n = 50 + (t * 7 + k) % 50;
                        let got = ratio.call_in(&mut cx, (n, 1 + k % 3)).unwrap();
                        assert_eq!(got, n * (n - 1) / 2 / (1 + k % 3), "{tier:?}");
                    }
                    let error = ratio.call_in(&mut cx, (10, 0)).unwrap_err();
                    assert_eq!(error.to_string(), "runtime error: division by zero");
                    ratio.call_in(&mut cx, (10, 5)).unwrap()
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), 9, "{tier:?}");
        }
        // A context of another Vm is refused.
        let other = Vm::new(tierjit::lang::compile(source).unwrap(), Default::default()).unwrap();
        let mut cx = other.call_context().unwrap();
        assert!(matches!(
            ratio.call_in(&mut cx, (1, 1)),
            Err(tierjit::runtime::typed::CallError::OtherVm)
        ));
        drop(cx);
        vm.shutdown();
        other.shutdown();
    }
}

/// A host starts and stops the profile while its program runs: samples
/// before the start and after the stop are not kept, those between are,
/// and the profile saves and loads as a `.tjprof`.
#[test]
fn a_host_starts_takes_and_stops_profiles_while_the_program_runs() {
    let source = b"
        fn spin(n: int) -> int { let s = 0; for i in 0..n { s = (s + i * i) % 1000003; } return s; }
        fn main() {}";
    let module = tierjit::lang::compile(source).unwrap();
    let vm: Arc<Vm> = Vm::new(
        module.clone(),
        VmOptions {
            tier: TierMode::Auto,
            ..Default::default()
        },
    )
    .unwrap();
    let spin = vm.typed::<(i64,), i64>("spin").unwrap();
    let mut cx = vm.call_context().unwrap();
    let mut spin_for = |ms: u128| {
        let start = std::time::Instant::now();
        while start.elapsed().as_millis() < ms {
            spin.call_in(&mut cx, (100_000,)).unwrap();
        }
    };
    // Auto mode samples to tier up, but keeps nothing until asked.
    spin_for(50);
    assert_eq!(vm.take_profile("p").unwrap().samples.len(), 0);
    vm.start_profile().unwrap();
    spin_for(300);
    let profile = vm.take_profile("p").unwrap();
    let in_spin = profile
        .samples
        .iter()
        .filter(|s| {
            s.frames
                .first()
                .is_some_and(|f| profile.functions[f.func as usize] == "spin")
        })
        .count();
    assert!(
        in_spin >= 5,
        "{} samples, {in_spin} in spin",
        profile.samples.len()
    );
    let mut bytes = Vec::new();
    tierjit_profiler::format::write(&profile, &mut bytes).unwrap();
    let back = tierjit_profiler::format::read(&bytes).unwrap();
    assert_eq!(back.samples.len(), profile.samples.len());
    // Stopped, and what was drained before the stop taken: nothing more
    // is kept.
    vm.stop_profile();
    let _ = vm.take_profile("p").unwrap();
    spin_for(100);
    assert_eq!(vm.take_profile("p").unwrap().samples.len(), 0);
    drop(cx);
    vm.shutdown();
    // Without sampling there is no profile to start.
    let options = VmOptions {
        tier: TierMode::Interp,
        ..Default::default()
    };
    let quiet = Vm::new(module, options).unwrap();
    assert_eq!(
        quiet.start_profile(),
        Err(tierjit::runtime::ProfileError::NotSampling)
    );
}

/// A module a host built without `main` says so when asked to run it.
#[test]
fn running_a_module_without_main_says_so() {
    let vm: Arc<Vm> = Vm::new(module(), VmOptions::default()).unwrap();
    let error = vm.run_main().unwrap_err();
    assert_eq!(
        error.to_string(),
        "runtime error: the program has no function 'main'"
    );
    vm.shutdown();
}
