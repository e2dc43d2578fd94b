//! What every tier needs from the runtime, and what a running thread owns.
//!
//! The tiers crate does not own threads, output or process-wide policy: the
//! host (the `tierjit` runtime) does, behind the [`Host`] trait. A thread
//! running tj code owns a [`ThreadState`]: its register stack (every frame's
//! registers, callee windows overlapping caller windows), its frame records
//! (function and pc of every active call, innermost last: the backtrace and,
//! later, the profiler read them), and its output buffer.
//!
//! Calls go through the [`MethodTable`]: one slot per function holding the
//! address of the code to run. A slot holding [`interpreter_entry`] means
//! "interpret"; installing compiled code is one aligned store of its
//! address into the slot.

use crate::abi::JitContext;
use crate::bytecode::{FuncId, Module};
use crate::heap::Heap;
use crate::host_fn::LinkedHostFn;
use crate::stacks::{Slots, ThreadStacks};
use crate::trap::{RuntimeError, Trap};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

/// How much stack a thread may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most nested calls (frames) a thread may have.
    pub max_frames: usize,
    /// Size of each thread's register stack, in 64-bit slots.
    pub register_slots: usize,
}

impl Default for Limits {
    /// 1,000,000 frames and 16 Mi register slots (128 MiB of address space
    /// per thread, touched only as deep as the program recurses).
    fn default() -> Limits {
        Limits {
            max_frames: 1_000_000,
            register_slots: 16 << 20,
        }
    }
}

/// The services a host runtime gives to running code.
pub trait Host: Send + Sync {
    /// The program.
    fn module(&self) -> &Module;
    /// Where each function's code is.
    fn method_table(&self) -> &MethodTable;
    /// Where arrays are allocated.
    fn heap(&self) -> &Heap;
    /// The program's command-line arguments.
    fn args(&self) -> &[String];
    /// True if every line should be written out as soon as it is complete.
    fn line_buffered(&self) -> bool;
    /// Writes whole lines from a thread's buffer to stdout (as one piece,
    /// never interleaved with another thread's lines) and clears it.
    fn write_output(&self, lines: &mut Vec<u8>);
    /// The implementation of each of the module's host imports, in
    /// import order (the host checked, before the program started, that it
    /// has one for every import). The default is none, for hosts whose
    /// modules import nothing.
    fn host_functions(&self) -> Arc<[LinkedHostFn]> {
        Arc::from(Vec::new())
    }
    /// Starts `func(args)` on a new thread; gives its handle.
    fn spawn(&self, func: FuncId, args: Vec<u64>) -> Result<i64, Trap>;
    /// Waits for thread `handle` and gives its result. `caller` is the
    /// joining thread's own handle (joining oneself is an error).
    fn join(&self, caller: i64, handle: i64) -> Result<i64, Trap>;
    /// Pushes the bytecode frames `(function, pc)` of a native pc inside
    /// generated code, innermost first: the functions inlined there, each
    /// caller at the pc of its call, ending with the compiled function.
    /// False (nothing pushed) if `pc` is not in generated code.
    fn native_frames(&self, pc: usize, out: &mut Vec<(FuncId, u32)>) -> bool;
    /// The address of an on-stack-replacement entry for loop header `pc`
    /// of `func`: the one of the code at `slot_entry` (the function's
    /// current method-table entry) if it has one, else one of code the
    /// host compiled for entry there alone (optimized OSR code), if any.
    /// The entry is published in `calling` (for the retirer's stack walk)
    /// while the host still holds it, so that code retired meanwhile is
    /// either not given out or seen in use.
    fn osr_entry(
        &self,
        func: FuncId,
        pc: u32,
        slot_entry: usize,
        calling: &AtomicUsize,
    ) -> Option<usize>;
    /// For a baseline activation of `func` at loop header `pc` whose OSR
    /// flag is set ([`MethodTable::set_osr_wanted`]): the entry of
    /// optimized code compiled for entry at that header, if it is ready,
    /// published in `calling` like [`Host::osr_entry`]'s. If it is not,
    /// the host may start compiling it (off this thread) and gives `None`;
    /// where there will be none, it clears the flag.
    fn optimized_osr_entry(&self, func: FuncId, pc: u32, calling: &AtomicUsize) -> Option<usize> {
        let _ = (func, pc, calling);
        None
    }
}

