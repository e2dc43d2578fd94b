//! Safe retirement: replaced code is freed only after a walk of every
//! registered thread's stack finds no pc or return address inside it.
//!
//! **Registry.** Every thread that runs tj code registers for as long as it
//! does: its pthread, stack bounds, interpreted frame records and the
//! method-table entry it is about to call.
//!
//! **Handshake.** To free blobs, the retirer publishes their address ranges
//! and sends each registered thread a real-time signal. The handler, on
//! the target thread, looks for the blobs' addresses in that thread's
//! state: the interrupted pc and every other register, the frames of the
//! profiler's walk (the `rbp` chain, exact at every pc of generated code
//! and of `interpreter_entry`'s wrapper, prologues and epilogues included,
//! through their no-frame tables), the helper call site in the context,
//! and the interpreted records with their native callers. It marks every
//! range any address falls in, then acknowledges. Blobs that no
//! thread marked are removed from the code map and freed (with `int3`
//! filling, so a thread that wrongly ran freed code would stop at once);
//! the others wait for the next round. A thread that does not answer in
//! time keeps every blob alive. Signal delivery also serializes each
//! thread's instruction stream, so reused code bytes are never stale.
//!
//! **The interpreter's window.** The interpreter reads a method-table slot
//! and calls the entry a few instructions later; a handshake between the
//! two could miss the entry. So it publishes the entry it is about to call
//! in its thread state, then re-reads the slot and retries if it changed
//! (the retirer switched the slot before the handshake, so a stale read is
//! always caught by one of the two).
//!
//! The handler allocates nothing and takes no lock.

use super::code_memory::Blob;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};
use tierjit_profiler::codemap::CodeMap as RangeMap;
use tierjit_profiler::ring::{FRAME_NATIVE, FRAME_PAYLOAD};
use tierjit_profiler::stackwalk::{
    visit_frames, visit_record_returns, InterpFrames, Interrupted, StackBounds,
};

/// What the handshake handler needs of one registered thread.
pub struct ThreadEntry {
    /// The kernel thread id (signals go by tid: a pthread_t may dangle once
    /// its thread ended).
    tid: libc::pid_t,
    bounds: StackBounds,
    frames: InterpFrames,
    /// The method-table entry the interpreter is about to call (0 if none).
    calling: *const AtomicUsize,
    /// The last handshake this thread answered.
    ack: AtomicU64,
    /// When the handler that answered last was entered, and how long it
    /// took (`monotonic_ns`), written before `ack`.
    answered_at: AtomicU64,
    walk_ns: AtomicU64,
}

// SAFETY: the raw pointers point into the registering thread's own state,
// which outlives the registration; only that thread's signal handler
// dereferences them. Other threads only read `tid` and `ack`.
unsafe impl Send for ThreadEntry {}
// SAFETY: as above.
unsafe impl Sync for ThreadEntry {}

thread_local! {
    /// This thread's registry entry (null if none). Const initialised and
    /// without Drop, so the handler may read it.
    static CURRENT: Cell<*const ThreadEntry> = const { Cell::new(std::ptr::null()) };
}

/// One published request: the ranges to check and a flag per range.
struct Request {
    epoch: u64,
    ranges: Vec<(usize, usize)>,
    /// The lowest start and highest end of `ranges`.
    lowest: usize,
    highest: usize,
    in_use: Vec<AtomicBool>,
    map: Arc<RangeMap>,
}

/// The request being answered (null between handshakes).
static REQUEST: AtomicPtr<Request> = AtomicPtr::new(std::ptr::null_mut());
/// One handshake at a time in the process.
static HANDSHAKE: Mutex<()> = Mutex::new(());
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// CLOCK_MONOTONIC in nanoseconds; async-signal-safe (clock_gettime is),
/// so the handler and the retirer time on one clock.
fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The calling thread's CPU time in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

fn handshake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

