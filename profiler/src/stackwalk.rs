//! Walking a thread's stack from inside its own SIGPROF handler.
//!
//! Native frames of generated code keep the `rbp` chain: `[fp]` is the
//! caller's frame pointer, `[fp + 8]` the return address. Interpreted frames
//! are records in an array the runtime describes with [`InterpFrames`]. The
//! walk alternates: native frames until a return address leaves generated
//! code, then interpreted records, each of which may have been called by
//! generated code (its record names that caller's `rbp` and return
//! address), and so on.
//!
//! Every memory read is checked against the thread's stack bounds and
//! alignment before it happens, and each frame pointer must be above the
//! previous one, so a corrupted chain ends the walk instead of faulting.
//!
//! **Prologues and epilogues.** The `rbp` chain is complete only once a
//! function's `push rbp; mov rbp, rsp` has run and until its `pop rbp`.
//! Each blob lists the pcs outside that window in its no-frame table
//! (named by its [`CodeRange::no_frame`]): `u32` count, then `count`
//! entries of [`NO_FRAME_ENTRY_WORDS`] `u32`s, `(start, end, kind)`:
//! offsets from the blob's start, sorted and disjoint, and where the return
//! address is: [`NO_FRAME_RETURN_AT_SP`] (`[rsp]`: before `push rbp`, or at
//! `ret` after `pop rbp`) or [`NO_FRAME_RETURN_ABOVE_SAVED_RBP`]
//! (`[rsp + 8]`: after `push rbp`). In both, `rbp` still holds the
//! caller's frame pointer. Only the innermost frame can be in such a range
//! (every caller is at a call), so the walk looks the interrupted pc up,
//! and if it is there takes the return address from the stack (a checked
//! read like any other) and continues the `rbp` walk from the interrupted
//! `rbp`. So a walk is exact at every pc of generated code.
//!
//! **The interpreter's entry stub.** Generated code calls the interpreter
//! through a small assembly stub of the runtime's ([`FramedStub`]) that
//! keeps the `rbp` chain the same way, with its own no-frame table, but is
//! no tj frame. A thread interrupted in it is walked from its caller
//! exactly as from generated code at that pc, without a frame of its own;
//! the helper site is not used there (the stub publishes and restores it,
//! so it is half written at some of its instructions).
//!
//! Why reading the table from a signal handler is safe: it is read only
//! for the blob that contains the interrupted pc, i.e. the code this very
//! thread was running (the code map's range for that pc, read consistently
//! under its seqlock, is that blob's own: the runtime removes a blob from
//! the map before its memory is freed or reused). The code map's contract
//! ([`CodeMap::insert`]) is that the table stays valid while any thread
//! may be inside that code;
//! the runtime frees a blob only after a handshake signal, answered by each
//! thread from its own handler, found no thread inside it, and a thread
//! cannot answer while it is in this handler (both handlers block every
//! other signal). The table's count is also bounded by the blob's size
//! before any entry is read.

use crate::codemap::{CodeMap, CodeRange};
use crate::ring::{RawSample, FRAME_INTERP, FRAME_NATIVE, FRAME_PAYLOAD};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The address range of a thread's stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackBounds {
    /// Lowest address.
    pub lo: usize,
    /// One past the highest address.
    pub hi: usize,
}

impl StackBounds {
    /// The calling thread's stack, or an empty range if unknown. Asked
    /// once per thread: for the process's main thread glibc finds it by
    /// reading `/proc/self/maps`, which took 60 us of every call a host
    /// made into tj code.
    pub fn of_current_thread() -> StackBounds {
        thread_local! {
            static BOUNDS: std::cell::Cell<Option<StackBounds>> = const { std::cell::Cell::new(None) };
        }
        BOUNDS.with(|cached| {
            cached.get().unwrap_or_else(|| {
                let bounds = Self::ask_current_thread();
                cached.set(Some(bounds));
                bounds
            })
        })
    }