/// One active interpreted call. `repr(C)` and valid when all zero, so the
/// frame stack can be allocated zeroed and read by a signal handler.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FrameRecord {
    /// The function running in this frame.
    pub func: FuncId,
    /// The pc being executed: for a caller, its call instruction; for the
    /// innermost frame, the last call or backward branch it made.
    pub pc: u32,
    /// Index of the frame's register 0 in the register stack.
    pub base: usize,
    /// If generated code called this frame: that caller's `rbp` (0 if the
    /// interpreter or the host called).
    pub native_fp: usize,
    /// ... and the return address into it.
    pub native_ret: usize,
    /// Where the caller wants the result (`NO_RESULT` if nowhere).
    pub ret_dst: u32,
    /// 1 while the activation runs in compiled code it moved to by on-stack
    /// replacement: the record is no frame of its own any more (the native
    /// frame is), but it still links to its native caller.
    pub replaced: u32,
}

impl FrameRecord {
    /// A frame of `func` at `base`, called by the interpreter or the host.
    pub fn new(func: FuncId, base: usize, ret_dst: u32) -> FrameRecord {
        FrameRecord {
            func,
            pc: 0,
            base,
            native_fp: 0,
            native_ret: 0,
            ret_dst,
            replaced: 0,
        }
    }

    /// The native caller's `(rbp, return address)`, if generated code
    /// called this frame.
    pub fn native_caller(&self) -> Option<(usize, usize)> {
        (self.native_ret != 0).then_some((self.native_fp, self.native_ret))
    }
}

/// The interpreted frames of one thread: a fixed, preallocated array that
/// never moves, and its length, so that a signal handler interrupting the
/// owner thread can read a consistent prefix (a record is complete before
/// the length counts it).
pub struct FrameStack {
    records: Slots<FrameRecord>,
    len: AtomicUsize,
}

impl FrameStack {
    /// An empty stack in `records` (zeroed memory, so untouched pages
    /// cost nothing).
    pub fn new(records: Slots<FrameRecord>) -> FrameStack {
        FrameStack {
            records,
            len: AtomicUsize::new(0),
        }
    }

    /// Number of frames.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True if there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Most frames it can hold.
    pub fn capacity(&self) -> usize {
        self.records.len()
    }

    /// Adds a frame; false if full.
    #[inline(always)]
    pub fn push(&mut self, record: FrameRecord) -> bool {
        let n = self.len();
        let Some(slot) = self.records.get_mut(n) else {
            return false;
        };
        *slot = record;
        // The record is written before the length counts it (a signal
        // handler on this thread reads the length first).
        std::sync::atomic::compiler_fence(Ordering::Release);
        self.len.store(n + 1, Ordering::Relaxed);
        true
    }

    /// Removes the innermost frame.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<FrameRecord> {
        let n = self.len().checked_sub(1)?;
        self.len.store(n, Ordering::Relaxed);
        Some(self.records[n])
    }

    /// Keeps the `len` outermost frames.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.len.store(len, Ordering::Relaxed);
        }
    }

    /// Frame `i`, outermost first.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<&FrameRecord> {
        self.records[..self.len()].get(i)
    }

    /// The innermost frame.
    #[inline(always)]
    pub fn last(&self) -> Option<&FrameRecord> {
        self.records[..self.len()].last()
    }

    /// The innermost frame, to update its pc.
    #[inline(always)]
    pub fn last_mut(&mut self) -> Option<&mut FrameRecord> {
        let n = self.len();
        self.records[..n].last_mut()
    }

    /// Frames, outermost first.
    pub fn iter(&self) -> std::slice::Iter<'_, FrameRecord> {
        self.records[..self.len()].iter()
    }

    /// Where the records start and where the length lives, for a signal
    /// handler on the owning thread.
    pub fn raw_parts(&self) -> (*const FrameRecord, *const AtomicUsize) {
        (self.records.as_ptr(), &self.len)
    }
}

/// `FrameRecord::ret_dst` of a call whose result is dropped.
pub const NO_RESULT: u32 = u32::MAX;

