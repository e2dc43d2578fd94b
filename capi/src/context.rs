//! `tj_context`: a thread's standing context for calls into a VM
//! (`tierjit::runtime::call_context::CallContext`).
//!
//! `tj_func_call` sets the calling thread up for tj code and takes it down
//! again on every call; a context does that once, for the thread that
//! made it, and calls through it cost a tenth as much. A `CallContext`
//! belongs to its thread (it is not `Send`), and C cannot be held to that
//! by a type: each context remembers its thread, and refuses calls from
//! any other.

use crate::call_with_args;
use crate::error::{guard_new, guard_status, tj_error, tj_status, Failure, TJ_ERR_ARGUMENT};
use crate::value::tj_value;
use crate::vm::{tj_func, tj_vm, vm_arg, Functions};
use std::sync::Arc;
use tierjit::runtime::call_context::CallContext;
use tierjit::runtime::Vm;

/// A context for calling into one VM again and again from the thread that
/// made it (`tj_context_new`), which alone may use and free it.
pub struct tj_context {
    context: CallContext,
    vm: Arc<Vm>,
    functions: Arc<Functions>,
    /// The thread that made it (see [`this_thread`]).
    thread: usize,
}

/// The calling thread, as the address of one of its thread-locals: no two
/// living threads have the same.
fn this_thread() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|mark| mark as *const u8 as usize)
}

/// A context for calls from the calling thread into `vm`. Between calls
/// the thread is parked, so that replacing code never waits for it, and it
/// stays a target of the sampler, so the functions it calls tier up. Free
/// it with `tj_context_free` on the same thread, before the thread ends;
/// it keeps the VM's memory alive until then.
///
/// `vm`: NULL or a live VM; `err`: NULL or where to store a `tj_error *`.
#[no_mangle]
pub extern "C" fn tj_context_new(
    vm: Option<&tj_vm>,
    err: Option<&mut *mut tj_error>,
) -> *mut tj_context {
    guard_new(err, || {
        let (vm, functions) = vm_arg(vm)?.parts();
        let context = vm
            .call_context()
            .map_err(|e| functions.runtime_error(vm, &e))?;
        Ok(tj_context {
            context,
            vm: vm.clone(),
            functions: functions.clone(),
            thread: this_thread(),
        })
    })
}

/// `tj_func_call` through a context: `func` is a handle of the context's
/// VM, and the calling thread the one that made the context
/// (`TJ_ERR_ARGUMENT` otherwise).
///
/// # Safety
///
/// `context` is NULL or a live context; `args` is NULL (with `nargs` 0) or
/// points to `nargs` values; `result` is NULL or points to a writable
/// `tj_value`; `err` is NULL or points to a writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_context_call(
    context: Option<&mut tj_context>,
    func: *const tj_func,
    args: *const tj_value,
    nargs: usize,
    result: Option<&mut tj_value>,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let cx = context.ok_or_else(|| Failure::new(TJ_ERR_ARGUMENT, "the context is NULL"))?;
        if cx.thread != this_thread() {
            return Err(Failure::new(
                TJ_ERR_ARGUMENT,
                "the context belongs to another thread",
            ));
        }
        let func = cx.functions.at(func)?;
        let context = &mut cx.context;
        let (functions, vm) = (&cx.functions, &cx.vm);
        // SAFETY: NULL or `nargs` values (this function's contract).
        unsafe {
            call_with_args(args, nargs, result, |args| {
                functions.call(vm, func, args, |id, bits| context.call_bits(id, bits))
            })
        }
    })
}

/// Frees a context, on the thread that made it; NULL is allowed. On
/// another thread it is not freed but left (its memory and its place
/// among the VM's callers stay), since only its own thread may end its
/// registrations.
///
/// # Safety
///
/// `context` is NULL or a context from `tj_context_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tj_context_free(context: *mut tj_context) {
    if context.is_null() {
        return;
    }
    // SAFETY: a live context, made by Box::into_raw (`guard_new`) and freed
    // only here (this function's contract).
    let context = unsafe { Box::from_raw(context) };
    if context.thread != this_thread() {
        // Leaking is safe; dropping a CallContext on another thread is not.
        std::mem::forget(context);
        return;
    }
    // A panic here has nobody to report to.
    let _ = crate::error::guard(None, || {
        drop(context);
        Ok(())
    });
}
