//! `tj_module`: a compiled tj program, not yet running.

use crate::error::{guard_new, tj_error, Failure, TJ_ERR_COMPILE};
use crate::options::tj_options;
use crate::{slice_arg, str_arg};
use std::ffi::c_char;
use tierjit::lang::diag::MAX_DIAGNOSTICS;
use tierjit::tiers::bytecode::Module;

/// A compiled program: its bytecode and the name its errors and
/// backtraces show. Made by `tj_module_from_source`; `tj_vm_new` takes it.
pub struct tj_module {
    pub(crate) module: Module,
    pub(crate) name: String,
}

/// Compiles the tj program `src` (`len` bytes, not NUL-terminated);
/// `name` (NUL-terminated) is what compile errors and backtraces call it,
/// as a file name: `NAME:3:5: error: ...`. The program may call the host
/// functions of `options` (NULL: none); run it with those options. Gives
/// the module, or NULL and (`TJ_ERR_COMPILE`) every compile error in
/// `*err`.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `src` is NULL or points to
/// `len` readable bytes; `options` is NULL or live options; `err` is NULL
/// or points to a writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_module_from_source(
    name: *const c_char,
    src: *const c_char,
    len: usize,
    options: Option<&tj_options>,
    err: Option<&mut *mut tj_error>,
) -> *mut tj_module {
    guard_new(err, || {
        // SAFETY: NULL or NUL-terminated (this function's contract).
        let name = unsafe { str_arg(name, "the module name") }?;
        // SAFETY: NULL or `len` readable bytes (this function's contract).
        let source = unsafe { slice_arg(src.cast::<u8>(), len, "the source") }?;
        let imports = options.map_or(Vec::new(), |o| o.options.host_functions.imports());
        let module = tierjit::lang::compile_with_imports(source, &imports)
            .map_err(|errors| Failure::new(TJ_ERR_COMPILE, render_errors(&errors, name)))?;
        Ok(tj_module {
            module,
            name: name.to_string(),
        })
    })
}

/// Loads the module image at `path` (NUL-terminated), written by
/// `tierjit build prog.tj -o prog.tjm`: the file is mapped and its
/// bytecode runs in place, with no parsing (docs/cache.md). Errors and
/// backtraces call it `path`. Gives the module, or NULL and
/// (`TJ_ERR_COMPILE`) why the file is not a good image in `*err`.
///
/// # Safety
///
/// `path` is NULL or a NUL-terminated string; `err` is NULL or points to a
/// writable `tj_error *`.
#[no_mangle]
pub unsafe extern "C" fn tj_module_from_image(
    path: *const c_char,
    err: Option<&mut *mut tj_error>,
) -> *mut tj_module {
    guard_new(err, || {
        // SAFETY: NULL or NUL-terminated (this function's contract).
        let path = unsafe { str_arg(path, "the image path") }?;
        let module = tierjit::image::load_file(path)
            .map_err(|e| Failure::new(TJ_ERR_COMPILE, format!("{path}: {e}")))?;
        Ok(tj_module {
            module,
            name: path.to_string(),
        })
    })
}

/// Every compile error, one a line, as the `tierjit` command prints them.
fn render_errors(errors: &[tierjit::lang::Diagnostic], name: &str) -> String {
    let mut lines: Vec<String> = errors
        .iter()
        .take(MAX_DIAGNOSTICS)
        .map(|e| e.render(name))
        .collect();
    if errors.len() > MAX_DIAGNOSTICS {
        lines.push(format!("{name}: error: too many errors; stopping"));
    }
    lines.join("\n")
}

/// Frees a module that was not given to `tj_vm_new`; NULL is allowed.
///
/// # Safety
///
/// `module` is NULL or a module from `tj_module_from_source` not yet freed
/// or given to `tj_vm_new`.
#[no_mangle]
pub unsafe extern "C" fn tj_module_free(module: *mut tj_module) {
    if !module.is_null() {
        // SAFETY: a live module, made by Box::into_raw (`guard_new`) and
        // freed only here or taken by `tj_vm_new`.
        drop(unsafe { Box::from_raw(module) });
    }
}