/// Everything a thread running tj code owns.
///
/// `repr(C)` with the [`JitContext`] first: generated code receives a
/// pointer to the thread state and reads the context at fixed offsets.
#[repr(C)]
pub struct ThreadState {
    /// What generated code reads (must stay the first field).
    pub ctx: JitContext,
    /// The runtime.
    pub host: Arc<dyn Host>,
    /// This thread's handle (0 for the main thread).
    pub handle: i64,
    /// The register stack.
    pub regs: Slots<u64>,
    /// Interpreted calls, outermost first (compiled frames are on the
    /// native stack, linked by `rbp`).
    pub frames: FrameStack,
    /// Set when the thread must stop at its next safe point.
    pub interrupt: Arc<AtomicBool>,
    /// Printed lines not yet written out (whole lines only).
    pub out: Arc<Mutex<Vec<u8>>>,
    /// Set when the thread prints: whoever writes `out` out after a call
    /// clears it, and need not look at `out` while it is clear.
    pub printed: std::cell::Cell<bool>,
    /// A runtime error raised below a method-table call, for the caller to
    /// pick up when the call returns.
    pub pending: Option<RuntimeError>,
    /// The method-table entry the interpreter is about to call (0 when
    /// none), published for the retirer's stack walk.
    pub calling: AtomicUsize,
    /// Where the interpreter is, for the sampler.
    pub position: InterpPosition,
    /// Test mode: at every backward branch the interpreter asks the host
    /// for an OSR entry, whatever the method-table slot holds (read once
    /// when the interpreter starts running).
    pub osr_every_loop: bool,
    /// [`Host::host_functions`], read once: what `call.h` calls.
    pub host_fns: Arc<[LinkedHostFn]>,
    /// The last error a host function gave, as `host function 'NAME':
    /// MESSAGE`, for the [`Trap::Host`] runtime error being raised.
    pub host_error: Option<String>,
}

/// The instruction the interpreter is executing, published before each one
/// for the sampler (frame records only say where each frame last called or
/// looped). The interpreter zeroes `ip` before it changes the rest, and a
/// reader checks `ip` against the others (`tierjit_profiler::stackwalk`,
/// which reads these three words in this order).
#[repr(C)]
#[derive(Debug, Default)]
pub struct InterpPosition {
    /// Address of the instruction (0: unknown).
    pub ip: usize,
    /// Address of instruction 0 of the function running.
    pub code: usize,
    /// Its id.
    pub func: usize,
}

impl InterpPosition {
    /// Publishes that the interpreter now runs `func` (code at `code`),
    /// instruction not yet known.
    #[inline(always)]
    pub fn enter(&mut self, func: usize, code: usize) {
        // SAFETY: plain stores to our own fields, volatile so that they
        // happen, in this order, for a signal handler on this thread.
        unsafe {
            std::ptr::write_volatile(&mut self.ip, 0);
            std::ptr::write_volatile(&mut self.func, func);
            std::ptr::write_volatile(&mut self.code, code);
        }
    }

    /// Publishes the instruction about to run.
    #[inline(always)]
    pub fn at(&mut self, ip: usize) {
        // SAFETY: as above.
        unsafe { std::ptr::write_volatile(&mut self.ip, ip) }
    }
}

// SAFETY: the context's raw pointers point at the method table (kept alive
// by `host`), the static helper table, the interrupt flag (kept alive by
// `interrupt`) and this state's own register stack; all stay valid when
// the state moves to another thread, which then owns it alone.
unsafe impl Send for ThreadState {}

impl ThreadState {
    /// A thread state with empty stacks: `stacks` must have room for
    /// `limits` (from [`ThreadStacks::new`] or [`ThreadStacks::within`]
    /// with the same limits).
    pub fn new(
        host: Arc<dyn Host>,
        handle: i64,
        limits: Limits,
        stacks: ThreadStacks,
        interrupt: Arc<AtomicBool>,
        out: Arc<Mutex<Vec<u8>>>,
    ) -> ThreadState {
        let ThreadStacks { mut regs, frames } = stacks;
        let host_fns = host.host_functions();
        let ctx = JitContext {
            methods: host.method_table().base(),
            osr_flags: host.method_table().osr_flags(),
            helpers: crate::helpers::HELPERS.as_ptr(),
            interrupt: Arc::as_ptr(&interrupt),
            pending: 0,
            depth: 0,
            max_depth: limits.max_frames as u64,
            // SAFETY: one past the end of the allocation.
            regs_end: unsafe { regs.as_mut_ptr().add(regs.len()) },
            stack_limit: native_stack_limit(),
            helper_pc: 0,
            helper_fp: 0,
        };
        ThreadState {
            ctx,
            host,
            handle,
            regs,
            frames: FrameStack::new(frames),
            interrupt,
            out,
            pending: None,
            calling: AtomicUsize::new(0),
            position: InterpPosition::default(),
            osr_every_loop: false,
            host_error: None,
            host_fns,
            printed: std::cell::Cell::new(false),
        }
    }

