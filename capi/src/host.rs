//! Host functions: C functions that tj code calls.
//!
//! The C host adds each to its `tj_options` with
//! `tj_options_add_host_function`; `tj_module_from_source` with those
//! options lets the program call them by name, and `tj_vm_new` with them
//! links the calls (`tierjit::HostFunctions::define_raw` underneath). A
//! call crosses as tj values: the runtime's raw bits become `tj_value`s
//! tagged with the declared parameter types, and the result the C function
//! stores is checked against the declared result type before its bits go
//! back.

use crate::error::{guard_status, tj_error, tj_status, Failure, TJ_ERR_ARGUMENT, TJ_OK};
use crate::options::tj_options;
use crate::str_arg;
use crate::value::{tag_name, tj_type, tj_value, type_of};
use std::ffi::{c_char, c_void, CStr};
use tierjit::tiers::Type;
use tierjit::HostError;

/// Bytes of the buffer a host function may write its error message into.
pub const TJ_HOST_ERROR_BYTES: usize = 256;

/// A host function. It is called with the `user_data` it was added with
/// and `nargs` arguments of the declared types; it stores its result, of
/// the declared type, in `*result` (ignored if it returns nothing; `type`
/// is already set) and returns `TJ_OK`. To fail, it writes a
/// NUL-terminated message into `err_buf` (`err_buf_len` bytes,
/// `TJ_HOST_ERROR_BYTES`) and returns any other status: the tj program
/// stops with the runtime error `host function 'NAME': MESSAGE` and its
/// backtrace, which the call into the VM returns as `TJ_ERR_RUNTIME`.
///
/// It may be called from several threads at once (every thread the program
/// spawns, every thread that calls into the VM), and must not call back
/// into the VM.
pub type tj_host_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        args: *const tj_value,
        nargs: usize,
        result: *mut tj_value,
        err_buf: *mut c_char,
        err_buf_len: usize,
    ) -> tj_status,
>;

/// A host function that is not NULL.
type HostFn = unsafe extern "C" fn(
    *mut c_void,
    *const tj_value,
    usize,
    *mut tj_value,
    *mut c_char,
    usize,
) -> tj_status;

/// Most arguments passed without allocating.
const INLINE_ARGS: usize = 8;

/// A C host function and what it was declared to take and give.
struct CHostFunction {
    f: HostFn,
    user_data: UserData,
    params: Box<[Type]>,
    ret: Option<Type>,
}

/// The host's `user_data` pointer, which the runtime's host functions must
/// carry across threads.
struct UserData(*mut c_void);

// SAFETY: the pointer is only handed back to the host's function, which
// `tj_options_add_host_function`'s contract makes callable from any thread
// with it, at once.
unsafe impl Send for UserData {}
// SAFETY: as for Send; the library never reads through the pointer.
unsafe impl Sync for UserData {}

impl CHostFunction {
    /// Calls the C function with `bits` as values of the declared types.
    fn call(&self, bits: &[u64]) -> Result<u64, HostError> {
        let mut inline = [tj_value::from_bits(None, 0); INLINE_ARGS];
        let mut spilled = Vec::new();
        let args: &mut [tj_value] = if bits.len() <= INLINE_ARGS {
            &mut inline[..bits.len()]
        } else {
            spilled.resize(bits.len(), tj_value::from_bits(None, 0));
            &mut spilled
        };
        for ((arg, &b), &ty) in args.iter_mut().zip(bits).zip(self.params.iter()) {
            *arg = tj_value::from_bits(Some(ty), b);
        }
        let mut result = tj_value::from_bits(self.ret, 0);
        let mut message = [0u8; TJ_HOST_ERROR_BYTES];
        // SAFETY: `f` is the host's function, called as its contract says:
        // `args` holds `nargs` values, `result` and `message` are writable
        // for their sizes, and `user_data` is the one it was added with.
        let status = unsafe {
            (self.f)(
                self.user_data.0,
                args.as_ptr(),
                args.len(),
                &mut result,
                message.as_mut_ptr().cast::<c_char>(),
                message.len(),
            )
        };
        if status != TJ_OK {
            return Err(HostError::new(error_message(&message, status)));
        }
        match self.ret {
            None => Ok(0),
            Some(ty) => result.bits_as(ty).ok_or_else(|| {
                HostError::new(format!(
                    "it gave {}, not {}",
                    tag_name(result.r#type),
                    ty.name()
                ))
            }),
        }
    }
}

/// The message a failed host function left in its buffer (all of it if
/// it wrote no NUL), or one made of the status if it left none.
fn error_message(buffer: &[u8], status: tj_status) -> String {
    let text = match CStr::from_bytes_until_nul(buffer) {
        Ok(text) => text.to_bytes(),
        Err(_) => buffer,
    };
    match text.is_empty() {
        true => format!("failed with status {status}"),
        false => String::from_utf8_lossy(text).into_owned(),
    }
}

/// Adds the host function `name` to `options`: tj code compiled with them
/// (`tj_module_from_source`) may call it by name with `nparams` arguments
/// of the types `params` (each `TJ_INT`, `TJ_FLOAT` or `TJ_BOOL`), giving
/// a value of type `ret` (or `TJ_VOID`: none). A function of the program
/// or a builtin of the same name takes precedence; adding a name again
/// replaces it.
///
/// # Safety
///
/// `options` is NULL or live options that no other thread is using;
/// `name` is NULL or a NUL-terminated string; `params` is NULL (with
/// `nparams` 0) or points to `nparams` types; `f` may be called with
/// `user_data` from any thread, at once, as long as a VM made with these
/// options lives; `err` is NULL or points to a writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_options_add_host_function(
    options: Option<&mut tj_options>,
    name: *const c_char,
    params: *const tj_type,
    nparams: usize,
    ret: tj_type,
    f: tj_host_fn,
    user_data: *mut c_void,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let options =
            options.ok_or_else(|| Failure::new(TJ_ERR_ARGUMENT, "the options are NULL"))?;
        // SAFETY: NULL or NUL-terminated (this function's contract).
        let name = unsafe { str_arg(name, "the host function's name") }?;
        // SAFETY: NULL or `nparams` types (this function's contract).
        let tags = unsafe { crate::slice_arg(params, nparams, "the parameter type array") }?;
        let f = f.ok_or_else(|| Failure::new(TJ_ERR_ARGUMENT, "the host function is NULL"))?;
        let bad_type = |what: String| {
            Failure::new(
                TJ_ERR_ARGUMENT,
                format!("host function '{name}': {what} must be TJ_INT, TJ_FLOAT or TJ_BOOL"),
            )
        };
        let params = tags
            .iter()
            .enumerate()
            .map(|(i, &tag)| match type_of(tag) {
                Ok(Some(ty)) => Ok(ty),
                _ => Err(bad_type(format!("parameter {} ({})", i + 1, tag_name(tag)))),
            })
            .collect::<Result<Box<[Type]>, Failure>>()?;
        let ret = type_of(ret).map_err(|tag| {
            bad_type(format!(
                "the result type ({}), if not TJ_VOID,",
                tag_name(tag)
            ))
        })?;
        let host = CHostFunction {
            f,
            user_data: UserData(user_data),
            params: params.clone(),
            ret,
        };
        options
            .options
            .host_functions
            .define_raw(name, params.into_vec(), ret, move |bits| host.call(bits));
        Ok(())
    })
}
