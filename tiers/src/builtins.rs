//! The builtins of LANGUAGE.md, shared by every tier: the interpreter
//! calls these directly, generated code through the helper table
//! ([`crate::helpers`]). One implementation keeps the tiers identical.

use crate::bytecode::{FuncId, HostId};
use crate::exec::{Host, ThreadState};
use crate::heap::AllocError;
use crate::host_fn::LinkedHostFn;
use crate::trap::Trap;
use std::io::Write;

/// Where a thread's output goes once its buffer holds this much.
const OUTPUT_CHUNK: usize = 8192;

/// Appends one printed line to the thread's buffer and writes it out when
/// the host wants lines at once or the buffer is full.
fn print_line(ts: &ThreadState, write: impl FnOnce(&mut Vec<u8>)) {
    let host = &*ts.host;
    ts.printed.set(true);
    let mut out = ts.out.lock();
    write(&mut out);
    out.push(b'\n');
    if out.len() >= OUTPUT_CHUNK || host.line_buffered() {
        host.write_output(&mut out);
    }
}

fn alloc_trap(e: AllocError) -> Trap {
    match e {
        AllocError::NegativeLength => Trap::NegativeArrayLength,
        AllocError::OutOfMemory => Trap::OutOfMemory,
    }
}

/// IEEE 754-2019 minimum: NaN if either operand is NaN; -0.0 < 0.0.
pub fn float_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// IEEE 754-2019 maximum: NaN if either operand is NaN; -0.0 < 0.0.
pub fn float_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// `arg(i)`: the i-th program argument parsed as an int.
pub fn program_arg(args: &[String], i: i64) -> Result<i64, Trap> {
    usize::try_from(i)
        .ok()
        .and_then(|i| args.get(i))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(Trap::BadArgument)
}

/// `now_ns()`: the monotonic clock in nanoseconds.
pub fn now_ns() -> i64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available on Linux");
    t.tv_sec() * 1_000_000_000 + t.tv_nsec()
}

/// `print(i)` for an int.
pub fn print_int(ts: &ThreadState, v: i64) {
    print_line(ts, |out| {
        let _ = write!(out, "{v}");
    })
}

/// `print(x)` for a float, formatted like Rust's `{:?}`.
pub fn print_float(ts: &ThreadState, v: f64) {
    print_line(ts, |out| {
        let _ = write!(out, "{v:?}");
    })
}

/// `print(b)` for a bool.
pub fn print_bool(ts: &ThreadState, v: bool) {
    print_line(ts, |out| {
        let _ = write!(out, "{v}");
    })
}

/// `print("...")`: string `s` of the module's string table.
pub fn print_str(ts: &ThreadState, s: u32) {
    let host = ts.host.clone();
    let text = host.module().strings[s as usize].as_bytes();
    print_line(ts, |out| out.extend_from_slice(text))
}

/// `[init; len]`: the new array's register value.
pub fn new_array(host: &dyn Host, len: i64, init: u64) -> Result<u64, Trap> {
    host.heap().alloc_array(len, init).map_err(alloc_trap)
}

/// `spawn func(args)`. Lines the spawning thread printed before come out
/// before anything the new thread prints (output follows spawn order).
pub fn spawn(ts: &ThreadState, func: FuncId, args: Vec<u64>) -> Result<i64, Trap> {
    ts.host.write_output(&mut ts.out.lock());
    ts.host.spawn(func, args)
}

/// `call.h`: host import `id`, of the thread's linked `fns`, with `args`.
/// Its error is left, with the function's name, in `error` (a thread's
/// [`ThreadState::host_error`]) for the runtime error the [`Trap::Host`]
/// raises.
#[inline]
pub fn call_host(
    host: &dyn Host,
    fns: &[LinkedHostFn],
    id: HostId,
    args: &[u64],
    error: &mut Option<String>,
) -> Result<u64, Trap> {
    (fns[id.index()].f)(args).map_err(|e| {
        let name = &host.module().host(id).name;
        *error = Some(format!("host function '{name}': {}", e.message()));
        Trap::Host
    })
}

/// `join(handle)`. The joining thread's earlier lines come out first.
pub fn join(ts: &ThreadState, handle: i64) -> Result<i64, Trap> {
    ts.host.write_output(&mut ts.out.lock());
    ts.host.join(ts.handle, handle)
}
