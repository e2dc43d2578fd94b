//! `tj_vm` and `tj_func`: a running module, and calls into it.
//!
//! A `tj_vm` keeps one `tj_func` per function of its module, made when the
//! VM is; `tj_func_lookup` hands out pointers into that table, so a
//! `tj_func` needs no freeing, lives as long as its VM, and a call can
//! tell whether a handle is its VM's by its address alone.

use crate::error::{
    guard_new, guard_status, tj_error, tj_status, Failure, TJ_ERR_ARGUMENT, TJ_ERR_NOT_FOUND,
    TJ_ERR_OUTPUT, TJ_ERR_RUNTIME, TJ_ERR_SIGNATURE, TJ_ERR_VM,
};
use crate::module::tj_module;
use crate::options::tj_options;
use crate::value::{tag_name, tj_value};
use crate::{call_with_args, str_arg};
use std::ffi::c_char;
use std::sync::Arc;
use tierjit::runtime::Vm;
use tierjit::tiers::bytecode::FuncId;
use tierjit::tiers::trap::RuntimeError;
use tierjit::tiers::Type;

/// A running module. Any number of threads may call into one VM at once;
/// freeing it is the one thing that must wait for every call to end.
pub struct tj_vm {
    pub(crate) vm: Arc<Vm>,
    functions: Arc<Functions>,
}

/// A VM's `tj_func`s, one per function of its module in id order, and the
/// module's name for backtraces; shared by the VM and its call contexts
/// (`tj_context`), which may outlive it.
pub(crate) struct Functions {
    table: Box<[tj_func]>,
    name: String,
}

/// A function of a VM's module whose signature was checked once
/// (`tj_func_lookup`), for `tj_func_call`. It lives as long as its VM.
pub struct tj_func {
    id: FuncId,
    name: String,
    params: Box<[Type]>,
    ret: Option<Type>,
}

impl tj_func {
    /// `fn(int, float) -> bool`.
    fn signature(&self) -> String {
        let params: Vec<&str> = self.params.iter().map(|t| t.name()).collect();
        match self.ret {
            Some(ret) => format!("fn({}) -> {}", params.join(", "), ret.name()),
            None => format!("fn({})", params.join(", ")),
        }
    }

    /// Refuses a function that takes or gives an array: a raw pointer
    /// into the VM's heap is no value C can hold.
    fn check_callable(&self) -> Result<(), Failure> {
        if self.params.iter().chain(&self.ret).any(|t| t.is_array()) {
            return Err(Failure::new(
                TJ_ERR_SIGNATURE,
                format!(
                    "`{}` is `{}`: arrays cannot cross the C API",
                    self.name,
                    self.signature()
                ),
            ));
        }
        Ok(())
    }

    /// Writes the register bits of `args` into `bits` (as long as the
    /// parameters), checked against the parameters.
    fn arg_bits(&self, args: &[tj_value], bits: &mut [u64]) -> Result<(), Failure> {
        if args.len() != self.params.len() {
            return Err(Failure::new(
                TJ_ERR_SIGNATURE,
                format!(
                    "`{}` is `{}`: it takes {} arguments, not {}",
                    self.name,
                    self.signature(),
                    self.params.len(),
                    args.len()
                ),
            ));
        }
        let slots = bits.iter_mut().zip(args.iter().zip(self.params.iter()));
        for (i, (slot, (arg, &ty))) in slots.enumerate() {
            *slot = arg.bits_as(ty).ok_or_else(|| {
                Failure::new(
                    TJ_ERR_SIGNATURE,
                    format!(
                        "argument {} of `{}` must be {}, not {}",
                        i + 1,
                        self.name,
                        ty.name(),
                        tag_name(arg.r#type)
                    ),
                )
            })?;
        }
        Ok(())
    }
}

impl Functions {
    /// The function whose handle is `func`, if it is one of this VM's:
    /// told by its address alone, so that no pointer of another VM, or no
    /// handle at all, is read.
    pub(crate) fn at(&self, func: *const tj_func) -> Result<&tj_func, Failure> {
        let offset = (func as usize).wrapping_sub(self.table.as_ptr() as usize);
        let size = std::mem::size_of::<tj_func>();
        match offset % size {
            0 => self.table.get(offset / size),
            _ => None,
        }
        .ok_or_else(|| Failure::new(TJ_ERR_ARGUMENT, "the function is NULL or another VM's"))
    }

