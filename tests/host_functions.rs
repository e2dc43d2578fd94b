//! Host functions: tj code calling functions of the embedding host, in
//! every tier, with every scalar type, from hot loops that the optimizer
//! compiles (and inlines into), from spawned threads, and failing with the
//! host's message and the backtrace of the call.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tierjit::backtrace;
use tierjit::runtime::{TierMode, Vm, VmError, VmOptions};
use tierjit::tiers::bytecode::builder::{BuildError, ModuleBuilder};
use tierjit::tiers::bytecode::{Instr, Module, Reg};
use tierjit::tiers::{Trap, Type};
use tierjit::{HostError, HostFunctions};

const TIERS: [TierMode; 5] = [
    TierMode::Interp,
    TierMode::Baseline,
    TierMode::Opt,
    TierMode::Auto,
    TierMode::Mixed(7),
];

/// Functions of every signature shape, and a counter the program bumps.
fn host(counter: &Arc<AtomicI64>) -> HostFunctions {
    let mut host = HostFunctions::new();
    let bumped = counter.clone();
    host.define("bump", move |(by,): (i64,)| {
        bumped.fetch_add(by, Ordering::Relaxed);
        Ok(())
    })
    .define("scale", |(x, k, neg): (f64, i64, bool)| {
        let y = x * k as f64;
        Ok(if neg { -y } else { y })
    })
    .define("is_even", |(n,): (i64,)| Ok(n % 2 == 0))
    .define("checked_div", |(a, b): (i64, i64)| {
        if b == 0 {
            Err(HostError::new(format!("cannot divide {a} by zero")))
        } else {
            Ok(a / b)
        }
    })
    .define("seven", |()| Ok(7i64));
    host
}

fn vm(source: &str, tier: TierMode, counter: &Arc<AtomicI64>) -> Arc<Vm> {
    vm_with(source, tier, false, counter)
}

fn vm_with(source: &str, tier: TierMode, jit_stress: bool, counter: &Arc<AtomicI64>) -> Arc<Vm> {
    let host = host(counter);
    let module = tierjit::lang::compile_with_imports(source.as_bytes(), &host.imports())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let options = VmOptions {
        tier,
        host_functions: host,
        opt_check: true,
        jit_stress,
        ..Default::default()
    };
    Vm::new(module, options).unwrap()
}

/// A hot loop of host calls, with a helper that the optimizer inlines.
const LOOP: &str = "
fn step(i: int) -> float {
    if is_even(i) { bump(1); }
    return scale(0.5, i, i % 3 == 0);
}
fn main() -> int {
    let total = 0.0;
    for i in 0..200000 { total = total + step(i); }
    if total != 3333316667.0 { return -1; }
    return checked_div(seven() * 6, 2);
}";

#[test]
fn host_functions_of_every_signature_run_in_every_tier() {
    for tier in TIERS {
        let counter = Arc::new(AtomicI64::new(0));
        let vm = vm(LOOP, tier, &counter);
        assert_eq!(vm.run_main().unwrap(), Some(21), "{tier:?}");
        assert_eq!(counter.load(Ordering::Relaxed), 100000, "{tier:?}");
        let step = vm.typed::<(i64,), f64>("step").unwrap();
        assert_eq!(step.call(&vm, (9,)).unwrap(), -4.5, "{tier:?}");
        assert_eq!(step.call(&vm, (4,)).unwrap(), 2.0, "{tier:?}");
        vm.shutdown();
    }
}

#[test]
fn a_host_error_is_a_runtime_error_with_the_backtrace_of_the_call() {
    let source = "
fn inner(a: int, b: int) -> int {
    return checked_div(a, b);
}
fn outer(n: int) -> int {
    let s = 0;
    for i in 0..n { s = s + inner(i, n - 1 - i); }
    return s;
}
fn main() -> int { return outer(100000); }";
    for tier in TIERS {
        let counter = Arc::new(AtomicI64::new(0));
        let vm = vm(source, tier, &counter);
        let error = vm.run_main().unwrap_err();
        assert_eq!(error.trap, Trap::Host, "{tier:?}");
        assert_eq!(
            error.message(),
            "host function 'checked_div': cannot divide 99999 by zero"
        );
        let text = backtrace::render(&error, vm.module(), "prog.tj");
        assert_eq!(
            text,
            "runtime error: host function 'checked_div': cannot divide 99999 by zero\n  \
             at inner (prog.tj:3)\n  at outer (prog.tj:7)\n  at main (prog.tj:10)\n",
            "{tier:?}"
        );
        vm.shutdown();
    }
}