    fn ask_current_thread() -> StackBounds {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
        // SAFETY: pthread_getattr_np initialises `attr` for the calling
        // thread; we read the stack range and destroy it.
        unsafe {
            if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
                return StackBounds { lo: 0, hi: 0 };
            }
            let mut addr = std::ptr::null_mut();
            let mut size = 0usize;
            let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
            libc::pthread_attr_destroy(attr.as_mut_ptr());
            if !ok {
                return StackBounds { lo: 0, hi: 0 };
            }
            StackBounds {
                lo: addr as usize,
                hi: addr as usize + size,
            }
        }
    }

    /// The word at `addr`, if it lies (aligned) inside the stack.
    #[inline(always)]
    pub fn read(&self, addr: usize) -> Option<usize> {
        if addr >= self.lo && addr.checked_add(8)? <= self.hi && addr.is_multiple_of(8) {
            // SAFETY: the word lies inside this thread's mapped stack.
            Some(unsafe { std::ptr::read_volatile(addr as *const usize) })
        } else {
            None
        }
    }
}

/// `u32`s in one no-frame table entry: start offset, end offset, kind.
pub const NO_FRAME_ENTRY_WORDS: usize = 3;
/// No-frame kind: the return address is at `[rsp]`.
pub const NO_FRAME_RETURN_AT_SP: u32 = 0;
/// No-frame kind: the caller's `rbp` is at `[rsp]`, the return address at
/// `[rsp + 8]`.
pub const NO_FRAME_RETURN_ABOVE_SAVED_RBP: u32 = 1;

/// Where the return address is (bytes above `rsp`) if the frame of the
/// code in `range` is not set up at `pc`; `None` if it is (or the table
/// says nothing that makes sense).
///
/// # Safety
/// A thread is running the code at `pc` in `range` (it was interrupted
/// there), so the range's table is valid ([`CodeMap::insert`]; a
/// [`FramedStub`]'s table is static).
unsafe fn no_frame_return_offset(range: &CodeRange, pc: usize) -> Option<usize> {
    let table = range.no_frame;
    if table == 0 || !table.is_multiple_of(4) {
        return None;
    }
    let offset = u32::try_from(pc.checked_sub(range.start)?).ok()?;
    // SAFETY: the caller's contract: a valid table, which starts with its
    // count. Every range covers at least one byte of code, so no valid
    // table has more entries than the code has bytes.
    let count = unsafe { std::ptr::read(table as *const u32) } as usize;
    if count > range.end.saturating_sub(range.start) {
        return None;
    }
    let entries = (table + 4) as *const [u32; NO_FRAME_ENTRY_WORDS];
    // SAFETY: i < count, and the table holds count entries after the count.
    let entry = |i: usize| unsafe { std::ptr::read(entries.add(i)) };
    // Binary search for the last entry starting at or below the offset.
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if entry(mid)[0] <= offset {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let [_, end, kind] = entry(lo.checked_sub(1)?);
    if offset >= end {
        return None;
    }
    match kind {
        NO_FRAME_RETURN_AT_SP => Some(0),
        NO_FRAME_RETURN_ABOVE_SAVED_RBP => Some(8),
        _ => None,
    }
}

/// Runtime code (not in the code map) that generated code calls and that
/// keeps its native frame as generated code does: `push rbp; mov rbp, rsp`
/// first, `pop rbp; ret` last, `rbp` untouched in between, and a no-frame
/// table in the same format (address `no_frame`, offsets from `start`)
/// for the instructions outside that frame. The interpreter's entry stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramedStub {
    /// First byte of its code.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Address of its no-frame table (static: valid for the process).
    pub no_frame: usize,
}

impl FramedStub {
    /// No stub.
    pub const NONE: FramedStub = FramedStub {
        start: 0,
        end: 0,
        no_frame: 0,
    };

    /// The stub as a range for [`walk_innermost`] (no function, no tier:
    /// only its table is read).
    fn range_at(&self, pc: usize) -> Option<CodeRange> {
        (self.start <= pc && pc < self.end).then_some(CodeRange {
            start: self.start,
            end: self.end,
            func: u32::MAX,
            tier: 0,
            no_frame: self.no_frame,
        })
    }
}

/// Where a frame record's fields are, so the profiler can read the
/// runtime's interpreted frames without knowing its types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLayout {
    /// Bytes from one record to the next.
    pub stride: usize,
    /// Offset of the function id (u32).
    pub func: usize,
    /// Offset of the pc (u32).
    pub pc: usize,
    /// Offset of the native caller's frame pointer (usize, 0 if none).
    pub native_fp: usize,
    /// Offset of the native caller's return address (usize, 0 if none).
    pub native_ret: usize,
    /// Offset of the "replaced" flag (u32, non-zero: the record is no frame
    /// of its own, only a link to its native caller).
    pub replaced: usize,
}

