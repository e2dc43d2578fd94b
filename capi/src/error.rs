//! `tj_error`, `tj_status`, and the guard every entry runs in.
//!
//! [`guard`] runs an entry's body inside `catch_unwind`; a body reports
//! failure as a [`Failure`] (a status and a message), and a panic becomes
//! one with `TJ_ERR_PANIC`. The guard stores the failure in the caller's
//! `tj_error **err` slot, if any, and gives the status.
//!
//! Entries take pointers they only read or write through as `Option<&T>`
//! or `Option<&mut T>` (a C pointer that may be NULL, by Rust's
//! guarantee for `Option` of a reference), so that a NULL is a `None` to
//! refuse and no `unsafe` is needed to use them; the caller's promise that
//! a pointer that is not NULL is valid is the entry's contract.

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a call ended with: `TJ_OK`, or the kind of error.
pub type tj_status = i32;

/// Success.
pub const TJ_OK: tj_status = 0;
/// An argument the API refuses: a NULL pointer, a string that is not UTF-8,
/// an unknown tier or type constant, a function handle of another VM.
pub const TJ_ERR_ARGUMENT: tj_status = 1;
/// The source does not compile; the message lists every error,
/// `NAME:LINE:COL: error: MESSAGE`, one a line. Or a module image is
/// missing or damaged: `PATH: bad module image: WHY`.
pub const TJ_ERR_COMPILE: tj_status = 2;
/// The module could not be prepared to run: a host function it was
/// compiled with is missing from the VM's options or has another
/// signature there, it failed verification, or the compilers failed on
/// it.
pub const TJ_ERR_VM: tj_status = 3;
/// The module has no function of that name.
pub const TJ_ERR_NOT_FOUND: tj_status = 4;
/// The call does not fit the function: arguments of the wrong number or
/// type, or a function that takes or returns an array (arrays cannot cross
/// the C API).
pub const TJ_ERR_SIGNATURE: tj_status = 5;
/// The call ended with a runtime error of the tj program (a host
/// function's error is one too); the message is the error and its
/// backtrace, innermost frame first:
/// `runtime error: division by zero\n  at f (NAME:3)\n  at main (NAME:7)`.
pub const TJ_ERR_RUNTIME: tj_status = 6;
/// The program's output could not be written (stdout was closed, or a full
/// disk); what followed was dropped.
pub const TJ_ERR_OUTPUT: tj_status = 7;
/// A bug in tierjit: it panicked, and the panic was caught at the
/// boundary. Free the VM it happened in.
pub const TJ_ERR_PANIC: tj_status = 8;

/// An error: its status and a message, which the caller frees with
/// `tj_error_free`.
pub struct tj_error {
    status: tj_status,
    message: CString,
}

/// An error on its way to the caller.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The kind of error (never `TJ_OK`).
    pub(crate) status: tj_status,
    /// What went wrong.
    pub(crate) message: String,
}

impl Failure {
    /// A failure of kind `status`.
    pub(crate) fn new(status: tj_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    /// The failure a caught panic becomes.
    fn panic(payload: Box<dyn std::any::Any + Send>) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        Failure::new(TJ_ERR_PANIC, format!("tierjit panicked (a bug): {what}"))
    }
}

/// The caller's `tj_error **err` argument: NULL, or where to store an
/// error.
pub(crate) type ErrorSlot<'a> = Option<&'a mut *mut tj_error>;

/// Runs an entry's `body`, catching a panic; on failure, stores a new
/// `tj_error` in `err`'s place (if it has one) and gives the status.
pub(crate) fn guard<T>(
    err: ErrorSlot,
    body: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, tj_status> {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| Err(Failure::panic(p)));
    outcome.map_err(|failure| {
        let status = failure.status;
        if let Some(slot) = err {
            // A message is a C string: a NUL inside it (from source text
            // quoted in a diagnostic) would end it early.
            let message =
                CString::new(failure.message.replace('\0', "\\0")).expect("NULs were replaced");
            *slot = Box::into_raw(Box::new(tj_error { status, message }));
        }
        status
    })
}

/// [`guard`] for an entry that gives a status.
pub(crate) fn guard_status(
    err: ErrorSlot,
    body: impl FnOnce() -> Result<(), Failure>,
) -> tj_status {
    guard(err, body).err().unwrap_or(TJ_OK)
}

/// [`guard`] for an entry that gives a new object, or NULL on failure.
pub(crate) fn guard_new<T>(err: ErrorSlot, body: impl FnOnce() -> Result<T, Failure>) -> *mut T {
    guard(err, || body().map(|object| Box::into_raw(Box::new(object))))
        .unwrap_or(std::ptr::null_mut())
}

/// The error's message, a NUL-terminated UTF-8 string that lives as long
/// as the error; NULL if `error` is NULL. (`error`: NULL or an error from
/// this library not yet freed.)
#[no_mangle]
pub extern "C" fn tj_error_message(error: Option<&tj_error>) -> *const c_char {
    error.map_or(std::ptr::null(), |e| e.message.as_ptr())
}

/// The error's status (never `TJ_OK`); `TJ_ERR_ARGUMENT` if `error` is
/// NULL. (`error`: NULL or an error from this library not yet freed.)
#[no_mangle]
pub extern "C" fn tj_error_status(error: Option<&tj_error>) -> tj_status {
    error.map_or(TJ_ERR_ARGUMENT, |e| e.status)
}

/// Frees an error; NULL is allowed.
///
/// # Safety
///
/// `error` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tj_error_free(error: *mut tj_error) {
    if !error.is_null() {
        // SAFETY: a live error, which was made by Box::into_raw (`guard`)
        // and is freed only here.
        drop(unsafe { Box::from_raw(error) });
    }
}
