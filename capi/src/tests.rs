//! The C API called as C calls it, from Rust: values of every type both
//! ways, every tier, host functions, and each error a caller can make,
//! as a status and a message.

use crate::context::*;
use crate::error::*;
use crate::host::*;
use crate::module::*;
use crate::options::*;
use crate::value::*;
use crate::vm::*;
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicI64, Ordering};

type Error = (tj_status, String);

/// The status and message of `error`, which it frees.
fn take(error: *mut tj_error) -> Error {
    assert!(!error.is_null(), "no error was stored");
    // SAFETY: a live error from the library, freed here once.
    unsafe {
        let message = CStr::from_ptr(tj_error_message(error.as_ref()));
        let taken = (
            tj_error_status(error.as_ref()),
            message.to_str().unwrap().to_string(),
        );
        tj_error_free(error);
        taken
    }
}

/// Runs an entry that gives a status with an error slot: `Ok` or the
/// error, checked to agree with the status.
fn check(entry: impl FnOnce(Option<&mut *mut tj_error>) -> tj_status) -> Result<(), Error> {
    let mut error = null_mut();
    match entry(Some(&mut error)) {
        TJ_OK => {
            assert!(error.is_null(), "an error with TJ_OK");
            Ok(())
        }
        status => {
            let taken = take(error);
            assert_eq!(taken.0, status);
            Err(taken)
        }
    }
}

/// Options that the test owns and frees.
struct Options(*mut tj_options);

impl Options {
    fn new(tier: tj_tier) -> Options {
        let options = Options(tj_options_new());
        check(|err| tj_options_set_tier(options.get(), tier, err)).unwrap();
        options
    }

    fn get<'a>(&self) -> Option<&'a mut tj_options> {
        // SAFETY: live options, used by one test thread at a time.
        unsafe { self.0.as_mut() }
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: live options, freed once.
        unsafe { tj_options_free(self.0) };
    }
}

/// A VM that the test owns and frees.
struct Vm(*mut tj_vm);

impl Vm {
    fn get<'a>(&self) -> Option<&'a tj_vm> {
        // SAFETY: a live VM until the test drops it.
        unsafe { self.0.as_ref() }
    }

    /// `name(args)` by `tj_call`: the result, or the error.
    fn call(&self, name: &str, args: &[tj_value]) -> Result<tj_value, Error> {
        let name = CString::new(name).unwrap();
        let mut result = int(-1);
        // SAFETY: a valid name and `args.len()` values.
        check(|err| unsafe {
            tj_call(
                self.get(),
                name.as_ptr(),
                args.as_ptr(),
                args.len(),
                Some(&mut result),
                err,
            )
        })?;
        Ok(result)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: a live VM, freed once, with no calls under way.
        unsafe { tj_vm_free(self.0) };
    }
}

/// Compiles `source` (named `prog.tj`) with `options`.
fn compile(source: &str, options: &Options) -> Result<*mut tj_module, Error> {
    let mut error = null_mut();
    let (src, len) = (source.as_ptr().cast(), source.len());
    // SAFETY: valid strings; `src` has `len` bytes.
    let module = unsafe {
        tj_module_from_source(
            c"prog.tj".as_ptr(),
            src,
            len,
            options.get().map(|o| &*o),
            Some(&mut error),
        )
    };
    match module.is_null() {
        true => Err(take(error)),
        false => Ok(module),
    }
}

/// A VM running `source` with `options`, or the error of compiling or
/// starting it.
fn try_start(source: &str, options: &Options) -> Result<Vm, Error> {
    let module = compile(source, options)?;
    let mut error = null_mut();
    // SAFETY: a module from tj_module_from_source, given away once.
    let vm = unsafe { tj_vm_new(module, options.get().map(|o| &*o), Some(&mut error)) };
    match vm.is_null() {
        true => Err(take(error)),
        false => Ok(Vm(vm)),
    }
}

fn start(source: &str, tier: tj_tier) -> Vm {
    try_start(source, &Options::new(tier)).unwrap()
}

