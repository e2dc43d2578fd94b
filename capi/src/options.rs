//! `tj_options`: how a VM runs (`tierjit::runtime::VmOptions`).

use crate::error::{guard_new, guard_status, tj_error, tj_status, Failure, TJ_ERR_ARGUMENT};
use tierjit::runtime::{TierMode, VmOptions};

/// Which tier runs a program's functions.
pub type tj_tier = u32;

/// Start every function interpreted and compile what the sampling profiler
/// finds hot, on a background thread (the default, as for the `tierjit`
/// command).
pub const TJ_TIER_AUTO: tj_tier = 0;
/// Interpret every function.
pub const TJ_TIER_INTERP: tj_tier = 1;
/// Compile every function with the baseline compiler before running.
pub const TJ_TIER_BASELINE: tj_tier = 2;
/// Compile every function with the optimizing compiler before running.
pub const TJ_TIER_OPT: tj_tier = 3;

/// Options for `tj_vm_new`: made by `tj_options_new` with the defaults,
/// changed by the `tj_options_set_` functions, freed by `tj_options_free`.
/// One `tj_options` may make any number of VMs.
#[derive(Default)]
pub struct tj_options {
    pub(crate) options: VmOptions,
}

/// New options with the defaults: `TJ_TIER_AUTO`, sampling at 1000 Hz,
/// a heap limit of 3/4 of physical memory, no host functions. NULL only if
/// tierjit panicked.
#[no_mangle]
pub extern "C" fn tj_options_new() -> *mut tj_options {
    guard_new(None, || Ok(tj_options::default()))
}

/// Frees options; NULL is allowed. VMs made with them are not affected.
///
/// # Safety
///
/// `options` is NULL or options from `tj_options_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tj_options_free(options: *mut tj_options) {
    if !options.is_null() {
        // SAFETY: live options, made by Box::into_raw (`guard_new`) and
        // freed only here.
        drop(unsafe { Box::from_raw(options) });
    }
}

/// Changes `options` with `change`, refusing NULL.
fn change(
    options: Option<&mut tj_options>,
    err: Option<&mut *mut tj_error>,
    change: impl FnOnce(&mut VmOptions) -> Result<(), Failure>,
) -> tj_status {
    guard_status(err, || {
        let options =
            options.ok_or_else(|| Failure::new(TJ_ERR_ARGUMENT, "the options are NULL"))?;
        change(&mut options.options)
    })
}

/// Sets the tier: `TJ_TIER_AUTO`, `TJ_TIER_INTERP`, `TJ_TIER_BASELINE` or
/// `TJ_TIER_OPT`; another value is `TJ_ERR_ARGUMENT`.
///
/// `options`: NULL or live options that no other thread is using; `err`:
/// NULL or where to store a `tj_error *` (as for every setter).
#[no_mangle]
pub extern "C" fn tj_options_set_tier(
    options: Option<&mut tj_options>,
    tier: tj_tier,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    change(options, err, |o| {
        o.tier = match tier {
            TJ_TIER_AUTO => TierMode::Auto,
            TJ_TIER_INTERP => TierMode::Interp,
            TJ_TIER_BASELINE => TierMode::Baseline,
            TJ_TIER_OPT => TierMode::Opt,
            other => return Err(Failure::new(TJ_ERR_ARGUMENT, format!("no tier {other}"))),
        };
        Ok(())
    })
}

/// Samples every thread `hz` times per second of its CPU time (0: the
/// default, 1000 in `TJ_TIER_AUTO` and none in the other tiers); in
/// `TJ_TIER_AUTO` the samples decide what gets compiled, and
/// `tj_vm_write_profile` writes them.
#[no_mangle]
pub extern "C" fn tj_options_set_profile_hz(
    options: Option<&mut tj_options>,
    hz: u32,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    change(options, err, |o| {
        o.profile_hz = (hz != 0).then_some(hz);
        Ok(())
    })
}

/// Sets the most bytes the program's arrays may take (0: the default, 3/4
/// of physical memory); past it, allocating is the runtime error `out of
/// memory`.
#[no_mangle]
pub extern "C" fn tj_options_set_heap_limit(
    options: Option<&mut tj_options>,
    bytes: usize,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    change(options, err, |o| {
        o.heap_limit = match bytes {
            0 => VmOptions::default().heap_limit,
            bytes => bytes,
        };
        Ok(())
    })
}

/// Keeps compiled code between runs in the directory `dir` (created when
/// first written), under the name `program` (which `tierjit cache ls`
/// shows; a program's entries under older keys are removed when a new one
/// is written). `tj_vm_free` saves the code the VM compiled; the next VM of
/// the same module in `TJ_TIER_AUTO` starts with it installed (see
/// docs/cache.md). `dir` NULL turns the cache off again (the default);
/// `program` NULL names it after `dir`.
///
/// # Safety
///
/// `dir` and `program` are NULL or NUL-terminated strings, valid during the
/// call.
#[no_mangle]
pub unsafe extern "C" fn tj_options_set_code_cache(
    options: Option<&mut tj_options>,
    dir: *const std::ffi::c_char,
    program: *const std::ffi::c_char,
    err: Option<&mut *mut tj_error>,
) -> tj_status {
    change(options, err, |o| {
        if dir.is_null() {
            o.code_cache = None;
            return Ok(());
        }
        // SAFETY: NUL-terminated and valid during the call (this
        // function's contract).
        let dir = unsafe { crate::str_arg(dir, "the cache directory") }?;
        let program = match program.is_null() {
            true => dir,
            // SAFETY: as for `dir`.
            false => unsafe { crate::str_arg(program, "the program name") }?,
        };
        o.code_cache = Some(tierjit::runtime::code_cache::CodeCacheOptions {
            dir: dir.into(),
            program: program.into(),
        });
        Ok(())
    })
}