    /// Gives the stacks back, to run another thread state on: a host that
    /// calls into tj code again and again keeps them instead of mapping
    /// new ones each time. What they hold stays (verified code never reads
    /// a register before writing it, and a frame record before pushing it).
    pub fn into_stacks(self) -> ThreadStacks {
        ThreadStacks {
            regs: self.regs,
            frames: self.frames.records,
        }
    }

    /// Pushes an interpreted frame, or fails with `stack overflow` if the
    /// thread has as many frames as allowed or the frame does not fit in
    /// the register stack.
    pub fn push_frame(&mut self, record: FrameRecord, num_regs: usize) -> Result<(), Trap> {
        if self.ctx.depth >= self.ctx.max_depth || record.base + num_regs > self.regs.len() {
            return Err(Trap::StackOverflow);
        }
        if !self.frames.push(record) {
            return Err(Trap::StackOverflow);
        }
        self.ctx.depth += 1;
        Ok(())
    }

    /// Pops the innermost interpreted frame.
    pub fn pop_frame(&mut self) -> Option<FrameRecord> {
        let n = self.frames.len().checked_sub(1)?;
        let f = *self.frames.records.get(n)?;
        if f.native_ret != 0 {
            self.link_native_caller_of(n);
        }
        self.frames.len.store(n, Ordering::Relaxed);
        self.ctx.depth -= 1;
        Some(f)
    }

    /// Pops interpreted frames until `len` remain.
    pub fn truncate_frames(&mut self, len: usize) {
        let popped = self.frames.len().saturating_sub(len);
        if popped > 0 {
            self.link_native_caller_of(len);
        }
        self.ctx.depth -= popped as u64;
        self.frames.truncate(len);
    }

    /// Before the frame records from `index` up are dropped: if record
    /// `index` was called from generated code, names that caller in the
    /// context (as a helper call site), so that stack walks keep reaching
    /// the caller's frames while Rust code returns to it. Only the
    /// outermost record an interpreter run pushed can have a native caller
    /// (the one `interpreter_entry` pushed), and the run pops it last.
    /// Out of line: the interpreter's return path only tests the record.
    #[cold]
    #[inline(never)]
    fn link_native_caller_of(&mut self, index: usize) {
        if let Some((fp, ret)) = self.frames.get(index).and_then(FrameRecord::native_caller) {
            self.set_helper_site(ret, fp);
        }
    }

    /// Names generated code that Rust code runs for (its return address
    /// and `rbp`; 0 for none) in the context, for stack walkers.
    ///
    /// A walker reads the pair as one site only while `helper_pc` is not
    /// 0, so the return address is cleared first and written last: a
    /// signal between the stores sees no site, never a new return address
    /// with the old `rbp` (a walk from that half-written site put the
    /// caller's frame twice in about 0.2% of the samples of calls from
    /// baseline code into the interpreter).
    #[inline(always)]
    pub fn set_helper_site(&mut self, ret: usize, fp: usize) {
        // SAFETY: plain stores to our own context, volatile (kept in this
        // order) and fenced so that they stay where they are among the
        // frame pushes and pops they go with (a signal handler on this
        // thread reads the records, then the context).
        unsafe {
            std::ptr::write_volatile(&mut self.ctx.helper_pc, 0);
            std::ptr::write_volatile(&mut self.ctx.helper_fp, fp);
            std::ptr::write_volatile(&mut self.ctx.helper_pc, ret);
        }
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
    }

    /// Records a runtime error for generated code to unwind with.
    pub fn set_pending(&mut self, error: RuntimeError) {
        self.ctx.pending = 1;
        self.pending = Some(error);
    }