    /// The function `name` of `vm`'s module, checked to be callable from C.
    fn lookup(&self, vm: &Vm, name: &str) -> Result<&tj_func, Failure> {
        let id = vm
            .module()
            .find(name)
            .ok_or_else(|| Failure::new(TJ_ERR_NOT_FOUND, format!("no function `{name}`")))?;
        let func = &self.table[id.index()];
        func.check_callable()?;
        Ok(func)
    }

    /// Calls `func` of `vm` with `args` through `call_bits` (the Vm's or a
    /// context's); a runtime error comes back with its backtrace.
    pub(crate) fn call(
        &self,
        vm: &Vm,
        func: &tj_func,
        args: &[tj_value],
        call_bits: impl FnOnce(FuncId, &[u64]) -> Result<Option<u64>, RuntimeError>,
    ) -> Result<tj_value, Failure> {
        // Most calls pass a few arguments: no allocation for them.
        let mut inline = [0u64; 8];
        let mut spilled = Vec::new();
        let bits = match func.params.len() {
            n if n <= inline.len() => &mut inline[..n],
            n => {
                spilled.resize(n, 0);
                &mut spilled[..]
            }
        };
        func.arg_bits(args, bits)?;
        match call_bits(func.id, bits) {
            Ok(bits) => Ok(tj_value::from_bits(func.ret, bits.unwrap_or(0))),
            Err(error) => Err(self.runtime_error(vm, &error)),
        }
    }

    /// A runtime error as the `tierjit` command prints it, without the
    /// final newline.
    pub(crate) fn runtime_error(&self, vm: &Vm, error: &RuntimeError) -> Failure {
        let text = tierjit::backtrace::render(error, vm.module(), &self.name);
        Failure::new(TJ_ERR_RUNTIME, text.trim_end())
    }
}

impl tj_vm {
    /// The function `name`, checked to be callable from C.
    fn lookup(&self, name: &str) -> Result<&tj_func, Failure> {
        self.functions.lookup(&self.vm, name)
    }

    /// Calls `func` on the calling thread.
    fn call(&self, func: &tj_func, args: &[tj_value]) -> Result<tj_value, Failure> {
        let functions = &self.functions;
        functions.call(&self.vm, func, args, |id, bits| self.vm.call_bits(id, bits))
    }

    /// The Vm and its functions, for a call context.
    pub(crate) fn parts(&self) -> (&Arc<Vm>, &Arc<Functions>) {
        (&self.vm, &self.functions)
    }
}

/// Prepares `module` to run, with `options` (NULL: the defaults of
/// `tj_options_new`), which must have the host functions the module was
/// compiled with. The VM takes the module, also when it fails: do not
/// free it. Gives the VM, or NULL and (`TJ_ERR_VM`) why not in `*err`.
///
/// Signals: the library installs a handler for `SIGRTMIN + 1` at the first
/// call, in every tier (it stops threads with it before it frees replaced
/// code), and, with `TJ_TIER_AUTO` or a profile rate, one for `SIGPROF`
/// (it samples the threads that run tj code); both with `SA_RESTART`. A
/// host must leave `SIGRTMIN + 1` alone, and should pick a fixed tier and
/// no profile rate if it uses `SIGPROF`. With `TJ_TIER_AUTO` the VM also
/// runs a compiler thread.
///
/// # Safety
///
/// `module` is NULL or a module from `tj_module_from_source` not yet freed
/// or given to a VM; `options` is NULL or live options; `err` is NULL or
/// points to a writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_vm_new(
    module: *mut tj_module,
    options: Option<&tj_options>,
    err: Option<&mut *mut tj_error>,
) -> *mut tj_vm {
    guard_new(err, || {
        if module.is_null() {
            return Err(Failure::new(TJ_ERR_ARGUMENT, "the module is NULL"));
        }
        // SAFETY: a live module, made by Box::into_raw (`guard_new`), which
        // this function takes (its contract).
        let tj_module { module, name } = *unsafe { Box::from_raw(module) };
        let options = match options {
            Some(options) => options.options.clone(),
            None => tj_options::default().options,
        };
        let table = module
            .funcs
            .iter()
            .enumerate()
            .map(|(i, f)| tj_func {
                id: FuncId(i as u32),
                name: f.name.clone(),
                params: f.params.clone().into_boxed_slice(),
                ret: f.ret,
            })
            .collect();
        let vm = Vm::new(module, options).map_err(|e| Failure::new(TJ_ERR_VM, e.to_string()))?;
        let functions = Arc::new(Functions { table, name });
        Ok(tj_vm { vm, functions })
    })
}