/// A thread's interpreted frames: records outermost first, the first `len`
/// of them valid. The owner completes a record before counting it.
#[derive(Clone, Copy, Debug)]
pub struct InterpFrames {
    /// Address of record 0.
    pub records: *const u8,
    /// The number of valid records.
    pub len: *const AtomicUsize,
    /// The records' layout.
    pub layout: RecordLayout,
    /// Where generated code that called into the runtime is: two words,
    /// the return address into it (0 if none) and its frame pointer. Null
    /// if the thread has no such record.
    pub helper_site: *const [usize; 2],
    /// Where the interpreter is: three words, published by the
    /// interpreter before each instruction it runs (the records only say
    /// where each frame last called or looped): the instruction's address
    /// (0: unknown, zeroed before the others change), the address of
    /// instruction 0 of the function running, and its id. Used for the
    /// innermost record only if the address is non-zero, at or after the
    /// code base on an instruction boundary, and the id is that record's
    /// function (a pc past the function's end is the aggregator's to
    /// reject: it knows the bytecode). Null if the interpreter does not say.
    pub position: *const [usize; 3],
    /// Bytes of one bytecode instruction (to turn an instruction address
    /// into a pc).
    pub instr_size: usize,
    /// The stub through which generated code enters the interpreter
    /// ([`FramedStub::NONE`] if there is none).
    pub entry_stub: FramedStub,
    /// A stub in code memory that direct calls reach `entry_stub` through
    /// (a jump: its no-frame table covers it, so the walk goes on to its
    /// caller); [`FramedStub::NONE`] if there is none.
    pub call_stub: FramedStub,
}

impl InterpFrames {
    /// No interpreted frames.
    pub const NONE: InterpFrames = InterpFrames {
        records: std::ptr::null(),
        len: std::ptr::null(),
        layout: RecordLayout {
            stride: 0,
            func: 0,
            pc: 0,
            native_fp: 0,
            native_ret: 0,
            replaced: 0,
        },
        helper_site: std::ptr::null(),
        position: std::ptr::null(),
        instr_size: 0,
        entry_stub: FramedStub::NONE,
        call_stub: FramedStub::NONE,
    };

    /// The pc of the instruction the interpreter is executing in `func`,
    /// if it published one that checks out.
    fn current_pc(&self, func: u32) -> Option<u32> {
        if self.position.is_null() || self.instr_size == 0 {
            return None;
        }
        // SAFETY: the runtime registered the address of its live position
        // words; plain reads of integers (a torn or stale value fails the
        // checks below).
        let [ip, code, f] = unsafe { std::ptr::read_volatile(self.position) };
        let offset = ip.checked_sub(code)?;
        if ip == 0 || f != func as usize || offset % self.instr_size != 0 {
            return None;
        }
        u32::try_from(offset / self.instr_size).ok()
    }

    /// The generated-code call site that is inside a runtime helper now:
    /// `(return address, frame pointer)`. None also while the innermost
    /// record links to that same site (the interpreter has just pushed the
    /// record for a call from that site, or is popping it, and publishes
    /// the site around that moment): then the record is the innermost
    /// frame, and its link leads to the caller once, not twice.
    fn helper_site(&self) -> Option<(usize, usize)> {
        if self.helper_site.is_null() {
            return None;
        }
        // SAFETY: the runtime registered the address of two live words of
        // this thread's context.
        let [pc, fp] = unsafe { std::ptr::read_volatile(self.helper_site) };
        let linked_by_record = |n: usize| {
            let (_, _, native_fp, native_ret) = self.record(n - 1);
            (native_ret, native_fp) == (pc, fp)
        };
        let n = self.count();
        (pc != 0 && (n == 0 || !linked_by_record(n))).then_some((pc, fp))
    }

    fn count(&self) -> usize {
        if self.len.is_null() {
            return 0;
        }
        // SAFETY: the runtime registered a pointer to its live length.
        unsafe { (*self.len).load(Ordering::Relaxed) }
    }

