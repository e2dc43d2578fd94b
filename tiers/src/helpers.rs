//! The helper table: the runtime functions generated code calls.
//!
//! Generated code reaches a helper as `mov rax, [r15 + CTX_HELPERS];
//! call [rax + 8 * Helper::X]`, with the thread state in `rdi`. Each helper
//! is a thin `extern "sysv64"` shell around [`crate::builtins`], so every
//! tier shares one implementation of each builtin. Fallible helpers return
//! a [`HelperResult`]; a non-zero trap code sends the caller to its trap
//! stub, which calls [`Helper::Trap`] with the location.

use crate::abi::{self, trap_code, HelperResult};
use crate::builtins;
use crate::bytecode::{FuncId, HostId};
use crate::exec::ThreadState;
use crate::trap::Trap;

type TrapFn = unsafe extern "sysv64" fn(*mut ThreadState, u32, u32, u32, usize);
type ResultFn1 = unsafe extern "sysv64" fn(*mut ThreadState, u64) -> HelperResult;
type ResultFn2 = unsafe extern "sysv64" fn(*mut ThreadState, u64, u64) -> HelperResult;
type ValueFn0 = unsafe extern "sysv64" fn(*mut ThreadState) -> u64;
type UnitFn1 = unsafe extern "sysv64" fn(*mut ThreadState, u64);
type ValueFn2 = unsafe extern "sysv64" fn(*mut ThreadState, u64, u64) -> u64;

/// The table, one entry per [`Helper`], in that order.
#[repr(C)]
pub struct HelperTable {
    trap: TrapFn,
    new_array: ResultFn2,
    spawn: ResultFn2,
    join: ResultFn1,
    print_int: UnitFn1,
    print_float: UnitFn1,
    print_bool: UnitFn1,
    print_str: UnitFn1,
    arg: ResultFn1,
    argc: ValueFn0,
    now_ns: ValueFn0,
    osr_poll: ValueFn2,
    call_host: ResultFn2,
}

/// The one helper table every thread's context points at.
pub static HELPERS: HelperTable = HelperTable {
    trap,
    new_array,
    spawn,
    join,
    print_int,
    print_float,
    print_bool,
    print_str,
    arg,
    argc,
    now_ns,
    osr_poll,
    call_host,
};

impl HelperTable {
    /// The table as generated code indexes it.
    pub fn as_ptr(&self) -> *const usize {
        self as *const HelperTable as *const usize
    }
}

/// The thread state behind a context pointer.
///
/// # Safety
/// `ts` is the calling thread's own live ThreadState (generated code passes
/// the context register, which always is).
unsafe fn thread<'a>(ts: *mut ThreadState) -> &'a mut ThreadState {
    // SAFETY: the caller's contract.
    unsafe { &mut *ts }
}

fn result(r: Result<u64, Trap>) -> HelperResult {
    match r {
        Ok(value) => HelperResult { value, trap: 0 },
        Err(t) => HelperResult {
            value: 0,
            trap: trap_code::of(t) as u64,
        },
    }
}

unsafe extern "sysv64" fn trap(ts: *mut ThreadState, code: u32, func: u32, pc: u32, fp: usize) {
    // SAFETY: helpers are called by generated code with its context.
    let ts = unsafe { thread(ts) };
    let trap = trap_code::to_trap(code as u64).unwrap_or(Trap::Terminated);
    let mut own = Vec::new();
    match func {
        // No frame of its own: the caller's error (a prologue's overflow).
        u32::MAX => {}
        // Optimized code: the pc map at the stub's call names the frames,
        // inlined ones included.
        abi::TRAP_FRAMES_FROM_PC => {
            ts.host
                .native_frames(ts.ctx.helper_pc.wrapping_sub(1), &mut own);
        }
        _ => own.push((FuncId(func), pc)),
    }
    let error = ts.native_error(trap, own, fp);
    ts.set_pending(error);
}

unsafe extern "sysv64" fn new_array(ts: *mut ThreadState, len: u64, init: u64) -> HelperResult {
    // SAFETY: as for every helper.
    let ts = unsafe { thread(ts) };
    result(builtins::new_array(&*ts.host, len as i64, init))
}

