//! Safe retirement: replaced code is freed only after every registered
//! thread, asked after the code was replaced, answered that it found no pc
//! or return address inside it.
//!
//! **Registry.** Every thread that runs tj code registers for as long as it
//! does: its kernel tid, stack bounds, interpreted frame records and the
//! method-table entry it is about to call.
//!
//! **Rounds.** Retired blobs wait in a queue. A *round* takes every waiting
//! blob, publishes their address ranges as one request and sends each
//! registered thread a real-time signal, and returns at once: the retirer
//! never waits for an answer. The handler, on the target thread, looks for
//! the blobs' addresses in that thread's state: the interrupted pc and
//! every other register, the frames of the profiler's walk (the `rbp`
//! chain, exact at every pc of generated code and of `interpreter_entry`'s
//! wrapper, prologues and epilogues included, through their no-frame
//! tables), the helper call site in the context, and the interpreted
//! records with their native callers. It marks every range any address
//! falls in, then acknowledges. Later calls of [`Retirer::collect`] see
//! whether every signalled thread has answered (or unregistered: a thread
//! that left tj code owes no answer); once all have, the blobs no thread
//! marked are given back to be freed (removed from the code map, their
//! bytes `int3`), and the marked ones go back to the queue for the next
//! round. One round is in flight at a time; blobs retired meanwhile wait
//! for the next one, which takes them all, however many.
//!
//! An answer is good whenever it comes: the slots were switched before the
//! request was published, so a thread that answered can only reach a
//! retired blob through an address it held when it answered, and those
//! are what it marked. A thread that never answers (its signal blocked, or
//! the thread stopped) keeps its round, and so every blob retired since,
//! alive. Signal delivery also serializes each thread's instruction
//! stream, so reused code bytes are never stale.
//!
//! **The map may change under a walk.** The code map is edited while
//! handlers walk (the compiler thread goes on placing code during a
//! round), and a lookup that keeps finding it mid-edit reports "not
//! code", which could end a walk early. So a handler walks again if the
//! map's generation changed during its walk, and after a few tries marks
//! every range in use.
//!
//! **Pacing.** A round costs every registered thread a signal and a walk
//! (microseconds; milliseconds on a stack a million frames deep). A round
//! starts when [`COLLECT_BATCH`] blobs wait or [`COLLECT_EVERY`] has passed
//! since the last one started, but never sooner after the last start than
//! [`COLLECT_PACING`] times the longest walk of the last round plus
//! [`SIGNAL_COST`], so that answering costs each thread at most about 1% of
//! its time.
//!
//! **The interpreter's window.** The interpreter reads a method-table slot
//! and calls the entry a few instructions later; a walk between the two
//! could miss the entry. So it publishes the entry it is about to call in
//! its thread state, then re-reads the slot and retries if it changed (the
//! retirer switched the slot before publishing the request, so a stale
//! read is always caught by one of the two).
//!
//! **Requests outlive their readers.** The handler allocates nothing and
//! takes no lock. It names the request it reads in its thread's entry (a
//! hazard pointer, checked against the published one after it is set);
//! the retirer frees a request only once it is unpublished and no entry
//! names it. A request still named waits for a later round.