    /// `(func, pc, native_fp, native_ret)` of record `i` (< count); `func`
    /// is `u32::MAX` for a replaced record.
    fn record(&self, i: usize) -> (u32, u32, usize, usize) {
        let l = self.layout;
        // SAFETY: i is below the published length; the runtime registered
        // the records' address and layout, and the array never moves.
        unsafe {
            let r = self.records.add(i * l.stride);
            let replaced =
                l.replaced != 0 && std::ptr::read_volatile(r.add(l.replaced) as *const u32) != 0;
            (
                if replaced {
                    u32::MAX
                } else {
                    std::ptr::read_volatile(r.add(l.func) as *const u32)
                },
                std::ptr::read_volatile(r.add(l.pc) as *const u32),
                std::ptr::read_volatile(r.add(l.native_fp) as *const usize),
                std::ptr::read_volatile(r.add(l.native_ret) as *const usize),
            )
        }
    }
}

/// Visits the native return address that each interpreted record keeps
/// (its caller in generated code), found or not in the code map.
pub fn visit_record_returns(frames: &InterpFrames, mut visit: impl FnMut(usize)) {
    for i in 0..frames.count() {
        let (_, _, _, native_ret) = frames.record(i);
        if native_ret != 0 {
            visit(native_ret);
        }
    }
}

/// Visits the native callers of the generated-code frame at `fp`; stops
/// when `visit` returns false.
fn walk_native(
    bounds: &StackBounds,
    map: &CodeMap,
    mut fp: usize,
    visit: &mut impl FnMut(u64) -> bool,
) -> bool {
    loop {
        let (Some(next_fp), Some(ret)) = (bounds.read(fp), bounds.read(fp.wrapping_add(8))) else {
            return true;
        };
        if map.find(ret.wrapping_sub(1)).is_none() {
            return true;
        }
        if !visit(FRAME_NATIVE | (ret.wrapping_sub(1) as u64 & FRAME_PAYLOAD)) {
            return false;
        }
        if next_fp <= fp {
            return true;
        }
        fp = next_fp;
    }
}

/// Visits the callers of the innermost generated-code frame (or of the
/// interpreter's entry stub: `range` is then the stub's), at `pc` in
/// `range` with frame pointer `fp`; `sp` is the stack pointer if `pc` is
/// where the thread was interrupted (None: `pc` is a call site, whose frame
/// is set up). Stops when `visit` returns false.
fn walk_innermost(
    bounds: &StackBounds,
    map: &CodeMap,
    range: &CodeRange,
    pc: usize,
    sp: Option<usize>,
    fp: usize,
    visit: &mut impl FnMut(u64) -> bool,
) -> bool {
    let Some(sp) = sp else {
        return walk_native(bounds, map, fp, visit);
    };
    // SAFETY: with an `sp`, `pc` is where the thread was interrupted
    // ([`visit_frames`]' contract), in the code of `range`.
    let Some(offset) = (unsafe { no_frame_return_offset(range, pc) }) else {
        return walk_native(bounds, map, fp, visit);
    };
    // The frame is not set up: the return address is on top of the stack
    // and rbp is still the caller's frame pointer.
    let at = sp.wrapping_add(offset);
    let Some(ret) = bounds.read(at) else {
        return true;
    };
    if map.find(ret.wrapping_sub(1)).is_none() {
        return true;
    }
    if !visit(FRAME_NATIVE | (ret.wrapping_sub(1) as u64 & FRAME_PAYLOAD)) {
        return false;
    }
    // The caller's frame lies above the return address it pushed.
    fp <= at || walk_native(bounds, map, fp, visit)
}

