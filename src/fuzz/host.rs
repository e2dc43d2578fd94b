//! The host functions random programs call: deterministic, cheap, one of
//! each signature shape the fuzzer covers, and one that fails.
//!
//! `tierjit run --test-host-functions` (hidden) defines them, and every
//! fuzzing run passes it, so that host calls are differential-tested in
//! every tier like everything else. A program calls them by name
//! (`lang::compile_with_imports`).

use crate::lang::Diagnostic;
use crate::tiers::bytecode::Module;
use crate::{HostError, HostFunctions};

/// `lang::compile` of a random program: calls may name the test host
/// functions.
pub fn compile(source: &[u8]) -> Result<Module, Vec<Diagnostic>> {
    crate::lang::compile_with_imports(source, &test_functions().imports())
}

/// An argument of `host_check` that it refuses (`n % 1000 == CHECK_FAILS`).
pub const CHECK_FAILS: i64 = 777;

/// `host_mix(int, int) -> int`, `host_scale(float, int) -> float`,
/// `host_odd(int) -> bool` and `host_check(int) -> int`, which fails for
/// arguments that are [`CHECK_FAILS`] modulo 1000.
pub fn test_functions() -> HostFunctions {
    let mut host = HostFunctions::new();
    host.define("host_mix", |(a, b): (i64, i64)| Ok(a.wrapping_mul(31) ^ b))
        .define("host_scale", |(x, k): (f64, i64)| {
            Ok(x * (k % 7) as f64 + 0.25)
        })
        .define("host_odd", |(n,): (i64,)| Ok(n & 1 == 1))
        .define("host_check", |(n,): (i64,)| {
            if n % 1000 == CHECK_FAILS {
                Err(HostError::new(format!("{n} does not pass")))
            } else {
                Ok(n / 2)
            }
        });
    host
}