#[test]
fn spawned_threads_call_the_host_at_once() {
    let source = "
fn work(n: int) -> int {
    for i in 0..n { bump(1); }
    return n;
}
fn main() -> int {
    let a = spawn work(50000);
    let b = spawn work(70000);
    return join(a) + join(b) + work(30000);
}";
    let stress = [(TierMode::Auto, true)];
    for (tier, jit_stress) in TIERS.map(|t| (t, false)).into_iter().chain(stress) {
        let counter = Arc::new(AtomicI64::new(0));
        let vm = vm_with(source, tier, jit_stress, &counter);
        assert_eq!(vm.run_main().unwrap(), Some(150000), "{tier:?}");
        assert_eq!(counter.load(Ordering::Relaxed), 150000, "{tier:?}");
        vm.shutdown();
    }
}

#[test]
fn a_vm_refuses_imports_the_host_does_not_define_as_imported() {
    let counter = Arc::new(AtomicI64::new(0));
    let mut imports = host(&counter).imports();
    imports.retain(|i| i.name == "seven");
    let module =
        tierjit::lang::compile_with_imports(b"fn main() -> int { return seven(); }", &imports)
            .unwrap();
    let link = |host: HostFunctions| {
        let options = VmOptions {
            host_functions: host,
            ..Default::default()
        };
        match Vm::new(module.clone(), options) {
            Err(VmError::Link(message)) => message,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("linked"),
        }
    };
    assert_eq!(
        link(HostFunctions::new()),
        "the program imports host function 'seven', which the host does not define"
    );
    let mut wrong = HostFunctions::new();
    wrong.define("seven", |(x,): (f64,)| Ok(x));
    assert_eq!(
        link(wrong),
        "the program imports host function 'seven' as fn() -> int, but the host defines it as fn(float) -> float"
    );
}

#[test]
fn source_calls_check_arguments_against_the_import() {
    let counter = Arc::new(AtomicI64::new(0));
    let imports = host(&counter).imports();
    let errors = tierjit::lang::compile_with_imports(
        b"fn main() { bump(1.5); let x: int = is_even(2); }",
        &imports,
    )
    .unwrap_err();
    let messages: Vec<String> = errors.iter().map(|d| d.message.clone()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    // Without the imports, the names are unknown.
    let errors = tierjit::lang::compile(b"fn main() { bump(1); }").unwrap_err();
    assert_eq!(errors[0].message, "unknown function 'bump'");
}

/// `main() = twice(21)` where `twice` is the host's, called by `call.h`.
fn built_module(host_params: Vec<Type>) -> Result<Module, BuildError> {
    let mut m = ModuleBuilder::new();
    let twice = m.import("twice", host_params, Some(Type::Int))?;
    let main = m.declare("main", vec![], Some(Type::Int))?;
    let mut f = m.function(main);
    f.reserve_regs(2);
    f.load_int(Reg(1), 21);
    f.emit(Instr::CallHost {
        dst: Reg(0),
        host: twice,
        base: Reg(1),
    });
    f.emit(Instr::CallHostVoid {
        host: twice,
        base: Reg(0),
    });
    f.emit(Instr::Return { src: Reg(0) });
    m.define(main, f)?;
    m.finish()
}

#[test]
fn a_host_built_module_calls_the_host_and_the_verifier_checks_the_calls() {
    let module = built_module(vec![Type::Int]).unwrap();
    for tier in TIERS {
        let mut host = HostFunctions::new();
        host.define("twice", |(n,): (i64,)| Ok(2 * n));
        let options = VmOptions {
            tier,
            host_functions: host,
            ..Default::default()
        };
        let vm = Vm::new(module.clone(), options).unwrap();
        assert_eq!(vm.run_main().unwrap(), Some(42), "{tier:?}");
        vm.shutdown();
    }
    // The call's argument is an int, the import wants a float.
    let error = built_module(vec![Type::Float]).unwrap_err().to_string();
    assert_eq!(
        error,
        "invalid bytecode in function 'main' at pc 1: argument 1 of 'twice': r1 holds int, expected float"
    );
    // Arrays never reach the host.
    let error = built_module(vec![Type::IntArray]).unwrap_err().to_string();
    assert_eq!(
        error,
        "invalid bytecode in function 'twice': a host function cannot take or give [int]"
    );
    let mut m = ModuleBuilder::new();
    m.import("f", vec![], None).unwrap();
    assert_eq!(
        m.import("f", vec![], None).unwrap_err().to_string(),
        "'f' is declared twice"
    );
}
