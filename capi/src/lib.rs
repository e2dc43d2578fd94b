//! tierjit's C API: `libtierjit.a`, `libtierjit.so` and `include/tierjit.h`.
//!
//! ```text
//!        tj_options: tier, sampling rate, heap limit, host functions
//!             │ (the host functions' names          │
//!             ▼  and signatures)                    ▼
//!  tj source ──tj_module_from_source──▶ tj_module ──tj_vm_new──▶ tj_vm
//!                                                                 │
//!   tj_value arguments ──tj_call / tj_func_call / tj_context_call──▶ a tj_value,
//!                                                                    or a tj_error
//! ```
//!
//! The contract at the boundary, for every `tj_` function:
//!
//! - **Errors are return values.** A function that can fail returns a
//!   `tj_status` (`TJ_OK` or the error's kind) or a pointer (NULL on
//!   failure), and, if its `err` argument is not NULL, stores a new
//!   `tj_error` there that the caller frees with `tj_error_free`. On
//!   success `*err` is not touched.
//! - **Panics never cross.** Every entry runs inside `catch_unwind`; a
//!   panic (a bug in tierjit) becomes `TJ_ERR_PANIC`.
//! - **What can be checked is checked.** A NULL pointer, a name that is
//!   not UTF-8, an unknown tier or type constant, arguments of the wrong
//!   number or type, a function handle of another VM: each is an error,
//!   never undefined behaviour. What cannot be checked (a dangling
//!   pointer, a string without its terminating NUL, a length longer than
//!   its buffer) is the caller's to get right.
//! - **Threads.** Any number of threads may call into one VM at once; a
//!   host function may be called from any of them. A `tj_context` is the
//!   one thing bound to a thread: the one that made it.
//! - **Ownership is in the names.** `_new` and `_from_` give an object the
//!   caller frees with the matching `_free`; `tj_vm_new` takes its module;
//!   a `tj_func` lives as long as its VM. Every `_free` accepts NULL.
//!
//! Values cross as `tj_value`, a tagged union: `TJ_INT` is tj's `int`
//! (`int64_t`), `TJ_FLOAT` its `float` (`double`), `TJ_BOOL` its `bool`;
//! arrays do not cross.

#![warn(missing_docs)]
// The Rust names are the C names: `tj_vm`, `tj_value`.
#![allow(non_camel_case_types)]

pub mod context;
pub mod error;
pub mod host;
pub mod module;
pub mod options;
pub mod value;
pub mod vm;

#[cfg(test)]
mod tests;

/// The `&str` behind a C string argument, or the error for a NULL pointer
/// or bytes that are not UTF-8; `what` names the argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that stays valid
/// and unchanged for `'a`.
unsafe fn str_arg<'a>(ptr: *const std::ffi::c_char, what: &str) -> Result<&'a str, error::Failure> {
    use error::{Failure, TJ_ERR_ARGUMENT};
    if ptr.is_null() {
        return Err(Failure::new(TJ_ERR_ARGUMENT, format!("{what} is NULL")));
    }
    // SAFETY: not NULL, and NUL-terminated and valid for 'a (this
    // function's contract).
    let bytes = unsafe { std::ffi::CStr::from_ptr(ptr) };
    bytes
        .to_str()
        .map_err(|_| Failure::new(TJ_ERR_ARGUMENT, format!("{what} is not UTF-8")))
}

/// The slice behind a C array argument `(ptr, len)`, or the error for a
/// NULL pointer with a nonzero length; `what` names the argument.
///
/// # Safety
///
/// `ptr` is NULL or points to `len` initialized `T`s that stay valid and
/// unchanged for `'a`.
unsafe fn slice_arg<'a, T>(
    ptr: *const T,
    len: usize,
    what: &str,
) -> Result<&'a [T], error::Failure> {
    use error::{Failure, TJ_ERR_ARGUMENT};
    if ptr.is_null() {
        return match len {
            0 => Ok(&[]),
            _ => Err(Failure::new(TJ_ERR_ARGUMENT, format!("{what} is NULL"))),
        };
    }
    // SAFETY: not NULL, and `len` valid `T`s for 'a (this function's
    // contract).
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// What every call entry does with its arguments `(args, nargs)` and its
/// `result`: gives `call` the arguments and stores the value it returns in
/// `*result` (unless `result` is NULL).
///
/// # Safety
///
/// `args` is NULL (with `nargs` 0) or points to `nargs` values.
unsafe fn call_with_args(
    args: *const value::tj_value,
    nargs: usize,
    result: Option<&mut value::tj_value>,
    call: impl FnOnce(&[value::tj_value]) -> Result<value::tj_value, error::Failure>,
) -> Result<(), error::Failure> {
    // SAFETY: NULL or `nargs` values (this function's contract).
    let args = unsafe { slice_arg(args, nargs, "the argument array") }?;
    let value = call(args)?;
    if let Some(r) = result {
        *r = value;
    }
    Ok(())
}