unsafe extern "sysv64" fn spawn(ts: *mut ThreadState, func: u64, args: u64) -> HelperResult {
    // SAFETY: as for every helper.
    let ts = unsafe { thread(ts) };
    let func = FuncId(func as u32);
    let n = ts.host.module().func(func).params.len();
    // SAFETY: generated code passes the argument window, which the verifier
    // proved holds the callee's `n` parameters inside the frame.
    let args = unsafe { std::slice::from_raw_parts(args as *const u64, n) }.to_vec();
    result(builtins::spawn(ts, func, args).map(|h| h as u64))
}

unsafe extern "sysv64" fn join(ts: *mut ThreadState, handle: u64) -> HelperResult {
    // SAFETY: as for every helper.
    let ts = unsafe { thread(ts) };
    result(builtins::join(ts, handle as i64).map(|v| v as u64))
}

unsafe extern "sysv64" fn print_int(ts: *mut ThreadState, v: u64) {
    // SAFETY: as for every helper.
    builtins::print_int(unsafe { thread(ts) }, v as i64)
}

unsafe extern "sysv64" fn print_float(ts: *mut ThreadState, bits: u64) {
    // SAFETY: as for every helper.
    builtins::print_float(unsafe { thread(ts) }, f64::from_bits(bits))
}

unsafe extern "sysv64" fn print_bool(ts: *mut ThreadState, v: u64) {
    // SAFETY: as for every helper.
    builtins::print_bool(unsafe { thread(ts) }, v != 0)
}

unsafe extern "sysv64" fn print_str(ts: *mut ThreadState, s: u64) {
    // SAFETY: as for every helper.
    builtins::print_str(unsafe { thread(ts) }, s as u32)
}

unsafe extern "sysv64" fn arg(ts: *mut ThreadState, i: u64) -> HelperResult {
    // SAFETY: as for every helper.
    let ts = unsafe { thread(ts) };
    result(builtins::program_arg(ts.host.args(), i as i64).map(|v| v as u64))
}

unsafe extern "sysv64" fn argc(ts: *mut ThreadState) -> u64 {
    // SAFETY: as for every helper.
    let ts = unsafe { thread(ts) };
    ts.host.args().len() as u64
}

unsafe extern "sysv64" fn now_ns(_: *mut ThreadState) -> u64 {
    builtins::now_ns() as u64
}

unsafe extern "sysv64" fn osr_poll(ts: *mut ThreadState, func: u64, pc: u64) -> u64 {
    // SAFETY: as for every helper.
    let ts = unsafe { thread(ts) };
    ts.host
        .optimized_osr_entry(FuncId(func as u32), pc as u32, &ts.calling)
        .map_or(0, |entry| entry as u64)
}

unsafe extern "sysv64" fn call_host(ts: *mut ThreadState, id: u64, args: u64) -> HelperResult {
    // SAFETY: as for every helper.
    let ts = unsafe { thread(ts) };
    let id = HostId(id as u32);
    let n = ts.host_fns[id.index()].arity;
    // SAFETY: generated code passes the argument window, which the verifier
    // proved holds the import's `n` parameters inside the frame.
    let args = unsafe { std::slice::from_raw_parts(args as *const u64, n) };
    let fns = &ts.host_fns;
    result(builtins::call_host(
        &*ts.host,
        fns,
        id,
        args,
        &mut ts.host_error,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{Helper, HELPER_COUNT};

    #[test]
    fn the_table_has_one_entry_per_helper_in_order() {
        assert_eq!(std::mem::size_of::<HelperTable>(), 8 * HELPER_COUNT);
        let base = HELPERS.as_ptr();
        // SAFETY: the table is HELPER_COUNT pointers.
        let now = unsafe { *base.add(Helper::NowNs as usize) };
        assert_eq!(now, now_ns as ValueFn0 as usize);
        let trap_entry = unsafe { *base.add(Helper::Trap as usize) };
        assert_eq!(trap_entry, trap as TrapFn as usize);
    }
}