/// Visits every frame of a thread interrupted `at`, innermost first, as
/// tagged frame words, until `visit` returns false. Async-signal-safe.
///
/// `at` is where a thread was interrupted and still is (the caller is its
/// signal handler): the no-frame table of the code at `at.pc` is read,
/// which [`CodeMap::insert`] keeps valid only while a thread is inside
/// that code.
pub fn visit_frames(
    bounds: &StackBounds,
    map: &CodeMap,
    frames: &InterpFrames,
    at: Interrupted,
    mut visit: impl FnMut(u64) -> bool,
) {
    let stub = frames
        .entry_stub
        .range_at(at.pc)
        .or_else(|| frames.call_stub.range_at(at.pc));
    // Interrupted in generated code, or in a helper it called (whose Rust
    // frames cannot be walked): start from that code.
    let (pc, sp, fp) = match frames.helper_site() {
        Some(site) if stub.is_none() && map.find(at.pc).is_none() => {
            (site.0.wrapping_sub(1), None, site.1)
        }
        _ => (at.pc, Some(at.sp), at.fp),
    };
    let innermost = map.find(pc);
    let in_native = innermost.is_some() || stub.is_some();
    if let Some(range) = innermost {
        if !visit(FRAME_NATIVE | (pc as u64 & FRAME_PAYLOAD))
            || !walk_innermost(bounds, map, &range, pc, sp, fp, &mut visit)
        {
            return;
        }
    } else if let Some(range) = stub {
        // In the interpreter's entry stub (or the jump to it): its
        // callers, exactly, but no frame of its own (it is no tj frame).
        if !walk_innermost(bounds, map, &range, at.pc, Some(at.sp), at.fp, &mut visit) {
            return;
        }
    }
    let n = frames.count();
    for i in (0..n).rev() {
        let (func, mut pc, native_fp, native_ret) = frames.record(i);
        if i + 1 == n && !in_native {
            // The interpreter itself is running this frame: its exact
            // instruction, rather than its last call or backward branch.
            pc = frames.current_pc(func).unwrap_or(pc);
        }
        if func != u32::MAX && !visit(FRAME_INTERP | (func as u64) << 32 | pc as u64) {
            return;
        }
        if native_ret != 0 && map.find(native_ret.wrapping_sub(1)).is_some() {
            if !visit(FRAME_NATIVE | (native_ret.wrapping_sub(1) as u64 & FRAME_PAYLOAD)) {
                return;
            }
            if !walk_native(bounds, map, native_fp, &mut visit) {
                return;
            }
        }
    }
}

/// The registers of an interrupted thread that a walk starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// `rip`.
    pub pc: usize,
    /// `rsp`.
    pub sp: usize,
    /// `rbp`.
    pub fp: usize,
}

impl Interrupted {
    /// The registers saved in a signal handler's context.
    ///
    /// # Safety
    /// `context` is the third argument of an `SA_SIGINFO` handler (a
    /// `ucontext_t` the kernel wrote).
    pub unsafe fn from_signal_context(context: *const libc::c_void) -> Interrupted {
        // SAFETY: the caller's contract.
        let gregs = unsafe { &(*(context as *const libc::ucontext_t)).uc_mcontext.gregs };
        Interrupted {
            pc: gregs[libc::REG_RIP as usize] as usize,
            sp: gregs[libc::REG_RSP as usize] as usize,
            fp: gregs[libc::REG_RBP as usize] as usize,
        }
    }
}