    /// Takes the runtime error that generated code unwound with, if any.
    pub fn take_pending(&mut self) -> Option<RuntimeError> {
        self.ctx.pending = 0;
        self.pending.take()
    }

    /// For a host function's error: its name and message, which
    /// [`crate::builtins::call_host`] left in `host_error`.
    fn host_error_detail(&self, trap: Trap) -> Option<String> {
        (trap == Trap::Host).then(|| self.host_error.clone().unwrap_or_default())
    }

    /// The error `trap` raised by the innermost interpreted frame, with the
    /// whole backtrace.
    pub fn error(&self, trap: Trap) -> RuntimeError {
        RuntimeError {
            trap,
            frames: self.backtrace(Vec::new(), None),
            detail: self.host_error_detail(trap),
        }
    }

    /// The error `trap` raised in generated code whose native frame
    /// pointer is `fp`; `own` are the bytecode frames of that native frame,
    /// innermost first (empty when the error belongs to its caller).
    pub fn native_error(&self, trap: Trap, own: Vec<(FuncId, u32)>, fp: usize) -> RuntimeError {
        RuntimeError {
            trap,
            frames: self.backtrace(own, Some(fp)),
            detail: self.host_error_detail(trap),
        }
    }

    /// Every active frame, innermost first, starting with `frames`: native
    /// frames from the frame pointer `fp`, then the interpreted frames, each
    /// continuing into the native frames of its caller when generated code
    /// called it.
    fn backtrace(
        &self,
        mut frames: Vec<(FuncId, u32)>,
        mut fp: Option<usize>,
    ) -> Vec<(FuncId, u32)> {
        // Every frame is counted in `depth` except the inlined frames of
        // the innermost optimized code, which count only around its calls
        // (a `frame_check` that fails is such a place): allow for them.
        // The limit only stops a walk of a corrupted chain.
        let limit = self.ctx.depth as usize + 1 + crate::opt::inline::MAX_INLINE_DEPTH as usize;
        let mut records = self.frames.iter().rev();
        loop {
            if let Some(start) = fp.take() {
                walk_native_callers(&*self.host, start, &mut frames, limit);
            }
            let Some(record) = records.next() else { break };
            if record.replaced == 0 {
                frames.push((record.func, record.pc));
            }
            if let Some((caller_fp, caller_ret)) = record.native_caller() {
                if self
                    .host
                    .native_frames(caller_ret.wrapping_sub(1), &mut frames)
                {
                    fp = Some(caller_fp);
                }
            }
            if frames.len() > limit {
                break;
            }
        }
        frames
    }
}

/// Follows the `rbp` chain from the native frame at `fp`, pushing the
/// bytecode frames of each caller that is generated code (several where
/// it inlined calls); stops at the first caller that is not (the
/// interpreter, or the host), or past `limit` frames.
fn walk_native_callers(host: &dyn Host, mut fp: usize, out: &mut Vec<(FuncId, u32)>, limit: usize) {
    while fp != 0 && fp.is_multiple_of(8) && out.len() <= limit {
        // SAFETY: generated code keeps the rbp chain (abi.rs): `fp` is the
        // frame pointer of a live native frame of this thread, below its
        // caller's, so `[fp]` and `[fp + 8]` are readable stack slots.
        let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if !host.native_frames(ret.wrapping_sub(1), out) {
            break;
        }
        if next_fp <= fp {
            break;
        }
        fp = next_fp;
    }
}

/// The lowest stack address generated code on this thread may reach
/// before it reports `stack overflow` (leaving room for helpers and the
/// interpreter to run and report the error). Asked once per thread (for
/// the main thread glibc reads `/proc/self/maps` to answer).
pub fn native_stack_limit() -> usize {
    thread_local! {
        static LIMIT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }
    LIMIT.with(|cached| {
        cached.get().unwrap_or_else(|| {
            let limit = ask_native_stack_limit();
            cached.set(Some(limit));
            limit
        })
    })
}

fn ask_native_stack_limit() -> usize {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises `attr` for the calling thread;
    // we read the stack bounds and destroy it.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return 0;
        }
        let mut addr = std::ptr::null_mut();
        let mut size = 0usize;
        let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if !ok {
            return 0;
        }
        let reserve = (size / 8).max(crate::abi::HELPER_STACK_RESERVE * 4);
        (addr as usize).saturating_add(reserve)
    }
}

