//! The OS threads that run spawned tj threads.
//!
//! A tj thread needs a native stack, a register stack and frame records.
//! `std::thread` would map the native stack and its guard, then a signal
//! stack and its guard in the new thread, and abort the process if that
//! last step failed ("failed to set up alternative stack guard page"),
//! which it did once about 11,000 live threads had used up the kernel's
//! map count. Here every step happens before the thread exists and can
//! fail cleanly: one [`Mapping`] holds a guard page, the native stack, the
//! register stack and the frame records (two kernel mappings a thread),
//! and `pthread_create` runs on it.
//!
//! The mapping is unmapped when the thread has been joined and its
//! [`ThreadStacks`] dropped, whichever comes last.

use std::io;
use std::sync::Arc;
use tierjit_tiers::exec::Limits;
use tierjit_tiers::stacks::{page_size, round_to_pages, Mapping, ThreadStacks};

/// Where thread creation may be made to fail, for tests
/// (`--inject-fault spawn-STEP:N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnStep {
    /// Mapping the thread's memory.
    Map,
    /// Protecting its guard page.
    Guard,
    /// `pthread_create`.
    Create,
}

/// A thread's memory, mapped and guarded, before the thread exists.
pub struct ThreadMemory {
    mapping: Arc<Mapping>,
    stack_bytes: usize,
}

impl ThreadMemory {
    /// Maps `stack_bytes` of native stack above one guard page, and the
    /// stacks for `limits` above it (given back for the thread's state).
    /// `fail` makes one step fail as if the system had refused it.
    pub fn map(
        stack_bytes: usize,
        limits: Limits,
        fail: Option<SpawnStep>,
    ) -> io::Result<(ThreadMemory, ThreadStacks)> {
        let refused = || io::Error::from_raw_os_error(libc::ENOMEM);
        let page = page_size();
        let stack_bytes = round_to_pages(stack_bytes).ok_or_else(refused)?;
        let total = ThreadStacks::bytes(limits)
            .and_then(|b| b.checked_add(page + stack_bytes))
            .ok_or_else(refused)?;
        if fail == Some(SpawnStep::Map) {
            return Err(refused());
        }
        let mapping = Arc::new(Mapping::new(total)?);
        if fail == Some(SpawnStep::Guard) {
            return Err(refused());
        }
        mapping.guard(0, page)?;
        let stacks = ThreadStacks::within(mapping.clone(), page + stack_bytes, limits);
        Ok((
            ThreadMemory {
                mapping,
                stack_bytes,
            },
            stacks,
        ))
    }
}

/// A running (or finished, not yet joined) OS thread.
///
/// Dropped without [`OsThread::join`], the thread is detached and its
/// memory is never unmapped: it may still be running on it.
pub struct OsThread {
    thread: libc::pthread_t,
    /// Holds the native stack until the thread has been joined.
    mapping: Option<Arc<Mapping>>,
}