/// Fills `sample` with the stack of a thread interrupted at `at` (its
/// innermost frames, as many as fit). Async-signal-safe; `at` as for
/// [`visit_frames`].
pub fn walk(
    bounds: &StackBounds,
    map: &CodeMap,
    frames: &InterpFrames,
    at: Interrupted,
    sample: &mut RawSample,
) {
    visit_frames(bounds, map, frames, at, |word| sample.push(word));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds generated code at `start..end` with the no-frame table at
    /// `table` (0 for none).
    fn add_code(map: &CodeMap, start: usize, end: usize, table: usize) {
        let range = CodeRange {
            start,
            end,
            func: 1,
            tier: 1,
            no_frame: table,
        };
        // SAFETY: every test keeps its table alive while it walks.
        unsafe { map.insert(range) }.unwrap();
    }

    /// The frame words of a walk of native frames only.
    fn walk_native_only(bounds: &StackBounds, map: &CodeMap, at: Interrupted) -> Vec<u64> {
        let mut sample = RawSample::EMPTY;
        walk(bounds, map, &InterpFrames::NONE, at, &mut sample);
        sample.frames().to_vec()
    }

    /// Interrupted outside generated code (in the interpreter, say).
    const IN_RUST: Interrupted = Interrupted {
        pc: 0x5000,
        sp: 0,
        fp: 0,
    };

    /// Interpreted frames in records of `[func | pc << 32, native fp,
    /// native return address]`.
    fn records_of(records: &[[usize; 3]], len: &AtomicUsize) -> InterpFrames {
        InterpFrames {
            records: records.as_ptr() as *const u8,
            len,
            layout: RecordLayout {
                stride: 24,
                func: 0,
                pc: 4,
                native_fp: 8,
                native_ret: 16,
                replaced: 0,
            },
            helper_site: std::ptr::null(),
            position: std::ptr::null(),
            instr_size: 0,
            entry_stub: FramedStub::NONE,
            call_stub: FramedStub::NONE,
        }
    }

    /// The bounds of a fake stack.
    fn bounds_of(stack: &[usize]) -> StackBounds {
        let lo = stack.as_ptr() as usize;
        StackBounds {
            lo,
            hi: lo + std::mem::size_of_val(stack),
        }
    }

    /// A fake stack: frames at known addresses inside a real buffer.
    #[test]
    fn corrupted_chains_end_the_walk_without_faulting() {
        let mut stack = vec![0usize; 64];
        let base = stack.as_ptr() as usize;
        let bounds = bounds_of(&stack);
        let map = CodeMap::new(4);
        add_code(&map, 0x1000, 0x2000, 0);
        // frame at word 4 -> caller at word 10 -> garbage
        stack[4] = base + 10 * 8;
        stack[5] = 0x1010; // return into generated code
        stack[10] = 0xdead_beef_0000; // wild frame pointer
        stack[11] = 0x1020;
        let at = |fp| Interrupted {
            pc: 0x1500,
            sp: base,
            fp,
        };
        assert_eq!(
            walk_native_only(&bounds, &map, at(base + 4 * 8)),
            [
                FRAME_NATIVE | 0x1500,
                FRAME_NATIVE | 0x100f,
                FRAME_NATIVE | 0x101f
            ]
        );
        // Frame pointers outside the stack, misaligned or going down.
        for fp in [0, 1, base + 3, base - 8, base + 64 * 8, usize::MAX - 4] {
            assert_eq!(walk_native_only(&bounds, &map, at(fp)).len(), 1);
        }
        // A loop in the chain stops.
        stack[4] = base + 4 * 8;
        assert_eq!(walk_native_only(&bounds, &map, at(base + 4 * 8)).len(), 2);
    }

    #[test]
    fn prologues_and_epilogues_keep_the_caller() {
        let mut stack = vec![0usize; 32];
        let base = stack.as_ptr() as usize;
        let bounds = bounds_of(&stack);
        // The callee's code at 0x1000: `push rbp` at 0, `mov rbp, rsp` at
        // 1..4, `ret` at 0x80. Its caller at 0x3000 has no table.
        let table: [u32; 10] = [3, 0, 1, 0, 1, 4, 1, 0x80, 0x81, 0];
        let map = CodeMap::new(4);
        add_code(&map, 0x1000, 0x2000, table.as_ptr() as usize);
        add_code(&map, 0x3000, 0x4000, 0);
        // The caller's frame at word 10, called from 0x3200 by a frame
        // that ends the chain; it called the callee, returning to 0x3010.
        stack[10] = 0;
        stack[11] = 0x3200;
        stack[6] = 0x3010;
        let caller_fp = base + 10 * 8;
        let callers = [FRAME_NATIVE | 0x300f, FRAME_NATIVE | 0x31ff];
        let expect = |pc: usize| {
            let mut frames = vec![FRAME_NATIVE | pc as u64];
            frames.extend(callers);
            frames
        };
        let walk_at = |pc, sp, fp| walk_native_only(&bounds, &map, Interrupted { pc, sp, fp });
        // At `push rbp` and at `ret`: the return address is at [rsp], rbp
        // is the caller's.
        assert_eq!(walk_at(0x1000, base + 6 * 8, caller_fp), expect(0x1000));
        assert_eq!(walk_at(0x1080, base + 6 * 8, caller_fp), expect(0x1080));
        // At `mov rbp, rsp`: the saved rbp is at [rsp], the return address
        // above it.
        stack[5] = caller_fp;
        for pc in 0x1001..0x1004 {
            assert_eq!(walk_at(pc, base + 5 * 8, caller_fp), expect(pc));
        }
        // Once `mov rbp, rsp` has run, by rbp as everywhere else.
        assert_eq!(walk_at(0x1004, base, base + 5 * 8), expect(0x1004));
        // A return address off the stack, or not into generated code, ends
        // the walk at the innermost frame.
        assert_eq!(walk_at(0x1000, base - 8, caller_fp), expect(0x1000)[..1]);
        assert_eq!(
            walk_at(0x1000, base + 7 * 8, caller_fp),
            expect(0x1000)[..1]
        );
        // A caller's frame pointer below the return address is no frame.
        assert_eq!(walk_at(0x1000, base + 6 * 8, base), expect(0x1000)[..2]);
    }

    #[test]
    fn the_entry_stub_is_walked_through_to_its_caller() {
        let mut stack = vec![0usize; 32];
        let base = stack.as_ptr() as usize;
        let bounds = bounds_of(&stack);
        // The stub at 0x5000: `push rbp` at 0, `mov rbp, rsp` at 1..4, `ret`
        // at 0x2c. Its caller at 0x3000 (frame at word 10, called from
        // 0x3200 by a frame that ends the chain) returns to 0x3010.
        let table: [u32; 10] = [3, 0, 1, 0, 1, 4, 1, 0x2c, 0x2d, 0];
        let map = CodeMap::new(4);
        add_code(&map, 0x3000, 0x4000, 0);
        stack[10] = 0;
        stack[11] = 0x3200;
        stack[6] = 0x3010;
        let caller_fp = base + 10 * 8;
        // A helper site naming other code (stale, or half written by the
        // stub) is not followed while the thread is in the stub.
        let site = [0x3801usize, 0];
        let frames = InterpFrames {
            helper_site: &site,
            entry_stub: FramedStub {
                start: 0x5000,
                end: 0x502d,
                no_frame: table.as_ptr() as usize,
            },
            ..InterpFrames::NONE
        };
        let walk_at = |pc, sp, fp| {
            let mut sample = RawSample::EMPTY;
            walk(
                &bounds,
                &map,
                &frames,
                Interrupted { pc, sp, fp },
                &mut sample,
            );
            sample.frames().to_vec()
        };
        let callers = [FRAME_NATIVE | 0x300f, FRAME_NATIVE | 0x31ff];
        // At `push rbp` and at `ret`: the return address is at [rsp].
        assert_eq!(walk_at(0x5000, base + 6 * 8, caller_fp), callers);
        assert_eq!(walk_at(0x502c, base + 6 * 8, caller_fp), callers);
        // At `mov rbp, rsp`: above the saved rbp.
        stack[5] = caller_fp;
        assert_eq!(walk_at(0x5001, base + 5 * 8, caller_fp), callers);
        // Inside its frame: by rbp.
        for pc in [0x5004, 0x5010, 0x502b] {
            assert_eq!(walk_at(pc, base, base + 5 * 8), callers);
        }
        // Past the stub, in Rust code, the helper site is the way in.
        assert_eq!(walk_at(0x502d, base, 0), [FRAME_NATIVE | 0x3800]);
    }

    #[test]
    fn the_call_stub_is_walked_through_to_its_caller() {
        let mut stack = vec![0usize; 32];
        let base = stack.as_ptr() as usize;
        let bounds = bounds_of(&stack);
        // The jump at 0x6000..0x6006 (its data after it); its caller at
        // 0x3000 (frame at word 10, called from 0x3200 by a frame that ends
        // the chain) returns to 0x3010.
        let table: [u32; 4] = [1, 0, 6, 0];
        let map = CodeMap::new(4);
        add_code(&map, 0x3000, 0x4000, 0);
        stack[10] = 0;
        stack[11] = 0x3200;
        stack[6] = 0x3010;
        let frames = InterpFrames {
            call_stub: FramedStub {
                start: 0x6000,
                end: 0x6006,
                no_frame: table.as_ptr() as usize,
            },
            ..InterpFrames::NONE
        };
        let mut sample = RawSample::EMPTY;
        let at = Interrupted {
            pc: 0x6000,
            sp: base + 6 * 8,
            fp: base + 10 * 8,
        };
        walk(&bounds, &map, &frames, at, &mut sample);
        assert_eq!(
            sample.frames(),
            [FRAME_NATIVE | 0x300f, FRAME_NATIVE | 0x31ff]
        );
    }

    #[test]
    fn a_table_that_makes_no_sense_is_not_read_past_the_code() {
        let mut stack = vec![0usize; 32];
        let base = stack.as_ptr() as usize;
        let bounds = bounds_of(&stack);
        stack[5] = 0;
        // More entries than the 16 bytes of code have bytes: ignored, so
        // the walk goes by rbp.
        let table: [u32; 4] = [17, 0, 1, 0];
        let map = CodeMap::new(4);
        add_code(&map, 0x1000, 0x1010, table.as_ptr() as usize);
        add_code(&map, 0x2000, 0x2010, 0);
        stack[6] = 0x2004;
        let at = Interrupted {
            pc: 0x1000,
            sp: base + 6 * 8,
            fp: base + 5 * 8,
        };
        assert_eq!(
            walk_native_only(&bounds, &map, at),
            [FRAME_NATIVE | 0x1000, FRAME_NATIVE | 0x2003]
        );
        // An unknown kind counts as a set-up frame too.
        let table: [u32; 4] = [1, 0, 1, 7];
        add_code(&map, 0x5000, 0x5010, table.as_ptr() as usize);
        let at = Interrupted { pc: 0x5000, ..at };
        assert_eq!(
            walk_native_only(&bounds, &map, at),
            [FRAME_NATIVE | 0x5000, FRAME_NATIVE | 0x2003]
        );
    }

    #[test]
    fn interpreted_records_follow_native_frames() {
        let records: [[usize; 3]; 2] = [[3 << 32, 0, 0], [7 << 32 | 2, 0, 0]];
        let len = AtomicUsize::new(2);
        let frames = records_of(&records, &len);
        let map = CodeMap::new(1);
        let bounds = StackBounds { lo: 0, hi: 0 };
        let mut sample = RawSample::EMPTY;
        walk(&bounds, &map, &frames, IN_RUST, &mut sample);
        assert_eq!(
            sample.frames(),
            &[FRAME_INTERP | 2 << 32 | 7, FRAME_INTERP | 3]
        );

        // The interpreter's published position refines the innermost
        // record's pc, and only when it checks out.
        let code = [0u64; 16];
        let code_at = code.as_ptr() as usize;
        // [ip, code, func]
        let mut position = [code_at + 9 * 8, code_at, 2];
        let innermost = |position: &[usize; 3]| {
            let frames = InterpFrames {
                position,
                instr_size: 8,
                ..frames
            };
            let mut sample = RawSample::EMPTY;
            walk(&bounds, &map, &frames, IN_RUST, &mut sample);
            sample.frames()[0]
        };
        assert_eq!(innermost(&position), FRAME_INTERP | 2 << 32 | 9);
        position[2] = 0; // another function's position: stale
        assert_eq!(innermost(&position), FRAME_INTERP | 2 << 32 | 7);
        position[2] = 2;
        position[0] = code_at - 8; // before the start
        assert_eq!(innermost(&position), FRAME_INTERP | 2 << 32 | 7);
        position[0] = code_at + 9 * 8 + 3; // not on an instruction
        assert_eq!(innermost(&position), FRAME_INTERP | 2 << 32 | 7);
        position[0] = 0; // being changed
        assert_eq!(innermost(&position), FRAME_INTERP | 2 << 32 | 7);
    }

    #[test]
    fn a_call_site_that_the_innermost_record_links_to_is_walked_once() {
        // Generated code (frame at word 4, called from 0x1800 by a frame
        // that ends the chain) called the interpreter, returning to 0x1010.
        let mut stack = [0usize; 16];
        stack[5] = 0x1800;
        let base = stack.as_ptr() as usize;
        let bounds = bounds_of(&stack);
        let map = CodeMap::new(2);
        add_code(&map, 0x1000, 0x2000, 0);
        let (caller_fp, caller_ret) = (base + 4 * 8, 0x1010);
        let records: [[usize; 3]; 2] = [[3 << 32, 0, 0], [7 << 32 | 2, caller_fp, caller_ret]];
        let len = AtomicUsize::new(2);
        let site = [caller_ret, caller_fp];
        let frames = InterpFrames {
            helper_site: &site,
            ..records_of(&records, &len)
        };
        let walk_frames = || {
            let mut sample = RawSample::EMPTY;
            walk(&bounds, &map, &frames, IN_RUST, &mut sample);
            sample.frames().to_vec()
        };
        let native_callers = [FRAME_NATIVE | 0x100f, FRAME_NATIVE | 0x17ff];
        // The record for the call is pushed (or not popped yet) while the
        // context still names the call site: the record is innermost.
        let mut expected = vec![FRAME_INTERP | 2 << 32 | 7];
        expected.extend(native_callers);
        expected.push(FRAME_INTERP | 3);
        assert_eq!(walk_frames(), expected);
        // Before the record is pushed, the site is the innermost frame.
        len.store(1, Ordering::Relaxed);
        let mut expected = native_callers.to_vec();
        expected.push(FRAME_INTERP | 3);
        assert_eq!(walk_frames(), expected);
    }
}