extern "C" fn on_handshake(_: libc::c_int, _: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: errno is thread-local; restored before returning.
    let errno = unsafe { *libc::__errno_location() };
    let entered = monotonic_ns();
    let entry = CURRENT.with(|c| c.get());
    let request = REQUEST.load(Ordering::Acquire);
    if !entry.is_null() && !request.is_null() {
        // SAFETY: a non-null CURRENT is this thread's live entry; the
        // request stays published (and alive) until every registered thread
        // has acknowledged or the retirer gave up waiting, and the retirer
        // frees it only after unpublishing it and taking the lock that a
        // handler never holds... (it waits for acks, see `handshake`).
        let (entry, request) = unsafe { (&*entry, &*request) };
        // SAFETY: the kernel passes this thread's interrupted context.
        let gregs = unsafe { (*(context as *const libc::ucontext_t)).uc_mcontext.gregs };
        // SAFETY: as above.
        let at = unsafe { Interrupted::from_signal_context(context) };
        let mark = |addr: usize| {
            // Most words are no code address at all: one compare rejects them.
            if addr < request.lowest || addr >= request.highest {
                return;
            }
            for (i, &(start, end)) in request.ranges.iter().enumerate() {
                if start <= addr && addr < end {
                    request.in_use[i].store(true, Ordering::Relaxed);
                }
            }
        };
        mark(at.pc);
        // Conservatively, every register, besides the exact walk below: an
        // entry may sit in a register between loading it and calling it. A
        // word that only looks like a code address keeps a blob alive one
        // round longer, which is safe. The stack is not scanned: every
        // native frame is reached by the walk (docs/tiering.md).
        for &value in gregs.iter() {
            mark(value as usize);
        }
        if !entry.calling.is_null() {
            // SAFETY: points at this thread's live ThreadState field.
            mark(unsafe { (*entry.calling).load(Ordering::Relaxed) });
        }
        visit_record_returns(&entry.frames, |ret| mark(ret.wrapping_sub(1)));
        visit_frames(&entry.bounds, &request.map, &entry.frames, at, |word| {
            if word & !FRAME_PAYLOAD == FRAME_NATIVE {
                mark((word & FRAME_PAYLOAD) as usize);
            }
            true
        });
        entry.answered_at.store(entered, Ordering::Relaxed);
        entry
            .walk_ns
            .store(monotonic_ns().saturating_sub(entered), Ordering::Relaxed);
        entry.ack.store(request.epoch, Ordering::Release);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

fn install_handler() -> bool {
    static INSTALL: Once = Once::new();
    static OK: AtomicBool = AtomicBool::new(false);
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction with our handler, SA_SIGINFO |
        // SA_RESTART and an empty mask, for a real-time signal nothing
        // else in the process uses.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_handshake as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            // Every other signal waits while this handler runs: a handler
            // interrupted by another would show that one its own frame
            // instead of the interrupted code.
            libc::sigfillset(&mut action.sa_mask);
            libc::sigaction(handshake_signal(), &action, std::ptr::null_mut()) == 0
        };
        OK.store(installed, Ordering::Release);
    });
    OK.load(Ordering::Acquire)
}

/// A blob waiting to be freed.
#[derive(Clone, Copy, Debug)]
pub struct Retired {
    /// The code.
    pub blob: Blob,
    /// Its function (the blob knows its tier).
    pub func: u32,
}

/// The threads that may run generated code, and the blobs waiting to die.
#[derive(Default)]
pub struct Retirer {
    threads: parking_lot::Mutex<Vec<Arc<ThreadEntry>>>,
    pending: parking_lot::Mutex<Vec<Retired>>,
    /// Blobs retired and blobs freed so far (the log balances when every
    /// retired blob has been freed).
    pub retired_count: AtomicU64,
    /// See `retired_count`.
    pub freed_count: AtomicU64,
    /// Where handshake time goes.
    stats: parking_lot::Mutex<HandshakeStats>,
}

/// Where handshake time goes, in nanoseconds.
#[derive(Clone)]
pub struct HandshakeStats {
    /// Per handshake: publishing the request to the last answer seen.
    pub round: hdrhistogram::Histogram<u64>,
    /// Per handshake: publishing the request and sending every signal.
    pub signal: hdrhistogram::Histogram<u64>,
    /// Per answer: its signal sent to its handler entered (the time until
    /// the scheduler runs the thread).
    pub answer: hdrhistogram::Histogram<u64>,
    /// Per answer: the handler's own time (the walk).
    pub walk: hdrhistogram::Histogram<u64>,
    /// Wall-clock time the retirer spent in `collect`, waiting included.
    pub retirer_ns: u64,
    /// CPU time the retirer's thread spent in `collect`.
    pub retirer_cpu_ns: u64,
    /// Time handlers spent answering, summed over threads.
    pub walk_ns: u64,
}

fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new(3).expect("3 significant figures is valid")
}

impl Default for HandshakeStats {
    fn default() -> HandshakeStats {
        HandshakeStats {
            round: histogram(),
            signal: histogram(),
            answer: histogram(),
            walk: histogram(),
            retirer_ns: 0,
            retirer_cpu_ns: 0,
            walk_ns: 0,
        }
    }
}

/// A thread's registration; unregisters when dropped (on that thread).
pub struct Registration {
    retirer: Arc<Retirer>,
    entry: Arc<ThreadEntry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null()));
        self.retirer
            .threads
            .lock()
            .retain(|e| !Arc::ptr_eq(e, &self.entry));
    }
}

/// How long the retirer waits for a thread's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(200);

impl Retirer {
    /// Registers the calling thread, whose interpreted frames are `frames`
    /// and whose interpreter publishes the entry it calls at `calling`.
    /// Both must stay valid and unmoved while the registration lives.
    pub fn register(
        self: &Arc<Self>,
        frames: InterpFrames,
        calling: *const AtomicUsize,
    ) -> Registration {
        install_handler();
        let entry = Arc::new(ThreadEntry {
            tid: libc::pid_t::try_from(nix::unistd::gettid().as_raw()).unwrap_or(0),
            bounds: StackBounds::of_current_thread(),
            frames,
            calling,
            ack: AtomicU64::new(0),
            answered_at: AtomicU64::new(0),
            walk_ns: AtomicU64::new(0),
        });
        CURRENT.with(|c| c.set(Arc::as_ptr(&entry)));
        self.threads.lock().push(entry.clone());
        Registration {
            retirer: self.clone(),
            entry,
        }
    }