use super::code_memory::Blob;
use parking_lot::Mutex;
use std::cell::Cell;
use std::sync::atomic::{
    compiler_fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::{Arc, Once};
use std::time::Duration;
use tierjit_profiler::codemap::CodeMap as RangeMap;
use tierjit_profiler::ring::{FRAME_NATIVE, FRAME_PAYLOAD};
use tierjit_profiler::stackwalk::{
    visit_frames, visit_record_returns, InterpFrames, Interrupted, StackBounds,
};

/// A round starts when this many blobs wait ...
pub const COLLECT_BATCH: usize = 32;
/// ... or this long after the last round started ...
pub const COLLECT_EVERY: Duration = Duration::from_millis(20);
/// ... but never sooner after the last start than this many times what
/// answering cost a thread in the last round (its longest walk plus
/// [`SIGNAL_COST`]): at most about 1% of each thread's time.
pub const COLLECT_PACING: u64 = 100;
/// What delivering the signal and returning from the handler cost a
/// thread besides the walk, which the handler cannot time (measured:
/// docs/tiering.md).
pub const SIGNAL_COST: Duration = Duration::from_micros(5);

/// How often a handler walks again when the code map changed under it,
/// before it marks every range in use.
const WALK_TRIES: usize = 3;

/// What the handshake handler needs of one registered thread.
pub struct ThreadEntry {
    /// The kernel thread id (signals go by tid: a pthread_t may dangle once
    /// its thread ended).
    tid: libc::pid_t,
    bounds: StackBounds,
    frames: InterpFrames,
    /// The method-table entry the interpreter is about to call (0 if none).
    calling: *const AtomicUsize,
    /// The retirer's published request.
    published: *const AtomicPtr<Request>,
    /// The request this thread's handler is reading (null if none): the
    /// retirer frees no request an entry names.
    reading: AtomicPtr<Request>,
    /// Cleared when the thread unregisters: it owes no answer then.
    registered: AtomicBool,
    /// [`RUNNING`], [`PARKED`] (blocked in [`parked`]: the retirer may
    /// walk its stack itself) or [`WALKED`] (the retirer is walking it).
    park: AtomicU8,
    /// Where the entry sits in the retirer's thread list.
    slot: usize,
    /// The last request this thread answered.
    ack: AtomicU64,
    /// When the handler that answered last was entered, and how long it
    /// took (`monotonic_ns`), written before `ack`.
    answered_at: AtomicU64,
    walk_ns: AtomicU64,
}

// SAFETY: the raw pointers point into the registering thread's own state
// and into the retirer, which both outlive the registration; only that
// thread's signal handler dereferences them. Other threads only read the
// atomics.
unsafe impl Send for ThreadEntry {}
// SAFETY: as above.
unsafe impl Sync for ThreadEntry {}

/// [`ThreadEntry::park`]: the thread runs and answers by signal.
const RUNNING: u8 = 0;
/// The thread is blocked in a runtime wait and touches none of what a walk
/// reads until it leaves [`parked`].
const PARKED: u8 = 1;
/// The retirer is walking a parked thread, which waits to leave [`parked`]
/// until the walk is over.
const WALKED: u8 = 2;

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

impl Request {
    fn mark(&self, addr: usize) {
        // Most words are no code address at all: one compare rejects them.
        if addr < self.lowest || addr >= self.highest {
            return;
        }
        for (i, &(start, end)) in self.ranges.iter().enumerate() {
            if start <= addr && addr < end {
                self.in_use[i].store(true, Ordering::Relaxed);
            }
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds; async-signal-safe (clock_gettime is),
/// so the handler and the retirer time on one clock.
fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// The calling thread's CPU time in nanoseconds.
fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// `clock` (a `libc::CLOCK_*` id) in nanoseconds; async-signal-safe.
pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(clock, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The calling thread's kernel id, asked once per thread (a host that
/// calls into tj code registers on every call).
fn current_tid() -> libc::pid_t {
    thread_local! {
        static TID: Cell<libc::pid_t> = const { Cell::new(0) };
    }
    TID.with(|tid| {
        if tid.get() == 0 {
            tid.set(nix::unistd::gettid().as_raw());
        }
        tid.get()
    })
}

fn handshake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

extern "C" fn on_handshake(_: libc::c_int, _: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: errno is thread-local; restored before returning.
    let errno = unsafe { *libc::__errno_location() };
    let entered = monotonic_ns();
    let entry = CURRENT.with(|c| c.get());
    if !entry.is_null() {
        // SAFETY: a non-null CURRENT is this thread's live entry (cleared
        // before the registration ends, on this thread).
        let entry = unsafe { &*entry };
        if let Some(request) = hold_request(entry) {
            answer(entry, request, context);
            entry.answered_at.store(entered, Ordering::Relaxed);
            entry
                .walk_ns
                .store(monotonic_ns().saturating_sub(entered), Ordering::Relaxed);
            entry.ack.store(request.epoch, Ordering::Release);
        }
        entry.reading.store(std::ptr::null_mut(), Ordering::Release);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The published request, named in `entry.reading` first so that the
/// retirer does not free it while the handler reads it.
fn hold_request(entry: &ThreadEntry) -> Option<&Request> {
    // SAFETY: points into the retirer, which outlives the registration.
    let published = unsafe { &*entry.published };
    let mut request = published.load(Ordering::SeqCst);
    while !request.is_null() {
        entry.reading.store(request, Ordering::SeqCst);
        // Still published after we named it: the retirer, which unpublishes
        // before it looks at the names, will see ours.
        let again = published.load(Ordering::SeqCst);
        if again == request {
            // SAFETY: published requests are live; named ones stay live.
            return Some(unsafe { &*request });
        }
        request = again;
    }
    None
}

/// Marks every range of `request` that this thread (interrupted at
/// `context`) may be inside.
fn answer(entry: &ThreadEntry, request: &Request, context: *mut libc::c_void) {
    // SAFETY: the kernel passes this thread's interrupted context.
    let gregs = unsafe { (*(context as *const libc::ucontext_t)).uc_mcontext.gregs };
    // SAFETY: as above.
    let at = unsafe { Interrupted::from_signal_context(context) };
    request.mark(at.pc);
    // Conservatively, every register, besides the exact walk below: an
    // entry may sit in a register between loading it and calling it. A
    // word that only looks like a code address keeps a blob alive one
    // round longer, which is safe. The stack is not scanned: every native
    // frame is reached by the walk (docs/tiering.md).
    for &value in gregs.iter() {
        request.mark(value as usize);
    }
    mark_frames(entry, request, at);
}

/// Marks every range of `request` that the thread of `entry`, stopped
/// `at`, has a frame in or is about to call.
fn mark_frames(entry: &ThreadEntry, request: &Request, at: Interrupted) {
    if !entry.calling.is_null() {
        // SAFETY: points at the thread's live ThreadState field (the
        // thread is this one, or parked in a registration).
        request.mark(unsafe { (*entry.calling).load(Ordering::Relaxed) });
    }
    visit_record_returns(&entry.frames, |ret| request.mark(ret.wrapping_sub(1)));
    for _ in 0..WALK_TRIES {
        let generation = request.map.generation();
        if generation & 1 == 1 {
            std::hint::spin_loop();
            continue;
        }
        visit_frames(&entry.bounds, &request.map, &entry.frames, at, |word| {
            if word & !FRAME_PAYLOAD == FRAME_NATIVE {
                request.mark((word & FRAME_PAYLOAD) as usize);
            }
            true
        });
        if request.map.unchanged_since(generation) {
            return;
        }
    }
    // Every lookup may have been wrong: trust none of it.
    for used in &request.in_use {
        used.store(true, Ordering::Relaxed);
    }
}

/// If the thread of `entry` is parked, walks its stack for `request` from
/// here, holding it parked meanwhile; false if it runs (it must be
/// signalled).
fn walk_parked(entry: &ThreadEntry, request: &Request) -> bool {
    if entry
        .park
        .compare_exchange(PARKED, WALKED, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    // Blocked in a runtime wait: its tj frames are where it left them, the
    // innermost named by the records or the helper site (no pc of
    // generated code or of a stub is where it stopped), and no code
    // address is live in its registers (see [`parked`]).
    let nowhere = Interrupted {
        pc: 0,
        sp: 0,
        fp: 0,
    };
    mark_frames(entry, request, nowhere);
    entry.park.store(PARKED, Ordering::Release);
    true
}

/// Runs `wait`, a blocking wait of the runtime (a join), with the calling
/// thread parked: rounds walk its stack from the retirer's thread instead
/// of signalling it, so that thousands of blocked threads cost a round no
/// wake-ups. `wait` must not touch the thread's tj frames, records or
/// helper site, and must be called where no code address is live in a
/// register: from the interpreter between instructions, or from a helper
/// that generated code called (generated code loads an entry only to call
/// it at once, and holds none across a helper call).
pub fn parked<R>(wait: impl FnOnce() -> R) -> R {
    /// Leaves the parked state, on return or unwind: the thread may touch
    /// its frames only once no walk reads them.
    struct Unpark(*const ThreadEntry);
    impl Drop for Unpark {
        fn drop(&mut self) {
            // SAFETY: the thread's live entry (see `parked`).
            let entry = unsafe { &*self.0 };
            while entry
                .park
                .compare_exchange_weak(PARKED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                std::thread::yield_now();
            }
        }
    }
    let entry = CURRENT.with(|c| c.get());
    if entry.is_null() {
        return wait();
    }
    // SAFETY: a non-null CURRENT is this thread's live entry, and the
    // registration cannot end inside `wait` (it is dropped on this
    // thread, which is in here).
    unsafe { &*entry }.park.store(PARKED, Ordering::Release);
    let _unpark = Unpark(entry);
    wait()
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

/// Sends `tid` the handshake signal; false if it could not be sent.
fn signal(tid: libc::pid_t) -> bool {
    // SAFETY: tgkill only sends a signal. A thread that ended makes it
    // fail with ESRCH (and has unregistered); a reused tid reaches another
    // thread of ours, whose handler answers for its own entry, or for
    // none: harmless.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, handshake_signal()) == 0 }
}

/// A blob waiting to be freed.
#[derive(Clone, Copy, Debug)]
pub struct Retired {
    /// The code.
    pub blob: Blob,
    /// Its function (the blob knows its tier).
    pub func: u32,
}

/// Where handshake time goes, in nanoseconds.
#[derive(Clone)]
pub struct HandshakeStats {
    /// Per round: publishing the request to the last answer.
    pub round: hdrhistogram::Histogram<u64>,
    /// Per round: publishing the request, walking the parked threads and
    /// sending every other one its signal.
    pub signal: hdrhistogram::Histogram<u64>,
    /// Per answer: its signal sent to its handler entered (the time until
    /// the scheduler runs the thread).
    pub answer: hdrhistogram::Histogram<u64>,
    /// Per answer: the handler's own time (the walk).
    pub walk: hdrhistogram::Histogram<u64>,
    /// Wall-clock time the retirer spent in `collect` and `drain`, waiting
    /// included (`drain` waits; `collect` does not).
    pub retirer_ns: u64,
    /// CPU time the retirer's threads spent in `collect` and `drain`.
    pub retirer_cpu_ns: u64,
    /// Time handlers spent answering, summed over threads.
    pub walk_ns: u64,
    /// Answers the retirer walked itself, for threads parked in a wait
    /// (not in `answer` or `walk`).
    pub parked: u64,
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
            parked: 0,
        }
    }
}

/// A request the retirer allocated (`Box::into_raw`) and has not freed.
struct RequestPtr(*mut Request);

// SAFETY: the request is shared with handlers only through atomics and
// shared references; the retirer frees it once no handler names it.
unsafe impl Send for RequestPtr {}

/// A thread asked in a round: signalled, and when its signal went (0:
/// not sent yet), or walked by the retirer while parked.
struct Asked {
    entry: Arc<ThreadEntry>,
    sent_at: u64,
    walked: bool,
}

/// The round in flight.
struct Round {
    request: RequestPtr,
    epoch: u64,
    candidates: Vec<Retired>,
    asked: Vec<Asked>,
    started: u64,
    /// When the retirer had walked every parked thread.
    walked_at: u64,
}

/// The retirer's side of rounds (one collector at a time).
struct Rounds {
    in_flight: Option<Round>,
    /// Unpublished requests that a handler still named when their round
    /// ended.
    unpublished: Vec<RequestPtr>,
    epoch: u64,
    /// When the last round started (`monotonic_ns`).
    last_start: u64,
    /// What the last round cost at most, on one thread: a signalled
    /// thread's longest walk plus [`SIGNAL_COST`], or the retirer's walks
    /// of parked threads, whichever is more.
    last_cost: u64,
    /// The retirer's walks of parked threads in the round in flight (ns).
    parked_walks_ns: u64,
}

/// When [`Retirer::collect`] may start a round.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Start {
    /// When [`COLLECT_BATCH`], [`COLLECT_EVERY`] and [`COLLECT_PACING`]
    /// allow.
    Paced,
    /// Whenever blobs wait and no round is in flight.
    Now,
}

/// The threads that may run generated code, and the blobs waiting to die.
pub struct Retirer {
    threads: Mutex<ThreadList>,
    pending: Mutex<Vec<Retired>>,
    /// The request of the round in flight (null if none), which handlers
    /// answer.
    published: AtomicPtr<Request>,
    rounds: Mutex<Rounds>,
    /// Blobs retired and blobs freed so far (the log balances when every
    /// retired blob has been freed).
    pub retired_count: AtomicU64,
    /// See `retired_count`.
    pub freed_count: AtomicU64,
    stats: Mutex<HandshakeStats>,
}

impl Default for Retirer {
    fn default() -> Retirer {
        Retirer {
            threads: Mutex::new(ThreadList::default()),
            pending: Mutex::new(Vec::new()),
            published: AtomicPtr::new(std::ptr::null_mut()),
            rounds: Mutex::new(Rounds {
                in_flight: None,
                unpublished: Vec::new(),
                epoch: 0,
                last_start: monotonic_ns(),
                last_cost: 0,
                parked_walks_ns: 0,
            }),
            retired_count: AtomicU64::new(0),
            freed_count: AtomicU64::new(0),
            stats: Mutex::new(HandshakeStats::default()),
        }
    }
}

impl Drop for Retirer {
    fn drop(&mut self) {
        // Every registration holds the retirer, so no handler can be
        // reading a request of ours any more.
        let rounds = self.rounds.get_mut();
        let in_flight = rounds.in_flight.take().map(|r| r.request);
        for request in rounds.unpublished.drain(..).chain(in_flight) {
            // SAFETY: allocated by `start_round`, freed once, here.
            drop(unsafe { Box::from_raw(request.0) });
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
        // A handler that runs from here on (on this thread) sees no entry,
        // so it reads no request.
        compiler_fence(Ordering::SeqCst);
        self.entry.registered.store(false, Ordering::Release);
        self.retirer.threads.lock().remove(self.entry.slot);
    }
}

impl Registration {
    /// Parks the thread outside tj code for a while (a host thread between
    /// calls into the program): rounds walk its stack, which has no tj
    /// frame, from the retirer instead of signalling it. No code address of
    /// the program may be live in its registers meanwhile.
    pub fn park(&self) {
        self.entry.park.store(PARKED, Ordering::Release);
    }

    /// Ends [`Registration::park`] once no walk holds the thread, and makes
    /// this the entry the thread's handler answers for (another
    /// registration may have come and gone meanwhile).
    pub fn unpark(&self) {
        while self
            .entry
            .park
            .compare_exchange_weak(PARKED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            if self.entry.park.load(Ordering::Relaxed) == RUNNING {
                break;
            }
            std::thread::yield_now();
        }
        CURRENT.with(|c| c.set(Arc::as_ptr(&self.entry)));
    }
}

/// The registered threads, each in a slot of its own, so that leaving is
/// as cheap with 10,000 threads as with one.
#[derive(Default)]
struct ThreadList {
    slots: Vec<Option<Arc<ThreadEntry>>>,
    free: Vec<usize>,
}

impl ThreadList {
    /// The slot the next [`ThreadList::insert`] takes.
    fn next_slot(&self) -> usize {
        self.free.last().copied().unwrap_or(self.slots.len())
    }

    fn insert(&mut self, entry: Arc<ThreadEntry>) {
        debug_assert_eq!(entry.slot, self.next_slot());
        match self.free.pop() {
            Some(slot) => self.slots[slot] = Some(entry),
            None => self.slots.push(Some(entry)),
        }
    }

    fn remove(&mut self, slot: usize) {
        self.slots[slot] = None;
        self.free.push(slot);
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<ThreadEntry>> {
        self.slots.iter().flatten()
    }
}

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
        let mut threads = self.threads.lock();
        let entry = Arc::new(ThreadEntry {
            tid: current_tid(),
            bounds: StackBounds::of_current_thread(),
            frames,
            calling,
            published: &self.published,
            reading: AtomicPtr::new(std::ptr::null_mut()),
            registered: AtomicBool::new(true),
            park: AtomicU8::new(RUNNING),
            slot: threads.next_slot(),
            ack: AtomicU64::new(0),
            answered_at: AtomicU64::new(0),
            walk_ns: AtomicU64::new(0),
        });
        CURRENT.with(|c| c.set(Arc::as_ptr(&entry)));
        threads.insert(entry.clone());
        drop(threads);
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

    /// Blobs retired and not freed yet.
    pub fn pending(&self) -> usize {
        let retired = self.retired_count.load(Ordering::Relaxed);
        (retired - self.freed_count.load(Ordering::Relaxed).min(retired)) as usize
    }

    /// Where handshake time went so far.
    pub fn stats(&self) -> HandshakeStats {
        self.stats.lock().clone()
    }

    /// Gives the retired blobs that a finished round found no thread
    /// inside, and starts a round if one is due. Never waits for threads:
    /// call it now and then (the compiler thread does, on every turn).
    pub fn collect(&self, map: &Arc<RangeMap>) -> Vec<Retired> {
        self.collect_if(map, || true)
    }

    /// [`Retirer::collect`], calling `ready` right before a round would
    /// start: a round starts only if it gives true (the Vm serializes the
    /// cores there after repatching direct calls).
    pub fn collect_if(&self, map: &Arc<RangeMap>, ready: impl FnOnce() -> bool) -> Vec<Retired> {
        self.step(map, Start::Paced, ready)
    }

    /// Runs rounds back to back until no blob waits or `timeout` passed;
    /// gives the blobs found free. For shutdown: it waits for threads.
    pub fn drain(&self, map: &Arc<RangeMap>, timeout: Duration) -> Vec<Retired> {
        let deadline = std::time::Instant::now() + timeout;
        let mut free = Vec::new();
        loop {
            free.extend(self.step(map, Start::Now, || true));
            let idle =
                self.published.load(Ordering::Acquire).is_null() && self.pending.lock().is_empty();
            if idle || std::time::Instant::now() >= deadline {
                return free;
            }
            std::thread::yield_now();
        }
    }

    fn step(
        &self,
        map: &Arc<RangeMap>,
        start: Start,
        ready: impl FnOnce() -> bool,
    ) -> Vec<Retired> {
        if self.published.load(Ordering::Acquire).is_null() && self.pending.lock().is_empty() {
            return Vec::new();
        }
        let (wall, cpu) = (monotonic_ns(), thread_cpu_ns());
        let mut rounds = self.rounds.lock();
        let mut free = Vec::new();
        if let Some(round) = rounds.in_flight.take() {
            match self.finish_round(round, &mut rounds) {
                Ok(found_free) => free = found_free,
                Err(round) => rounds.in_flight = Some(round),
            }
        }
        self.free_unpublished(&mut rounds);
        if rounds.in_flight.is_none() && (start == Start::Now || self.round_due(&rounds)) && ready()
        {
            let candidates = std::mem::take(&mut *self.pending.lock());
            if !candidates.is_empty() && install_handler() {
                let round = self.start_round(&mut rounds, map, candidates);
                rounds.in_flight = Some(round);
            } else {
                self.pending.lock().extend(candidates);
            }
        }
        drop(rounds);
        self.freed_count
            .fetch_add(free.len() as u64, Ordering::Relaxed);
        let mut stats = self.stats.lock();
        stats.retirer_ns += monotonic_ns().saturating_sub(wall);
        stats.retirer_cpu_ns += thread_cpu_ns().saturating_sub(cpu);
        free
    }

    /// Whether pacing lets a round start now.
    fn round_due(&self, rounds: &Rounds) -> bool {
        let waiting = self.pending.lock().len();
        let since = monotonic_ns().saturating_sub(rounds.last_start);
        round_due(waiting, since, rounds.last_cost)
    }

    /// Publishes a request for `candidates` and signals every registered
    /// thread.
    fn start_round(
        &self,
        rounds: &mut Rounds,
        map: &Arc<RangeMap>,
        candidates: Vec<Retired>,
    ) -> Round {
        let started = monotonic_ns();
        rounds.epoch += 1;
        rounds.last_start = started;
        let epoch = rounds.epoch;
        let ranges: Vec<(usize, usize)> = candidates
            .iter()
            .map(|r| (r.blob.code_rx, r.blob.code_rx + r.blob.code_size))
            .collect();
        let request = Box::into_raw(Box::new(Request {
            epoch,
            lowest: ranges.iter().map(|r| r.0).min().unwrap_or(0),
            highest: ranges.iter().map(|r| r.1).max().unwrap_or(0),
            ranges,
            in_use: candidates.iter().map(|_| AtomicBool::new(false)).collect(),
            map: map.clone(),
        }));
        self.published.store(request, Ordering::SeqCst);
        // Threads that register from here on hold nothing retired.
        let threads: Vec<Arc<ThreadEntry>> = self.threads.lock().iter().cloned().collect();
        // SAFETY: allocated above; freed only after this round ends.
        let published = unsafe { &*request };
        let mut walked_ns = 0;
        let asked = threads
            .into_iter()
            .map(|entry| {
                let walk_started = monotonic_ns();
                if walk_parked(&entry, published) {
                    walked_ns += monotonic_ns().saturating_sub(walk_started);
                    return Asked {
                        entry,
                        sent_at: 0,
                        walked: true,
                    };
                }
                let sent_at = if signal(entry.tid) { monotonic_ns() } else { 0 };
                Asked {
                    entry,
                    sent_at,
                    walked: false,
                }
            })
            .collect();
        rounds.parked_walks_ns = walked_ns;
        let walked_at = monotonic_ns();
        let _ = self
            .stats
            .lock()
            .signal
            .record(monotonic_ns().saturating_sub(started).max(1));
        Round {
            request: RequestPtr(request),
            epoch,
            candidates,
            asked,
            started,
            walked_at,
        }
    }

    /// If every thread asked has answered (or unregistered), ends the
    /// round: gives the blobs none marked and queues the others again.
    /// Otherwise gives the round back, having re-sent any signal that
    /// could not be sent.
    fn finish_round(&self, mut round: Round, rounds: &mut Rounds) -> Result<Vec<Retired>, Round> {
        let mut complete = true;
        for asked in &mut round.asked {
            let entry = &asked.entry;
            if asked.walked
                || !entry.registered.load(Ordering::Acquire)
                || entry.ack.load(Ordering::Acquire) >= round.epoch
            {
                continue;
            }
            complete = false;
            if asked.sent_at == 0 && signal(entry.tid) {
                asked.sent_at = monotonic_ns();
            }
        }
        if !complete {
            return Err(round);
        }
        self.published.store(std::ptr::null_mut(), Ordering::SeqCst);
        self.record_round(&round, rounds);
        // SAFETY: allocated by `start_round`; freed only through
        // `unpublished`, later.
        let request = unsafe { &*round.request.0 };
        let (busy, free): (Vec<_>, Vec<_>) = round
            .candidates
            .into_iter()
            .zip(&request.in_use)
            .partition(|(_, used)| used.load(Ordering::Relaxed));
        self.pending.lock().extend(busy.into_iter().map(|(r, _)| r));
        rounds.unpublished.push(round.request);
        Ok(free.into_iter().map(|(r, _)| r).collect())
    }

    /// Frees the unpublished requests that no handler names.
    fn free_unpublished(&self, rounds: &mut Rounds) {
        if rounds.unpublished.is_empty() {
            return;
        }
        // Entries that register later never see these requests.
        let threads = self.threads.lock();
        rounds.unpublished.retain(|request| {
            let named = threads
                .iter()
                .any(|t| t.reading.load(Ordering::SeqCst) == request.0);
            if !named {
                // SAFETY: allocated by `start_round`, unpublished, and no
                // handler names it, so none reads it or will.
                drop(unsafe { Box::from_raw(request.0) });
            }
            named
        });
    }

    /// Records the answers of a round that every thread answered.
    fn record_round(&self, round: &Round, rounds: &mut Rounds) {
        let mut stats = self.stats.lock();
        let mut last_answer = round.started;
        let mut longest_walk = 0;
        for asked in &round.asked {
            let entry = &asked.entry;
            if asked.walked {
                stats.parked += 1;
                last_answer = last_answer.max(round.walked_at);
                continue;
            }
            if entry.ack.load(Ordering::Acquire) < round.epoch {
                continue; // unregistered before answering
            }
            let walk = entry.walk_ns.load(Ordering::Relaxed);
            let answered_at = entry.answered_at.load(Ordering::Relaxed);
            let _ = stats
                .answer
                .record(answered_at.saturating_sub(asked.sent_at).max(1));
            let _ = stats.walk.record(walk.max(1));
            stats.walk_ns += walk;
            last_answer = last_answer.max(answered_at + walk);
            longest_walk = longest_walk.max(walk);
        }
        let _ = stats
            .round
            .record(last_answer.saturating_sub(round.started).max(1));
        rounds.last_cost =
            (longest_walk + SIGNAL_COST.as_nanos() as u64).max(rounds.parked_walks_ns);
    }
}

/// Whether a round may start with `waiting` blobs queued, `since` ns after
/// the last round started, whose answers cost a thread `last_cost` ns.
fn round_due(waiting: usize, since: u64, last_cost: u64) -> bool {
    let batch_or_time =
        waiting >= COLLECT_BATCH || (waiting > 0 && since >= COLLECT_EVERY.as_nanos() as u64);
    batch_or_time && since >= last_cost.saturating_mul(COLLECT_PACING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::code_memory::CodeMemory;
    use std::sync::mpsc;
    use tierjit_tiers::bytecode::FuncId;
    use tierjit_tiers::code::Tier;

    fn blob(code: &mut CodeMemory) -> Retired {
        let blob = code
            .alloc_blob(Tier::Baseline, FuncId(0), &[0xc3; 16], &[], &[], &[])
            .unwrap();
        Retired { blob, func: 0 }
    }

    /// Blocks or unblocks the handshake signal on the calling thread.
    fn block_handshakes(blocked: bool) {
        // SAFETY: a sigset with one signal, applied to this thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, handshake_signal());
            let how = if blocked {
                libc::SIG_BLOCK
            } else {
                libc::SIG_UNBLOCK
            };
            libc::pthread_sigmask(how, &set, std::ptr::null_mut());
        }
    }

    /// Runs rounds (starting one whenever none is in flight) for up to
    /// `time`, or until something is freed; gives what was.
    fn rounds_for(retirer: &Retirer, map: &Arc<RangeMap>, time: Duration) -> Vec<Retired> {
        let deadline = std::time::Instant::now() + time;
        while std::time::Instant::now() < deadline {
            let free = retirer.step(map, Start::Now, || true);
            if !free.is_empty() {
                return free;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Vec::new()
    }

    enum Order {
        Unblock,
        LeaveBlob,
        Unregister,
        Exit,
    }

    /// A registered thread that holds `inside` in its `calling` word (as
    /// an interpreter about to call it does) with the handshake signal
    /// blocked, and then does what it is told.
    fn mutator(
        retirer: &Arc<Retirer>,
        inside: usize,
    ) -> (mpsc::Sender<Order>, std::thread::JoinHandle<()>) {
        let (orders, receive) = mpsc::channel();
        let (ready, wait_ready) = mpsc::channel();
        let retirer = retirer.clone();
        let thread = std::thread::spawn(move || {
            block_handshakes(true);
            let calling = AtomicUsize::new(inside);
            let mut registration = Some(retirer.register(InterpFrames::NONE, &calling));
            ready.send(()).unwrap();
            for order in receive {
                match order {
                    Order::Unblock => block_handshakes(false),
                    Order::LeaveBlob => calling.store(0, Ordering::Relaxed),
                    Order::Unregister => registration = None,
                    Order::Exit => break,
                }
            }
            drop(registration);
            block_handshakes(false);
        });
        wait_ready.recv().unwrap();
        (orders, thread)
    }

    #[test]
    fn a_blob_outlives_every_round_a_thread_inside_it_has_not_answered() {
        let retirer = Arc::new(Retirer::default());
        let map = Arc::new(RangeMap::new(8));
        let mut code = CodeMemory::new();
        let retired = blob(&mut code);
        let (orders, thread) = mutator(&retirer, retired.blob.code_rx + 4);
        retirer.retire(retired);
        // The thread cannot answer: the round stays open, the blob alive.
        assert!(rounds_for(&retirer, &map, Duration::from_millis(50)).is_empty());
        assert!(!retirer.published.load(Ordering::Acquire).is_null());
        assert_eq!(retirer.pending(), 1);
        // It answers, from inside the blob: the blob waits for the next round.
        orders.send(Order::Unblock).unwrap();
        assert!(rounds_for(&retirer, &map, Duration::from_millis(100)).is_empty());
        assert_eq!(retirer.pending(), 1);
        assert!(!retirer.stats().round.is_empty());
        // It leaves: a later round frees the blob.
        orders.send(Order::LeaveBlob).unwrap();
        let free = rounds_for(&retirer, &map, Duration::from_secs(10));
        assert_eq!(free.len(), 1);
        assert_eq!(retirer.pending(), 0);
        orders.send(Order::Exit).unwrap();
        thread.join().unwrap();
        code.free_blob(free[0].blob, true);
    }

    #[test]
    fn a_parked_thread_is_walked_by_the_retirer_without_a_signal() {
        let retirer = Arc::new(Retirer::default());
        let map = Arc::new(RangeMap::new(8));
        let mut code = CodeMemory::new();
        let retired = blob(&mut code);
        let calling = Arc::new(AtomicUsize::new(retired.blob.code_rx + 4));
        let (ready, wait_ready) = mpsc::channel();
        let (release, wait_release) = mpsc::channel::<()>();
        let thread = {
            let (retirer, calling) = (retirer.clone(), calling.clone());
            std::thread::spawn(move || {
                // No signal could be answered: only walks from outside can.
                block_handshakes(true);
                let registration = retirer.register(InterpFrames::NONE, &*calling);
                parked(|| {
                    ready.send(()).unwrap();
                    wait_release.recv().unwrap();
                });
                drop(registration);
                block_handshakes(false);
            })
        };
        wait_ready.recv().unwrap();
        retirer.retire(retired);
        // Rounds end, and find the blob in use (the thread is about to
        // call into it).
        assert!(rounds_for(&retirer, &map, Duration::from_millis(50)).is_empty());
        assert_eq!(retirer.pending(), 1);
        let parked_answers = retirer.stats().parked;
        assert!(parked_answers >= 1, "{parked_answers}");
        assert!(retirer.stats().answer.is_empty());
        // Out of it: the next round frees it, with the thread still parked.
        calling.store(0, Ordering::Relaxed);
        let free = rounds_for(&retirer, &map, Duration::from_secs(10));
        assert_eq!(free.len(), 1);
        release.send(()).unwrap();
        thread.join().unwrap();
        code.free_blob(free[0].blob, true);
    }

    #[test]
    fn a_thread_that_unregisters_owes_no_answer() {
        let retirer = Arc::new(Retirer::default());
        let map = Arc::new(RangeMap::new(8));
        let mut code = CodeMemory::new();
        let retired = blob(&mut code);
        let (orders, thread) = mutator(&retirer, 0);
        retirer.retire(retired);
        assert!(rounds_for(&retirer, &map, Duration::from_millis(20)).is_empty());
        // It leaves tj code without answering: it holds nothing retired.
        orders.send(Order::Unregister).unwrap();
        let free = rounds_for(&retirer, &map, Duration::from_secs(10));
        assert_eq!(free.len(), 1);
        orders.send(Order::Exit).unwrap();
        thread.join().unwrap();
        code.free_blob(free[0].blob, true);
    }

    #[test]
    fn a_request_a_handler_names_is_not_freed() {
        let retirer = Arc::new(Retirer::default());
        let map = Arc::new(RangeMap::new(8));
        let mut code = CodeMemory::new();
        let calling = AtomicUsize::new(0);
        let registration = retirer.register(InterpFrames::NONE, &calling);
        retirer.retire(blob(&mut code));
        // Not ready (the Vm could not serialize the cores yet): no round.
        assert!(retirer.step(&map, Start::Now, || false).is_empty());
        assert!(retirer.published.load(Ordering::Acquire).is_null());
        assert_eq!(retirer.pending(), 1);
        // Starts a round; the signal to this very thread is answered at once.
        assert!(retirer.step(&map, Start::Now, || true).is_empty());
        let request = retirer.published.load(Ordering::Acquire);
        assert!(!request.is_null());
        // As if a second handler on this thread were reading the request.
        registration.entry.reading.store(request, Ordering::SeqCst);
        let free = retirer.step(&map, Start::Paced, || true);
        assert_eq!(free.len(), 1);
        assert!(retirer.published.load(Ordering::Acquire).is_null());
        assert_eq!(retirer.rounds.lock().unpublished.len(), 1);
        // Named no longer: the next step frees it.
        registration
            .entry
            .reading
            .store(std::ptr::null_mut(), Ordering::SeqCst);
        retirer.retire(blob(&mut code));
        let more = retirer.step(&map, Start::Now, || true);
        assert!(more.is_empty());
        assert!(retirer.rounds.lock().unpublished.is_empty());
        drop(registration);
        for r in free
            .into_iter()
            .chain(retirer.drain(&map, Duration::from_secs(1)))
        {
            code.free_blob(r.blob, true);
        }
        assert_eq!(retirer.pending(), 0);
    }

    #[test]
    fn rounds_are_paced_by_batch_time_and_cost() {
        let ms = 1_000_000;
        assert!(!round_due(0, 1000 * ms, 0));
        assert!(!round_due(1, 5 * ms, 0));
        assert!(round_due(1, 20 * ms, 0));
        assert!(round_due(COLLECT_BATCH, 0, 0));
        // A round whose answers cost a thread 1 ms: the next starts 100 ms
        // after it at the earliest, however many blobs wait.
        assert!(!round_due(COLLECT_BATCH, 99 * ms, ms));
        assert!(round_due(COLLECT_BATCH, 100 * ms, ms));
    }
}