fn int(i: i64) -> tj_value {
    tj_value {
        r#type: TJ_INT,
        of: tj_value_of { i },
    }
}
fn float(f: f64) -> tj_value {
    tj_value {
        r#type: TJ_FLOAT,
        of: tj_value_of { f },
    }
}
fn boolean(b: bool) -> tj_value {
    tj_value {
        r#type: TJ_BOOL,
        of: tj_value_of { b },
    }
}

/// The value of `v`, checked to be of type `ty`, as its Debug text.
fn shown(v: tj_value, ty: tj_type) -> String {
    assert_eq!(v.r#type, ty, "{v:?}");
    format!("{v:?}")
}

const TIERS: [tj_tier; 4] = [TJ_TIER_AUTO, TJ_TIER_INTERP, TJ_TIER_BASELINE, TJ_TIER_OPT];

const TYPES: &str = "
    fn pick(c: bool, a: int, x: float) -> float { if c { return float(a); } return x; }
    fn neg(b: bool) -> bool { return !b; }
    fn add(a: int, b: int) -> int { return a + b; }
    fn nothing(a: int) { }
    fn sum(xs: [int]) -> int { return len(xs); }
    fn div(a: int, b: int) -> int { return a / b; }
    fn outer(a: int) -> int {
        return div(a, 0);
    }
    fn main() -> int { return 42; }";

#[test]
fn values_of_every_type_cross_both_ways_in_every_tier() {
    for tier in TIERS {
        let vm = start(TYPES, tier);
        let pick = |c, a, x| vm.call("pick", &[boolean(c), int(a), float(x)]).unwrap();
        assert_eq!(shown(pick(true, -3, 0.5), TJ_FLOAT), "-3.0");
        assert_eq!(shown(pick(false, -3, 0.5), TJ_FLOAT), "0.5");
        assert_eq!(
            shown(vm.call("neg", &[boolean(false)]).unwrap(), TJ_BOOL),
            "true"
        );
        let sum = vm.call("add", &[int(i64::MAX), int(1)]).unwrap();
        assert_eq!(shown(sum, TJ_INT), i64::MIN.to_string(), "wraps");
        assert_eq!(vm.call("nothing", &[int(1)]).unwrap().r#type, TJ_VOID);
        let mut result = int(0);
        check(|err| tj_vm_run_main(vm.get(), Some(&mut result), err)).unwrap();
        assert_eq!(shown(result, TJ_INT), "42", "tier {tier}");
    }
}

#[test]
fn a_looked_up_function_is_called_without_its_name_and_only_on_its_vm() {
    let (vm, other) = (start(TYPES, TJ_TIER_INTERP), start(TYPES, TJ_TIER_INTERP));
    let mut add: *const tj_func = null();
    // SAFETY: a valid name.
    check(|err| unsafe { tj_func_lookup(vm.get(), c"add".as_ptr(), Some(&mut add), err) }).unwrap();
    let args = [int(40), int(2)];
    let call = |vm: &Vm, func: *const tj_func| {
        let mut result = int(0);
        // SAFETY: two values.
        check(|err| unsafe {
            tj_func_call(vm.get(), func, args.as_ptr(), 2, Some(&mut result), err)
        })
        .map(|()| result)
    };
    for _ in 0..3 {
        assert_eq!(shown(call(&vm, add).unwrap(), TJ_INT), "42");
    }
    let refused = (
        TJ_ERR_ARGUMENT,
        "the function is NULL or another VM's".to_string(),
    );
    assert_eq!(call(&other, add).unwrap_err(), refused);
    assert_eq!(call(&vm, null()).unwrap_err(), refused);
    assert_eq!(
        call(&vm, add.cast::<u8>().wrapping_add(8).cast()).unwrap_err(),
        refused
    );
}

#[test]
fn a_runtime_error_comes_back_with_its_backtrace() {
    let vm = start(TYPES, TJ_TIER_BASELINE);
    let error = vm.call("outer", &[int(1)]).unwrap_err();
    let text = "runtime error: division by zero\n  at div (prog.tj:7)\n  at outer (prog.tj:9)";
    assert_eq!(error, (TJ_ERR_RUNTIME, text.into()));
    // The VM goes on.
    assert_eq!(
        shown(vm.call("add", &[int(1), int(2)]).unwrap(), TJ_INT),
        "3"
    );
}

#[test]
fn calls_that_do_not_fit_the_function_are_refused() {
    let vm = start(TYPES, TJ_TIER_INTERP);
    let refused = |name: &str, args: &[tj_value]| vm.call(name, args).unwrap_err();
    assert_eq!(
        refused("nope", &[]),
        (TJ_ERR_NOT_FOUND, "no function `nope`".into())
    );
    let message = "`add` is `fn(int, int) -> int`: it takes 2 arguments, not 1";
    assert_eq!(
        refused("add", &[int(1)]),
        (TJ_ERR_SIGNATURE, message.into())
    );
    let message = "argument 2 of `add` must be int, not float";
    assert_eq!(
        refused("add", &[int(1), float(2.0)]),
        (TJ_ERR_SIGNATURE, message.into())
    );
    let garbage = tj_value {
        r#type: 77,
        of: tj_value_of { i: 0 },
    };
    assert_eq!(
        refused("neg", &[garbage]).1,
        "argument 1 of `neg` must be bool, not type 77"
    );
    let message = "`sum` is `fn([int]) -> int`: arrays cannot cross the C API";
    assert_eq!(refused("sum", &[]), (TJ_ERR_SIGNATURE, message.into()));
}

#[test]
fn a_bool_argument_of_any_nonzero_byte_is_true() {
    let vm = start(TYPES, TJ_TIER_INTERP);
    let byte_two = tj_value {
        r#type: TJ_BOOL,
        of: tj_value_of { i: 2 },
    };
    assert_eq!(
        shown(vm.call("neg", &[byte_two]).unwrap(), TJ_BOOL),
        "false"
    );
}

#[test]
fn null_pointers_bad_strings_and_bad_constants_are_errors() {
    let vm = start(TYPES, TJ_TIER_INTERP);
    let refused = |r: Result<(), Error>| {
        let (status, message) = r.unwrap_err();
        assert_eq!(status, TJ_ERR_ARGUMENT, "{message}");
        message
    };
    let call = |name: *const c_char, args: *const tj_value, nargs| {
        // SAFETY: `name` is NULL or valid; `args` is NULL.
        check(|err| unsafe { tj_call(vm.get(), name, args, nargs, None, err) })
    };
    assert_eq!(
        refused(call(null(), null(), 0)),
        "the function name is NULL"
    );
    assert_eq!(
        refused(call(c"caf\xe9".as_ptr(), null(), 0)),
        "the function name is not UTF-8"
    );
    assert_eq!(
        refused(call(c"add".as_ptr(), null(), 2)),
        "the argument array is NULL"
    );
    // SAFETY: a valid name.
    let no_vm = check(|err| unsafe { tj_call(None, c"add".as_ptr(), null(), 0, None, err) });
    assert_eq!(refused(no_vm), "the VM is NULL");
    assert_eq!(
        refused(check(|err| tj_options_set_tier(None, TJ_TIER_OPT, err))),
        "the options are NULL"
    );
    let options = Options::new(TJ_TIER_INTERP);
    assert_eq!(
        refused(check(|err| tj_options_set_tier(options.get(), 9, err))),
        "no tier 9"
    );
    let mut error = null_mut();
    // SAFETY: a NULL module is refused.
    assert!(unsafe { tj_vm_new(null_mut(), None, Some(&mut error)) }.is_null());
    assert_eq!(take(error), (TJ_ERR_ARGUMENT, "the module is NULL".into()));
    let source = "fn main() {}";
    // SAFETY: `source` has `len` bytes; a NULL name is refused.
    let module = unsafe {
        tj_module_from_source(null(), source.as_ptr().cast(), 12, None, Some(&mut error))
    };
    assert!(module.is_null());
    assert_eq!(
        take(error),
        (TJ_ERR_ARGUMENT, "the module name is NULL".into())
    );
    // With no error slot the status alone says it.
    // SAFETY: a NULL name is refused.
    assert_eq!(
        unsafe { tj_call(vm.get(), null(), null(), 0, None, None) },
        TJ_ERR_ARGUMENT
    );
    // The frees and accessors take NULL.
    // SAFETY: NULL is allowed.
    unsafe {
        tj_vm_free(null_mut());
        tj_module_free(null_mut());
        tj_options_free(null_mut());
        tj_error_free(null_mut());
    }
    assert!(tj_error_message(None).is_null());
    assert_eq!(tj_error_status(None), TJ_ERR_ARGUMENT);
}

#[test]
fn compile_errors_come_back_one_a_line() {
    let source = "fn main() -> int {\n  return x;\n}\nfn f( {}";
    let (status, message) = compile(source, &Options::new(TJ_TIER_INTERP)).unwrap_err();
    assert_eq!(status, TJ_ERR_COMPILE);
    assert!(message.starts_with("prog.tj:4:"), "{message}");
    assert!(!message.ends_with('\n'));
}

/// A host function that adds its argument to the counter at `user_data`
/// and gives the new total; it refuses a negative argument.
unsafe extern "C" fn accumulate(
    user_data: *mut c_void,
    args: *const tj_value,
    nargs: usize,
    result: *mut tj_value,
    err_buf: *mut c_char,
    err_buf_len: usize,
) -> tj_status {
    assert_eq!(nargs, 1);
    // SAFETY: the library passes one value, a writable result and a
    // buffer of `err_buf_len` bytes; `user_data` is the test's counter.
    unsafe {
        let n = (*args).of.i;
        if n < 0 {
            let message = format!("{n} is negative\0");
            assert!(message.len() <= err_buf_len);
            std::ptr::copy_nonoverlapping(message.as_ptr().cast(), err_buf, message.len());
            return TJ_ERR_RUNTIME;
        }
        let counter = &*user_data.cast::<AtomicI64>();
        (*result).of.i = counter.fetch_add(n, Ordering::Relaxed) + n;
    }
    TJ_OK
}

/// A host function that claims to give an int but gives a float.
unsafe extern "C" fn liar(
    _: *mut c_void,
    _: *const tj_value,
    _: usize,
    result: *mut tj_value,
    _: *mut c_char,
    _: usize,
) -> tj_status {
    // SAFETY: the result is writable.
    unsafe { *result = float(1.5) };
    TJ_OK
}

/// Adds a host function to `options`.
fn add_host(
    options: &Options,
    name: &CStr,
    params: &[tj_type],
    ret: tj_type,
    f: tj_host_fn,
    user_data: *mut c_void,
) -> Result<(), Error> {
    // SAFETY: a valid name, `params.len()` types; `f` may be called from
    // any thread with `user_data`, which outlives every VM of the test.
    check(|err| unsafe {
        tj_options_add_host_function(
            options.get(),
            name.as_ptr(),
            params.as_ptr(),
            params.len(),
            ret,
            f,
            user_data,
            err,
        )
    })
}

/// Options with `accumulate` (int -> int) on `counter` and `liar`.
fn host_options(tier: tj_tier, counter: &AtomicI64) -> Options {
    let options = Options::new(tier);
    let user_data = counter as *const AtomicI64 as *mut c_void;
    add_host(
        &options,
        c"accumulate",
        &[TJ_INT],
        TJ_INT,
        Some(accumulate),
        user_data,
    )
    .unwrap();
    add_host(&options, c"liar", &[], TJ_INT, Some(liar), null_mut()).unwrap();
    options
}

const HOST: &str = "
fn total(n: int) -> int {
    let last = 0;
    for i in 0..n { last = accumulate(i); }
    return last;
}
fn refused() -> int {
    return accumulate(-5);
}
fn lie() -> int { return liar(); }
fn main() {}";

#[test]
fn host_functions_are_called_with_their_user_data_in_every_tier() {
    for tier in TIERS {
        let counter = AtomicI64::new(0);
        let vm = try_start(HOST, &host_options(tier, &counter)).unwrap();
        let total = vm.call("total", &[int(10_000)]).unwrap();
        assert_eq!(shown(total, TJ_INT), "49995000", "tier {tier}");
        assert_eq!(counter.load(Ordering::Relaxed), 49_995_000);
        let text =
            "runtime error: host function 'accumulate': -5 is negative\n  at refused (prog.tj:8)";
        assert_eq!(
            vm.call("refused", &[]).unwrap_err(),
            (TJ_ERR_RUNTIME, text.into()),
            "tier {tier}"
        );
        let text =
            "runtime error: host function 'liar': it gave float, not int\n  at lie (prog.tj:10)";
        assert_eq!(vm.call("lie", &[]).unwrap_err().1, text);
    }
}

#[test]
fn host_functions_are_declared_with_checked_types() {
    let options = Options::new(TJ_TIER_INTERP);
    let refused = |params: &[tj_type], ret, f| {
        add_host(&options, c"h", params, ret, f, null_mut())
            .unwrap_err()
            .1
    };
    let message = "host function 'h': parameter 2 (void) must be TJ_INT, TJ_FLOAT or TJ_BOOL";
    assert_eq!(refused(&[TJ_INT, TJ_VOID], TJ_INT, Some(liar)), message);
    let message = "host function 'h': the result type (type 12), if not TJ_VOID, must be TJ_INT, TJ_FLOAT or TJ_BOOL";
    assert_eq!(refused(&[], 12, Some(liar)), message);
    assert_eq!(refused(&[], TJ_INT, None), "the host function is NULL");
}

#[test]
fn a_module_runs_only_with_the_host_functions_it_was_compiled_with() {
    let counter = AtomicI64::new(0);
    let module = compile(HOST, &host_options(TJ_TIER_INTERP, &counter)).unwrap();
    let mut error = null_mut();
    // SAFETY: the module, given away once.
    assert!(unsafe { tj_vm_new(module, None, Some(&mut error)) }.is_null());
    let (status, message) = take(error);
    assert_eq!(status, TJ_ERR_VM);
    assert!(
        message.contains("host function 'accumulate', which the host does not define"),
        "{message}"
    );
    // Without them, the program cannot name them.
    let (status, message) = compile(HOST, &Options::new(TJ_TIER_INTERP)).unwrap_err();
    assert_eq!(status, TJ_ERR_COMPILE);
    assert!(message.starts_with("prog.tj:4:"), "{message}");
}

/// The functions of the profile `vm` writes now, if it has samples.
fn profiled(vm: &Vm) -> Result<Vec<String>, Error> {
    let path = std::env::temp_dir().join(format!("tierjit-capi-{}.tjprof", std::process::id()));
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    check(|err| unsafe { tj_vm_write_profile(vm.get(), c_path.as_ptr(), err) })?;
    let profile = tierjit_profiler::format::read(&std::fs::read(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    let sampled = |f: &usize| {
        profile
            .samples
            .iter()
            .any(|s| s.frames.iter().any(|x| x.func as usize == *f))
    };
    let names = (0..profile.functions.len()).filter(sampled);
    Ok(names.map(|f| profile.functions[f].clone()).collect())
}

const SPIN: &str =
    "fn spin(n: int) -> int { let s = 0; for i in 0..n { s = s + i % 7; } return s; }
                    fn main() {}";

#[test]
fn a_vm_with_a_profile_rate_records_from_its_start() {
    let options = Options::new(TJ_TIER_INTERP);
    check(|err| tj_options_set_profile_hz(options.get(), 5000, err)).unwrap();
    let vm = try_start(SPIN, &options).unwrap();
    vm.call("spin", &[int(20_000_000)]).unwrap();
    assert_eq!(profiled(&vm).unwrap(), ["spin"]);
}

#[test]
fn an_automatic_vm_records_from_start_profile_and_others_not_at_all() {
    let vm = start(SPIN, TJ_TIER_AUTO);
    vm.call("spin", &[int(1_000)]).unwrap();
    assert_eq!(
        profiled(&vm).unwrap(),
        Vec::<String>::new(),
        "nothing kept before"
    );
    check(|err| tj_vm_start_profile(vm.get(), err)).unwrap();
    vm.call("spin", &[int(50_000_000)]).unwrap();
    assert_eq!(profiled(&vm).unwrap(), ["spin"]);
    let vm = start(SPIN, TJ_TIER_BASELINE);
    let message = "the VM samples nothing: use TJ_TIER_AUTO or set a profile rate";
    assert_eq!(
        check(|err| tj_vm_start_profile(vm.get(), err))
            .unwrap_err()
            .1,
        message
    );
    assert_eq!(profiled(&vm).unwrap_err().1, message);
}

#[test]
fn options_default_to_automatic_tiering() {
    assert_eq!(
        tj_options::default().options.tier,
        tierjit::runtime::TierMode::Auto
    );
}

/// A context the test owns and frees.
struct Context(*mut tj_context);

impl Context {
    fn new(vm: &Vm) -> Context {
        let mut error = null_mut();
        let context = tj_context_new(vm.get(), Some(&mut error));
        assert!(!context.is_null(), "{:?}", take(error));
        Context(context)
    }

    fn call(&self, func: *const tj_func, args: &[tj_value]) -> Result<tj_value, Error> {
        let mut result = int(-1);
        // SAFETY: a live context (or one the call refuses); `args.len()`
        // values.
        check(|err| unsafe {
            tj_context_call(
                self.0.as_mut(),
                func,
                args.as_ptr(),
                args.len(),
                Some(&mut result),
                err,
            )
        })?;
        Ok(result)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: a live context, freed once.
        unsafe { tj_context_free(self.0) };
    }
}

fn lookup(vm: &Vm, name: &CStr) -> *const tj_func {
    let mut func: *const tj_func = null();
    // SAFETY: a valid name.
    check(|err| unsafe { tj_func_lookup(vm.get(), name.as_ptr(), Some(&mut func), err) }).unwrap();
    func
}

#[test]
fn a_context_calls_its_vm_from_its_own_thread_in_every_tier() {
    for tier in TIERS {
        let counter = AtomicI64::new(0);
        let vm = try_start(HOST, &host_options(tier, &counter)).unwrap();
        let cx = Context::new(&vm);
        let total = lookup(&vm, c"total");
        for _ in 0..3 {
            assert_eq!(
                shown(cx.call(total, &[int(100)]).unwrap(), TJ_INT),
                (counter.load(Ordering::Relaxed)).to_string()
            );
        }
        let refused = lookup(&vm, c"refused");
        let text =
            "runtime error: host function 'accumulate': -5 is negative\n  at refused (prog.tj:8)";
        assert_eq!(
            cx.call(refused, &[]).unwrap_err(),
            (TJ_ERR_RUNTIME, text.into()),
            "tier {tier}"
        );
        let message = "`total` is `fn(int) -> int`: it takes 1 arguments, not 0";
        assert_eq!(
            cx.call(total, &[]).unwrap_err(),
            (TJ_ERR_SIGNATURE, message.into())
        );
    }
}

#[test]
fn a_context_refuses_other_threads_and_other_vms() {
    let (vm, other) = (start(TYPES, TJ_TIER_INTERP), start(TYPES, TJ_TIER_INTERP));
    let cx = Context::new(&vm);
    let (add, other_add) = (lookup(&vm, c"add"), lookup(&other, c"add"));
    assert_eq!(
        shown(cx.call(add, &[int(40), int(2)]).unwrap(), TJ_INT),
        "42"
    );
    let refused = cx.call(other_add, &[int(40), int(2)]).unwrap_err();
    assert_eq!(
        refused,
        (
            TJ_ERR_ARGUMENT,
            "the function is NULL or another VM's".into()
        )
    );
    let cx_address = cx.0 as usize;
    let add_address = add as usize;
    let from_elsewhere = std::thread::spawn(move || {
        let borrowed = std::mem::ManuallyDrop::new(Context(cx_address as *mut tj_context));
        let refused = borrowed.call(add_address as *const tj_func, &[int(1), int(2)]);
        // Freed on the wrong thread: left, not freed.
        // SAFETY: a live context, which this leaves alone.
        unsafe { tj_context_free(cx_address as *mut tj_context) };
        refused
    });
    let refused = from_elsewhere.join().unwrap().unwrap_err();
    assert_eq!(
        refused,
        (
            TJ_ERR_ARGUMENT,
            "the context belongs to another thread".into()
        )
    );
    // Still the test thread's.
    assert_eq!(shown(cx.call(add, &[int(1), int(2)]).unwrap(), TJ_INT), "3");
    // SAFETY: a NULL context is refused.
    let no_context = check(|err| unsafe { tj_context_call(None, add, null(), 0, None, err) });
    assert_eq!(no_context.unwrap_err().1, "the context is NULL");
}

/// A module image written by the runtime loads through the C API and runs;
/// a damaged one is `TJ_ERR_COMPILE` with the image loader's reason.
#[test]
fn a_module_image_loads_and_a_damaged_one_is_refused() {
    let source = b"fn twice(x: int) -> int { return 2 * x; } fn main() {}";
    let module = tierjit::lang::compile(source).unwrap();
    let path = std::env::temp_dir().join(format!("capi-image-{}.tjm", std::process::id()));
    tierjit::image::write_file(&module, &path).unwrap();
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let load = || {
        let mut error = null_mut();
        // SAFETY: a NUL-terminated path and a writable error slot.
        let module = unsafe { tj_module_from_image(c_path.as_ptr(), Some(&mut error)) };
        match module.is_null() {
            true => Err(take(error)),
            false => Ok(module),
        }
    };
    let loaded = load().unwrap();
    let mut error = null_mut();
    // SAFETY: a module from tj_module_from_image, given away once.
    let vm = Vm(unsafe { tj_vm_new(loaded, None, Some(&mut error)) });
    assert!(!vm.0.is_null());
    // SAFETY: the union's int, as the call gives an int.
    assert_eq!(unsafe { vm.call("twice", &[int(21)]).unwrap().of.i }, 42);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let (status, message) = load().unwrap_err();
    assert_eq!(status, TJ_ERR_COMPILE);
    assert!(
        message.contains("bad module image: checksum mismatch"),
        "{message}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_code_cache_set_in_the_options_starts_the_next_vm_with_its_code() {
    let dir = std::env::temp_dir().join(format!("tierjit-capi-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_c = CString::new(dir.display().to_string()).unwrap();
    let with_cache = |tier| {
        let options = Options::new(tier);
        // SAFETY: valid strings.
        check(|err| unsafe {
            tj_options_set_code_cache(options.get(), dir_c.as_ptr(), c"types".as_ptr(), err)
        })
        .unwrap();
        options
    };
    // An eager VM saves every function's optimized code when freed.
    let eager = try_start(TYPES, &with_cache(TJ_TIER_OPT)).unwrap();
    assert_eq!(
        shown(eager.call("add", &[int(40), int(2)]).unwrap(), TJ_INT),
        "42"
    );
    drop(eager);
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, 1, "one cache file in {}", dir.display());
    // The next automatic VM of the same module starts with that code.
    let warm = try_start(TYPES, &with_cache(TJ_TIER_AUTO)).unwrap();
    let loaded = warm.get().unwrap().vm.code_cache_loaded().unwrap();
    assert!(loaded.funcs >= 4, "{loaded:?}");
    assert_eq!(
        shown(warm.call("add", &[int(40), int(2)]).unwrap(), TJ_INT),
        "42"
    );
    drop(warm);
    // NULL turns it off again; a NULL program is named after the directory.
    let options = with_cache(TJ_TIER_AUTO);
    // SAFETY: NULL strings are allowed.
    check(|err| unsafe { tj_options_set_code_cache(options.get(), null(), null(), err) }).unwrap();
    assert!(options.get().unwrap().options.code_cache.is_none());
    // SAFETY: a valid string and a NULL one.
    check(|err| unsafe { tj_options_set_code_cache(options.get(), dir_c.as_ptr(), null(), err) })
        .unwrap();
    let set = options.get().unwrap().options.code_cache.clone().unwrap();
    assert_eq!(set.program, dir.display().to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}