impl OsThread {
    /// Starts `main` on a new thread named `name` (shortened to the 15
    /// bytes Linux keeps), on the native stack in `memory`. The thread
    /// state made from the memory's stacks goes to `main` separately.
    pub fn spawn(
        name: &str,
        memory: &ThreadMemory,
        fail: Option<SpawnStep>,
        main: Box<dyn FnOnce() + Send>,
    ) -> io::Result<OsThread> {
        if fail == Some(SpawnStep::Create) {
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
        let page = page_size();
        let start: Box<Box<dyn FnOnce() + Send>> = Box::new(main);
        let start = Box::into_raw(start);
        let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
        let mut thread: libc::pthread_t = 0;
        // SAFETY: `attr` is initialised before use and destroyed after; the
        // stack is the native-stack part of `memory`'s mapping, above its
        // guard page, which `OsThread` keeps mapped until the thread has
        // been joined. `start` passes ownership of the boxed closure to the
        // new thread (`run`), or back to us if it is not created.
        let status = unsafe {
            let mut status = libc::pthread_attr_init(attr.as_mut_ptr());
            if status == 0 {
                status = libc::pthread_attr_setstack(
                    attr.as_mut_ptr(),
                    memory.mapping.as_ptr().add(page) as *mut libc::c_void,
                    memory.stack_bytes,
                );
                if status == 0 {
                    status = libc::pthread_create(
                        &mut thread,
                        attr.as_ptr(),
                        run,
                        start as *mut libc::c_void,
                    );
                }
                libc::pthread_attr_destroy(attr.as_mut_ptr());
            }
            status
        };
        if status != 0 {
            // SAFETY: no thread took the closure; it is ours to free.
            drop(unsafe { Box::from_raw(start) });
            return Err(io::Error::from_raw_os_error(status));
        }
        let mut short = [0u8; 16];
        for (dst, src) in short
            .iter_mut()
            .zip(name.bytes().filter(|&b| b != 0).take(15))
        {
            *dst = src;
        }
        // SAFETY: `thread` is a live thread of ours; `short` is a NUL
        // terminated string of at most 15 bytes. A failure only leaves the
        // thread unnamed.
        unsafe { libc::pthread_setname_np(thread, short.as_ptr() as *const libc::c_char) };
        Ok(OsThread {
            thread,
            mapping: Some(memory.mapping.clone()),
        })
    }

    /// Waits for the thread to end, then lets its memory go.
    pub fn join(mut self) {
        // SAFETY: `thread` was created joinable and is joined or detached
        // once: here (`self` is consumed) or in `drop`, which sees the
        // mapping taken.
        let status = unsafe { libc::pthread_join(self.thread, std::ptr::null_mut()) };
        let mapping = self.mapping.take();
        if status != 0 {
            // Not joined (a thread joining itself): it may still use its
            // stack.
            std::mem::forget(mapping);
        }
    }
}

impl Drop for OsThread {
    fn drop(&mut self) {
        if let Some(mapping) = self.mapping.take() {
            // SAFETY: joinable, neither joined nor detached before (see
            // `join`).
            unsafe { libc::pthread_detach(self.thread) };
            std::mem::forget(mapping);
        }
    }
}

/// The start routine of every thread: runs the closure. A panic in it is
/// a bug the panic hook has already reported; it must not unwind into the
/// C caller.
extern "C" fn run(start: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `spawn` passed a `Box<Box<dyn FnOnce() + Send>>` and gave up
    // ownership of it when the thread was created.
    let main = unsafe { Box::from_raw(start as *mut Box<dyn FnOnce() + Send>) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(main));
    std::ptr::null_mut()
}

/// `prctl(PR_FUTEX_HASH, ...)` (Linux 6.17): the process's private futex
/// hash, and its sub-commands.
const PR_FUTEX_HASH: libc::c_int = 78;
const PR_FUTEX_HASH_SET_SLOTS: libc::c_ulong = 1;
/// The most slots [`fit_futex_hash`] asks for (4 MiB of kernel memory).
const MAX_FUTEX_SLOTS: usize = 1 << 16;

/// Grows the process's futex hash to fit `live` threads.
///
/// Every thread blocked in a join or on a lock waits on a futex, and the
/// kernel finds a waker's waiters by walking one chain of its hash. Since
/// Linux 6.17 a process gets a private hash sized by its CPUs, not its
/// threads: 16 chains on 2 CPUs, so with thousands of blocked threads
/// each wake walks hundreds of waiters (a 16,383-thread tree spent a
/// quarter of its time in `futex_wake`). The hash is grown to at least a
/// chain per live thread, doubling; on older kernels (one global hash) the
/// call fails and is not made again.
pub fn fit_futex_hash(live: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// The slots asked for so far (0: the kernel's own size; `usize::MAX`:
    /// this kernel has no private hash to grow).
    static SLOTS: AtomicUsize = AtomicUsize::new(0);
    let slots = SLOTS.load(Ordering::Relaxed);
    if live <= slots.max(64) || slots >= MAX_FUTEX_SLOTS {
        return;
    }
    let want = (2 * live).next_power_of_two().min(MAX_FUTEX_SLOTS);
    if SLOTS
        .compare_exchange(slots, want, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return; // another spawn is growing it
    }
    // SAFETY: prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, n, 0) only
    // resizes the kernel's futex hash of this process.
    let set = unsafe {
        libc::prctl(
            PR_FUTEX_HASH,
            PR_FUTEX_HASH_SET_SLOTS,
            want as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if set != 0 {
        SLOTS.store(usize::MAX, Ordering::Relaxed);
    }
}