/// The signature of every method-table entry: run function `func` with its
/// frame (arguments in its first registers) at `frame`, and give the result
/// bits. `caller_ret` and `caller_fp` are the return address and `rbp` of a
/// caller in generated code (0 when the interpreter calls). A runtime error
/// is left in the thread's pending state ([`ThreadState::set_pending`]).
///
/// # Safety
/// Callers pass the calling thread's own live `ThreadState` and a frame
/// inside its register stack whose first registers hold the arguments.
pub type EntryFn = unsafe extern "sysv64" fn(
    ts: *mut ThreadState,
    frame: *mut u64,
    func: u32,
    caller_ret: usize,
    caller_fp: usize,
) -> u64;

/// One slot per function: the address of the code that runs it.
pub struct MethodTable {
    slots: Box<[AtomicUsize]>,
    /// Per (function, pc) of the module ([`Module::code_offset`] + pc):
    /// non-zero at a loop header where running baseline activations
    /// should move into optimized code. Baseline code tests the byte of
    /// each of its loop headers there ([`crate::abi::JitContext::osr_flags`])
    /// and, if set, asks [`Host::optimized_osr_entry`] for an entry.
    osr_wanted: Box<[AtomicU8]>,
    /// [`Module::code_offset`] of each function.
    code_offsets: Box<[u32]>,
}

impl MethodTable {
    /// A table with a slot per function of `module`, each set to `entry`,
    /// and no OSR flag set.
    pub fn new(module: &Module, entry: EntryFn) -> MethodTable {
        let n = module.funcs.len();
        let mut offset = 0u32;
        let code_offsets = module
            .funcs
            .iter()
            .map(|f| {
                let at = offset;
                offset += f.code.len() as u32;
                at
            })
            .collect();
        MethodTable {
            slots: (0..n).map(|_| AtomicUsize::new(entry as usize)).collect(),
            osr_wanted: (0..module.code_len().max(1))
                .map(|_| AtomicU8::new(0))
                .collect(),
            code_offsets,
        }
    }

    /// The code address for `func`.
    #[inline(always)]
    pub fn entry(&self, func: FuncId) -> usize {
        self.slots[func.index()].load(Ordering::Acquire)
    }

    /// The entry of `func`, published in `ts.calling` for the retirer
    /// before it is returned: re-read until the slot is stable, so a slot
    /// switched concurrently is either seen new or found published.
    #[inline(always)]
    pub fn entry_for_call(&self, func: FuncId, calling: &AtomicUsize) -> usize {
        let mut entry = self.entry(func);
        loop {
            // A locked exchange orders the publication before the re-read,
            // as the retirer's fence orders its slot store before its read
            // of `calling` (cheaper on x86 than a store and an `mfence`).
            calling.swap(entry, Ordering::SeqCst);
            let again = self.slots[func.index()].load(Ordering::SeqCst);
            if again == entry {
                return entry;
            }
            entry = again;
        }
    }

    /// Installs new code for `func`: one aligned 8-byte store.
    pub fn install(&self, func: FuncId, entry: EntryFn) {
        self.slots[func.index()].store(entry as usize, Ordering::Release);
    }

    /// Address of slot 0, for generated code.
    pub fn base(&self) -> *const AtomicUsize {
        self.slots.as_ptr()
    }

    /// Asks (or stops asking) baseline activations of `func` that reach
    /// loop header `pc` to move into optimized code there.
    pub fn set_osr_wanted(&self, func: FuncId, pc: u32, wanted: bool) {
        let at = self.code_offsets[func.index()] as usize + pc as usize;
        self.osr_wanted[at].store(u8::from(wanted), Ordering::Release);
    }

    /// True if baseline activations of `func` at `pc` are asked to move.
    pub fn osr_wanted(&self, func: FuncId, pc: u32) -> bool {
        let at = self.code_offsets[func.index()] as usize + pc as usize;
        self.osr_wanted[at].load(Ordering::Acquire) != 0
    }

    /// Address of the OSR flag of function 0's pc 0, for generated code.
    pub fn osr_flags(&self) -> *const AtomicU8 {
        self.osr_wanted.as_ptr()
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