/// Writes what is left of the program's output, stops the compiler
/// thread, and frees the VM with its `tj_func`s; NULL is allowed. Free its
/// contexts (`tj_context_free`) first: a context left keeps the VM's
/// memory, and its calls, alive.
///
/// # Safety
///
/// `vm` is NULL or a VM from `tj_vm_new` not yet freed, which no thread is
/// calling into.
#[no_mangle]
pub unsafe extern "C" fn tj_vm_free(vm: *mut tj_vm) {
    if vm.is_null() {
        return;
    }
    // SAFETY: a live VM, made by Box::into_raw (`guard_new`), freed only
    // here, and no longer in use (this function's contract).
    let vm = unsafe { Box::from_raw(vm) };
    // A panic here has nobody to report to; the VM is dropped regardless.
    let _ = crate::error::guard(None, || {
        vm.vm.flush_output();
        vm.vm.shutdown();
        drop(vm);
        Ok(())
    });
}

/// The VM of an argument, or the error for NULL.
pub(crate) fn vm_arg(vm: Option<&tj_vm>) -> Result<&tj_vm, Failure> {
    vm.ok_or_else(|| Failure::new(TJ_ERR_ARGUMENT, "the VM is NULL"))
}

/// Looks up the function `name` and checks that C can call it (no array
/// parameter or result); stores its handle in `*func`. The handle lives as
/// long as the VM; calls through it with `tj_func_call` skip the lookup.
///
/// # Safety
///
/// `vm` is NULL or a live VM; `name` is NULL or a NUL-terminated string;
/// `func` is NULL or points to a writable `const tj_func *`; `err` is NULL
/// or points to a writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_func_lookup(
    vm: Option<&tj_vm>,
    name: *const c_char,
    func: Option<&mut *const tj_func>,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let vm = vm_arg(vm)?;
        // SAFETY: NULL or NUL-terminated (this function's contract).
        let name = unsafe { str_arg(name, "the function name") }?;
        let slot = func
            .ok_or_else(|| Failure::new(TJ_ERR_ARGUMENT, "the place for the function is NULL"))?;
        *slot = vm.lookup(name)?;
        Ok(())
    })
}

/// Calls `func` (from `tj_func_lookup` on this VM) with `nargs` arguments
/// on the calling thread; stores its result in `*result` (type `TJ_VOID`
/// for a function without one) unless `result` is NULL. Each argument's
/// type must be its parameter's (`TJ_ERR_SIGNATURE`). A runtime error is
/// `TJ_ERR_RUNTIME`, with the error and its backtrace as the message.
///
/// What the program prints is buffered per thread and written at the end
/// of the call when stdout is not a terminal; call `fflush(stdout)` before
/// to keep C's own output in order.
///
/// # Safety
///
/// `vm` is NULL or a live VM; `func` is NULL or a handle of a live VM;
/// `args` is NULL (with `nargs` 0) or points to `nargs` values; `result`
/// is NULL or points to a writable `tj_value`; `err` is NULL or points to
/// a writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_func_call(
    vm: Option<&tj_vm>,
    func: *const tj_func,
    args: *const tj_value,
    nargs: usize,
    result: Option<&mut tj_value>,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let vm = vm_arg(vm)?;
        let func = vm.functions.at(func)?;
        // SAFETY: NULL or `nargs` values (this function's contract).
        unsafe { call_with_args(args, nargs, result, |args| vm.call(func, args)) }
    })
}

/// `tj_func_lookup` and `tj_func_call` in one: calls the function `name`.
///
/// # Safety
///
/// As for `tj_func_call`, with `name` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tj_call(
    vm: Option<&tj_vm>,
    name: *const c_char,
    args: *const tj_value,
    nargs: usize,
    result: Option<&mut tj_value>,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let vm = vm_arg(vm)?;
        // SAFETY: NULL or NUL-terminated (this function's contract).
        let name = unsafe { str_arg(name, "the function name") }?;
        let func = vm.lookup(name)?;
        // SAFETY: NULL or `nargs` values (this function's contract).
        unsafe { call_with_args(args, nargs, result, |args| vm.call(func, args)) }
    })
}