    /// Queues a blob that no method-table slot names any more.
    pub fn retire(&self, retired: Retired) {
        self.retired_count.fetch_add(1, Ordering::Relaxed);
        self.pending.lock().push(retired);
    }

    /// Where handshake time went so far.
    pub fn stats(&self) -> HandshakeStats {
        self.stats.lock().clone()
    }

    /// Blobs waiting to be freed.
    pub fn pending(&self) -> usize {
        self.pending.lock().len()
    }

    /// Walks every registered thread's stack and gives the retired blobs
    /// that no thread is inside (removing them from the queue); the rest
    /// stay queued.
    pub fn collect(&self, map: &Arc<RangeMap>) -> Vec<Retired> {
        let candidates: Vec<Retired> = std::mem::take(&mut *self.pending.lock());
        if candidates.is_empty() {
            return candidates;
        }
        let in_use = self.handshake(map, &candidates);
        let (busy, free): (Vec<_>, Vec<_>) = candidates
            .into_iter()
            .zip(in_use)
            .partition(|(_, used)| *used);
        self.pending.lock().extend(busy.into_iter().map(|(r, _)| r));
        self.freed_count
            .fetch_add(free.len() as u64, Ordering::Relaxed);
        free.into_iter().map(|(r, _)| r).collect()
    }

    /// Asks every registered thread which of `candidates` it is inside.
    fn handshake(&self, map: &Arc<RangeMap>, candidates: &[Retired]) -> Vec<bool> {
        if !install_handler() {
            return vec![true; candidates.len()];
        }
        let _one_at_a_time = HANDSHAKE.lock().unwrap_or_else(|e| e.into_inner());
        let started = monotonic_ns();
        let started_cpu = thread_cpu_ns();
        let epoch = EPOCH.fetch_add(1, Ordering::Relaxed) + 1;
        let ranges: Vec<(usize, usize)> = candidates
            .iter()
            .map(|r| (r.blob.code_rx, r.blob.code_rx + r.blob.code_size))
            .collect();
        let request = Box::new(Request {
            epoch,
            lowest: ranges.iter().map(|r| r.0).min().unwrap_or(0),
            highest: ranges.iter().map(|r| r.1).max().unwrap_or(0),
            ranges,
            in_use: candidates.iter().map(|_| AtomicBool::new(false)).collect(),
            map: map.clone(),
        });
        let request_ptr = Box::into_raw(request);
        REQUEST.store(request_ptr, Ordering::Release);
        let threads: Vec<Arc<ThreadEntry>> = self.threads.lock().clone();
        // Signal every thread first, then collect the answers: the threads
        // answer in parallel, each when the scheduler next runs it.
        let signalled: Vec<(&Arc<ThreadEntry>, u64)> = threads
            .iter()
            .filter(|t| {
                // SAFETY: tgkill only sends a signal. A thread that ended
                // since the snapshot makes it fail with ESRCH; a reused tid
                // reaches another thread of ours, whose handler finds no
                // request for its entry to answer or answers for itself,
                // both harmless.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, libc::getpid(), t.tid, handshake_signal()) == 0
                }
            })
            .map(|t| (t, monotonic_ns()))
            .collect();
        let sent = monotonic_ns();
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut answered = true;
        for &(t, _) in &signalled {
            while t.ack.load(Ordering::Acquire) < epoch {
                // A thread that unregistered meanwhile owes no answer.
                if !self.threads.lock().iter().any(|e| Arc::ptr_eq(e, t)) {
                    break;
                }
                if Instant::now() > deadline {
                    answered = false;
                    break;
                }
                std::thread::yield_now();
            }
        }
        REQUEST.store(std::ptr::null_mut(), Ordering::Release);
        let finished = monotonic_ns();
        {
            let mut stats = self.stats.lock();
            let _ = stats.round.record(finished.saturating_sub(started).max(1));
            let _ = stats.signal.record(sent.saturating_sub(started).max(1));
            stats.retirer_ns += finished.saturating_sub(started);
            stats.retirer_cpu_ns += thread_cpu_ns().saturating_sub(started_cpu);
            for &(t, sent_at) in &signalled {
                if t.ack.load(Ordering::Acquire) >= epoch {
                    let walk = t.walk_ns.load(Ordering::Relaxed);
                    let answered_at = t.answered_at.load(Ordering::Relaxed);
                    let _ = stats
                        .answer
                        .record(answered_at.saturating_sub(sent_at).max(1));
                    let _ = stats.walk.record(walk.max(1));
                    stats.walk_ns += walk;
                }
            }
        }
        // SAFETY: unpublished above; every thread that could still be in a
        // handler answered (the handler acks last), and a thread that did
        // not answer in time is the one case where we leak the request
        // instead of freeing it.
        let request = unsafe { Box::from_raw(request_ptr) };
        let in_use: Vec<bool> = request
            .in_use
            .iter()
            .map(|u| u.load(Ordering::Relaxed) || !answered)
            .collect();
        if answered {
            drop(request);
        } else {
            std::mem::forget(request);
        }
        in_use
    }
}
