//! SIGINT, SIGTERM and SIGHUP stop `tierjit run` cleanly.
//!
//! [`watch`] blocks the three signals in the calling thread before any
//! other thread exists (every thread started later inherits the mask, so
//! no thread is killed by them) and starts one thread that waits for them
//! with `sigwait`. The first one asks the Vm to stop
//! ([`Vm::request_stop`]): every tj thread stops at its next safe point,
//! and the command flushes the program's output, writes the profile, and
//! exits with 128 + the signal's number, as shells expect (130, 143,
//! 129). A signal that comes before the Vm exists, or a second one, ends
//! the process at once with that status.
//!
//! [`ignore_file_size_limit`] turns SIGXFSZ off, so that a write past the
//! file size limit (`ulimit -f`) fails with `EFBIG` and its writer reports
//! it (a warning for the profile or the jitdump) instead of the process
//! dying.
//!
//! The library installs nothing: this is the command's, as any embedder
//! would do it.

use nix::sys::signal::{SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tierjit::runtime::Vm;

/// The Vm a signal stops (set once it exists).
static TARGET: Mutex<Option<Weak<Vm>>> = Mutex::new(None);
/// The first stop signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Set by [`watch_softly`]: the first stop signal is only recorded.
static SOFT: AtomicBool = AtomicBool::new(false);

fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(signal);
    }
    set
}

/// Blocks the stop signals in this thread (and so in every thread started
/// after) and starts the thread that handles them. Call it before
/// starting any other thread. Does nothing, leaving the default actions,
/// if either step fails.
pub fn watch() {
    let set = stop_signals();
    if set.thread_block().is_err() {
        return;
    }
    let started = std::thread::Builder::new()
        .name("tj-signals".into())
        .spawn(move || loop {
            let Ok(signal) = set.wait() else { return };
            on_signal(signal as i32);
        });
    if started.is_err() {
        let _ = set.thread_unblock();
    }
}

/// [`watch`] for a command that polls [`received`] and winds down by
/// itself (`tierjit fuzz`): the first stop signal is only recorded; a
/// second one still ends the process at once.
pub fn watch_softly() {
    SOFT.store(true, Ordering::SeqCst);
    watch();
}

/// What a stop signal does: the first stops the Vm (or, before there is
/// one, the process, unless [`watch_softly`] asked only to record it); any
/// later one ends the process at once.
fn on_signal(signal: i32) {
    let first = RECEIVED
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if first && SOFT.load(Ordering::SeqCst) {
        return;
    }
    let vm = TARGET
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(Weak::upgrade);
    match vm {
        Some(vm) if first => vm.request_stop(),
        _ => std::process::exit(128 + signal),
    }
}

/// Makes `vm` the one a stop signal stops; if a signal came meanwhile,
/// stops it now.
pub fn stop_target(vm: &Arc<Vm>) {
    *TARGET.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(vm));
    if RECEIVED.load(Ordering::SeqCst) != 0 {
        vm.request_stop();
    }
}

/// The stop signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Ignores SIGXFSZ (whose default action ends the process with a core
/// dump): a write past the file size limit then fails with `EFBIG`, as a
/// write to a full disk fails with `ENOSPC`.
pub fn ignore_file_size_limit() {
    // SAFETY: SIG_IGN runs no code in the signal's context.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGXFSZ, SigHandler::SigIgn) };
}