/// Runs `main` as the `tierjit` command does, on a thread of its own with
/// a large native stack, and waits for it; stores its result (`TJ_INT`,
/// or `TJ_VOID` if `main` returns nothing) in `*result` unless `result` is
/// NULL. A runtime error in `main` or any thread it spawned is
/// `TJ_ERR_RUNTIME`.
///
/// `vm`: NULL or a live VM; `result`: NULL or a writable `tj_value`; `err`:
/// NULL or where to store a `tj_error *`.
#[no_mangle]
pub extern "C" fn tj_vm_run_main(
    vm: Option<&tj_vm>,
    result: Option<&mut tj_value>,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let vm = vm_arg(vm)?;
        let main = vm.lookup("main")?;
        if !main.params.is_empty() {
            return Err(Failure::new(
                TJ_ERR_SIGNATURE,
                format!("`main` is `{}`: it takes no arguments", main.signature()),
            ));
        }
        let value = vm
            .vm
            .run_main()
            .map_err(|e| vm.functions.runtime_error(&vm.vm, &e))?;
        let value = tj_value::from_bits(value.map(|_| Type::Int), value.unwrap_or(0) as u64);
        if let Some(r) = result {
            *r = value;
        }
        Ok(())
    })
}

/// Writes what every thread of the program printed and has not written
/// yet. `TJ_ERR_OUTPUT` if stdout could not be written (now or before):
/// what followed was dropped.
///
/// `vm`: NULL or a live VM; `err`: NULL or where to store a `tj_error *`.
#[no_mangle]
pub extern "C" fn tj_vm_flush_output(
    vm: Option<&tj_vm>,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let vm = vm_arg(vm)?;
        vm.vm.flush_output();
        if vm.vm.output_pipe_closed() {
            return Err(Failure::new(
                TJ_ERR_OUTPUT,
                "cannot write the program's output: stdout was closed",
            ));
        }
        match vm.vm.output_write_error() {
            Some(e) => Err(Failure::new(
                TJ_ERR_OUTPUT,
                format!("cannot write the program's output: {e}; the rest of it was lost"),
            )),
            None => Ok(()),
        }
    })
}

/// Starts recording a profile: the samples from here on are kept for
/// `tj_vm_write_profile`. A VM with a profile rate records from its start;
/// one in `TJ_TIER_AUTO` samples to decide what to compile, but keeps
/// nothing until this call. Another tier without a profile rate samples
/// nothing: `TJ_ERR_ARGUMENT`.
///
/// `vm`: NULL or a live VM; `err`: NULL or where to store a `tj_error *`.
#[no_mangle]
pub extern "C" fn tj_vm_start_profile(
    vm: Option<&tj_vm>,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let vm = vm_arg(vm)?;
        vm.vm.start_profile().map_err(not_sampling)
    })
}

/// Writes the profile recorded so far to the file `path`, in the
/// `.tjprof` format that `tierjit report` reads, and starts the next one
/// empty; the program and its sampling go on. `TJ_ERR_ARGUMENT` if the VM
/// samples nothing (see `tj_vm_start_profile`).
///
/// # Safety
///
/// `vm` is NULL or a live VM; `path` is NULL or a NUL-terminated string;
/// `err` is NULL or points to a writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_vm_write_profile(
    vm: Option<&tj_vm>,
    path: *const c_char,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    guard_status(err, || {
        let vm = vm_arg(vm)?;
        // SAFETY: NULL or NUL-terminated (this function's contract).
        let path = unsafe { str_arg(path, "the path") }?;
        let profile = vm
            .vm
            .take_profile(&vm.functions.name)
            .map_err(not_sampling)?;
        let written = std::fs::File::create(path).and_then(|file| {
            let mut file = std::io::BufWriter::new(file);
            tierjit_profiler::format::write(&profile, &mut file)?;
            std::io::Write::flush(&mut file)
        });
        written.map_err(|e| {
            Failure::new(
                TJ_ERR_OUTPUT,
                format!("cannot write the profile {path}: {e}"),
            )
        })
    })
}

/// The error for a profile of a VM that samples nothing.
fn not_sampling(_: tierjit::runtime::ProfileError) -> Failure {
    Failure::new(
        TJ_ERR_ARGUMENT,
        "the VM samples nothing: use TJ_TIER_AUTO or set a profile rate",
    )
}
