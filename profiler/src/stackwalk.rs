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

use crate::codemap::CodeMap;
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
    /// The calling thread's stack, or an empty range if unknown.
    pub fn of_current_thread() -> StackBounds {
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

    /// The generated-code call site that is inside a runtime helper now.
    fn helper_site(&self) -> Option<(usize, usize)> {
        if self.helper_site.is_null() {
            return None;
        }
        // SAFETY: the runtime registered the address of two live words of
        // this thread's context.
        let [pc, fp] = unsafe { std::ptr::read_volatile(self.helper_site) };
        (pc != 0).then_some((pc, fp))
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

/// Visits every frame of a thread interrupted at `pc` with frame pointer
/// `fp`, innermost first, as tagged frame words, until `visit` returns
/// false. Async-signal-safe.
pub fn visit_frames(
    bounds: &StackBounds,
    map: &CodeMap,
    frames: &InterpFrames,
    pc: usize,
    fp: usize,
    mut visit: impl FnMut(u64) -> bool,
) {
    // Interrupted in generated code, or in a helper it called (whose Rust
    // frames cannot be walked): start from that code.
    let (pc, fp) = match frames.helper_site() {
        Some(site) if map.find(pc).is_none() => (site.0.wrapping_sub(1), site.1),
        _ => (pc, fp),
    };
    let in_native = map.find(pc).is_some();
    if in_native
        && (!visit(FRAME_NATIVE | (pc as u64 & FRAME_PAYLOAD))
            || !walk_native(bounds, map, fp, &mut visit))
    {
        return;
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

/// Fills `sample` with the stack of a thread interrupted at `pc` with
/// frame pointer `fp` (its innermost frames, as many as fit).
/// Async-signal-safe.
pub fn walk(
    bounds: &StackBounds,
    map: &CodeMap,
    frames: &InterpFrames,
    pc: usize,
    fp: usize,
    sample: &mut RawSample,
) {
    visit_frames(bounds, map, frames, pc, fp, |word| sample.push(word));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codemap::CodeRange;

    /// A fake stack: frames at known addresses inside a real buffer.
    #[test]
    fn corrupted_chains_end_the_walk_without_faulting() {
        let mut stack = vec![0usize; 64];
        let base = stack.as_ptr() as usize;
        let bounds = StackBounds {
            lo: base,
            hi: base + 64 * 8,
        };
        let map = CodeMap::new(4);
        map.insert(CodeRange {
            start: 0x1000,
            end: 0x2000,
            func: 1,
            tier: 1,
        })
        .unwrap();
        // frame at word 4 -> caller at word 10 -> garbage
        stack[4] = base + 10 * 8;
        stack[5] = 0x1010; // return into generated code
        stack[10] = 0xdead_beef_0000; // wild frame pointer
        stack[11] = 0x1020;
        let mut sample = RawSample::EMPTY;
        walk(
            &bounds,
            &map,
            &InterpFrames::NONE,
            0x1500,
            base + 4 * 8,
            &mut sample,
        );
        assert_eq!(
            sample.frames(),
            &[
                FRAME_NATIVE | 0x1500,
                FRAME_NATIVE | 0x100f,
                FRAME_NATIVE | 0x101f
            ]
        );
        // Frame pointers outside the stack, misaligned or going down.
        for fp in [0, 1, base + 3, base - 8, base + 64 * 8, usize::MAX - 4] {
            let mut sample = RawSample::EMPTY;
            walk(&bounds, &map, &InterpFrames::NONE, 0x1500, fp, &mut sample);
            assert_eq!(sample.depth, 1);
        }
        // A loop in the chain stops.
        stack[4] = base + 4 * 8;
        let mut sample = RawSample::EMPTY;
        walk(
            &bounds,
            &map,
            &InterpFrames::NONE,
            0x1500,
            base + 4 * 8,
            &mut sample,
        );
        assert_eq!(sample.depth, 2);
    }

    #[test]
    fn interpreted_records_follow_native_frames() {
        #[repr(C)]
        struct Rec {
            func: u32,
            pc: u32,
            fp: usize,
            ret: usize,
        }
        let records = [
            Rec {
                func: 0,
                pc: 3,
                fp: 0,
                ret: 0,
            },
            Rec {
                func: 2,
                pc: 7,
                fp: 0,
                ret: 0,
            },
        ];
        let len = AtomicUsize::new(2);
        let frames = InterpFrames {
            records: records.as_ptr() as *const u8,
            len: &len,
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
        };
        let map = CodeMap::new(1);
        let bounds = StackBounds { lo: 0, hi: 0 };
        let mut sample = RawSample::EMPTY;
        walk(&bounds, &map, &frames, 0x5000, 0, &mut sample);
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
            walk(&bounds, &map, &frames, 0x5000, 0, &mut sample);
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
}
