//! What every compiler produces: [`CompiledCode`], and the [`Tier`] it was
//! compiled for.
//!
//! Needs nothing but the bytecode's ids. Guarantees to the runtime (which
//! places, installs, walks and retires the code) that compiled code, from
//! any tier, is described the same way:
//!
//! - `code` is position independent and its entry point is offset 0, with
//!   the `EntryFn` convention of `abi.rs`;
//! - every byte of `code` is covered by the pc map, which names the
//!   bytecode instruction, and the chain of inlined calls it sits in, that
//!   the byte belongs to ([`CompiledCode::frames_at`]);
//! - each OSR entry continues the function at a loop header, on the frame
//!   the interpreter was running (the frame layout is shared);
//! - each direct call site names its callee, so that it can be repatched;
//! - the frame is walkable by `rbp` (`[rbp]` the caller's `rbp`, `[rbp + 8]`
//!   the return address) at every offset except those the no-frame table
//!   lists ([`NoFrameRange`]: the prologue before `mov rbp, rsp` is done,
//!   the `ret` after `pop rbp`), where it says where the return address is.
//!
//! The pc map, the inline table and the no-frame table are `repr(C)` plain
//! data: the runtime copies them next to the code in executable memory and
//! reads them back as slices with [`frames_at`], also from stack walkers;
//! the profiler's stack walker reads the no-frame table in place.

use crate::bytecode::FuncId;

/// An execution tier. The numbering (0, 1, 2) is part of the blob and
/// code-map formats.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Tier 0: the interpreter (compiles nothing).
    Interp = 0,
    /// Tier 1: the single-pass baseline compiler.
    Baseline = 1,
    /// Tier 2: the optimizing compiler.
    Opt = 2,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 3] = [Tier::Interp, Tier::Baseline, Tier::Opt];

    /// The tier's number.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The tier numbered `n`, if any.
    pub fn from_u32(n: u32) -> Option<Tier> {
        Tier::ALL.get(n as usize).copied()
    }

    /// `"interp"`, `"baseline"` or `"opt"`, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Interp => "interp",
            Tier::Baseline => "baseline",
            Tier::Opt => "opt",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of a pc map: from native `offset` on (until the next entry's
/// offset) the code belongs to bytecode `pc` of the function that `inline`
/// names: 0 is the compiled function itself, `k > 0` is inlined frame
/// `inlines[k - 1]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcMapEntry {
    /// Native offset in the code.
    pub offset: u32,
    /// Bytecode pc in the function `inline` names.
    pub pc: u32,
    /// 0 for the compiled function, `k` for `inlines[k - 1]`.
    pub inline: u32,
}

impl PcMapEntry {
    /// An entry of the compiled function itself (not inlined code).
    pub fn root(offset: u32, pc: u32) -> PcMapEntry {
        PcMapEntry {
            offset,
            pc,
            inline: 0,
        }
    }
}

/// A call that the compiler inlined: function `func`, called at `call_pc`
/// of the frame `parent` names (same encoding as [`PcMapEntry::inline`]:
/// 0 is the compiled function, `k` is `inlines[k - 1]`). A parent is
/// always listed before its children (`parent < k` for entry `k`), so every
/// chain ends at the compiled function.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineFrame {
    /// The inlined function.
    pub func: FuncId,
    /// The frame that called it: 0 for the compiled function, `k` for
    /// `inlines[k - 1]`.
    pub parent: u32,
    /// The pc of the call instruction in the parent.
    pub call_pc: u32,
}

/// A direct call (`call rel32`) to another function's compiled code,
/// repatched when the callee's code changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Offset of the call's rel32 operand in the code.
    pub offset: u32,
    /// The function called.
    pub callee: FuncId,
}

/// Where the return address is while a blob's own frame is not set up. In
/// both states `rbp` still holds the caller's frame pointer, so a walk
/// continues from it once it has the return address. The numbering is
/// part of the blob format (the profiler's stack walker reads it).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoFrameKind {
    /// At `push rbp` (the function's first instruction), or at `ret` after
    /// `pop rbp`: the return address is at `[rsp]`.
    ReturnAtSp = 0,
    /// After `push rbp`, at `mov rbp, rsp`: the caller's `rbp` is at
    /// `[rsp]`, the return address at `[rsp + 8]`.
    ReturnAboveSavedRbp = 1,
}

impl NoFrameKind {
    /// Bytes above `rsp` where the return address is.
    pub fn return_address_offset(self) -> u32 {
        match self {
            NoFrameKind::ReturnAtSp => 0,
            NoFrameKind::ReturnAboveSavedRbp => 8,
        }
    }
}

/// Native offsets `start..end` at which the frame is not set up, and
/// where the return address is meanwhile. An interrupted pc (the only pc
/// of a stack that is not at a call) may be in one; a return address never
/// is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoFrameRange {
    /// First offset of the range.
    pub start: u32,
    /// One past its last offset.
    pub end: u32,
    /// Where the return address is.
    pub kind: NoFrameKind,
}

/// The output of a compiler for one function, from any tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledCode {
    /// The function compiled.
    pub func: FuncId,
    /// The tier it was compiled for (never [`Tier::Interp`]).
    pub tier: Tier,
    /// Position-independent machine code; the entry point is offset 0.
    pub code: Vec<u8>,
    /// Sorted by offset, strictly increasing, first entry at offset 0: see
    /// [`PcMapEntry`].
    pub pc_map: Vec<PcMapEntry>,
    /// The inlined frames that `pc_map` entries name (empty for baseline).
    pub inlines: Vec<InlineFrame>,
    /// On-stack-replacement entries: `(loop header pc, native offset)`.
    /// Entering at the offset (with the `EntryFn` convention, on the frame
    /// the interpreter was running) continues the function at that pc.
    pub osr_entries: Vec<(u32, u32)>,
    /// Every direct call in the code (empty for baseline, which calls
    /// through the method table).
    pub call_sites: Vec<CallSite>,
    /// Bytes the native frame occupies below the return address once the
    /// prologue has run: the saved registers and any spill area, not the
    /// return address itself (so the frame spans `frame_size + 8` bytes
    /// from `rsp` in the body to the caller's `rsp` before the call).
    /// `frame_size + 8` is a multiple of 16, which keeps `rsp` 16-aligned
    /// at calls. Baseline: 24 (`rbp`, `rbx`, `r15`).
    pub frame_size: u32,
    /// Where the frame is not set up (each prologue's `push rbp` and `mov
    /// rbp, rsp`, each epilogue's `ret`): sorted by start, disjoint. At
    /// every other offset the frame is walkable by `rbp`.
    pub no_frame: Vec<NoFrameRange>,
}

impl CompiledCode {
    /// The OSR entry offset for loop header `pc`.
    pub fn osr_entry(&self, pc: u32) -> Option<u32> {
        self.osr_entries
            .iter()
            .find(|&&(p, _)| p == pc)
            .map(|&(_, o)| o)
    }

    /// Where the return address is if the frame is not set up at
    /// `offset`; `None` if it is (the walk goes by `rbp`).
    pub fn no_frame_at(&self, offset: u32) -> Option<NoFrameKind> {
        no_frame_at(&self.no_frame, offset)
    }

    /// Pushes the bytecode frames that the code at `offset` belongs to,
    /// innermost first: the inlined callee, then each caller at its call
    /// pc, ending with this function. False (and nothing pushed) if the
    /// offset maps to nothing.
    pub fn frames_at(&self, offset: u32, out: &mut Vec<(FuncId, u32)>) -> bool {
        frames_at(self.func, &self.pc_map, &self.inlines, offset, out)
    }
}

/// [`CompiledCode::no_frame_at`] over a no-frame table (sorted, disjoint).
pub fn no_frame_at(table: &[NoFrameRange], offset: u32) -> Option<NoFrameKind> {
    let i = table
        .partition_point(|r| r.start <= offset)
        .checked_sub(1)?;
    (offset < table[i].end).then_some(table[i].kind)
}

/// [`CompiledCode::frames_at`] over the raw tables of function `root`'s
/// code (as stored next to the code in executable memory). A malformed
/// inline chain (a parent not listed before its child) pushes nothing and
/// gives false.
pub fn frames_at(
    root: FuncId,
    pc_map: &[PcMapEntry],
    inlines: &[InlineFrame],
    offset: u32,
    out: &mut Vec<(FuncId, u32)>,
) -> bool {
    let entry = match pc_map.partition_point(|e| e.offset <= offset) {
        0 => return false,
        i => pc_map[i - 1],
    };
    let start = out.len();
    let (mut frame, mut pc) = (entry.inline, entry.pc);
    while frame != 0 {
        let Some(inlined) = inlines.get(frame as usize - 1) else {
            out.truncate(start);
            return false;
        };
        if inlined.parent >= frame {
            out.truncate(start);
            return false;
        }
        out.push((inlined.func, pc));
        (frame, pc) = (inlined.parent, inlined.call_pc);
    }
    out.push((root, pc));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_numbered_and_named() {
        for (n, tier) in Tier::ALL.into_iter().enumerate() {
            assert_eq!(tier.as_u32(), n as u32);
            assert_eq!(Tier::from_u32(n as u32), Some(tier));
        }
        assert_eq!(Tier::from_u32(3), None);
        let names: Vec<&str> = Tier::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["interp", "baseline", "opt"]);
    }

    /// Function 0 inlines 1 at its pc 4; 1 inlines 2 at its pc 7; function
    /// 0 also inlines 3 at its pc 9.
    fn inlined() -> CompiledCode {
        let e = |offset, pc, inline| PcMapEntry { offset, pc, inline };
        let f = |func, parent, call_pc| InlineFrame {
            func: FuncId(func),
            parent,
            call_pc,
        };
        CompiledCode {
            func: FuncId(0),
            tier: Tier::Opt,
            code: vec![0xC3; 64],
            pc_map: vec![
                e(0, 0, 0),
                e(10, 1, 1),
                e(20, 3, 2),
                e(30, 0, 3),
                e(40, 9, 0),
            ],
            inlines: vec![f(1, 0, 4), f(2, 1, 7), f(3, 0, 9)],
            osr_entries: vec![(2, 50)],
            call_sites: Vec::new(),
            frame_size: 24,
            no_frame: vec![
                NoFrameRange {
                    start: 0,
                    end: 1,
                    kind: NoFrameKind::ReturnAtSp,
                },
                NoFrameRange {
                    start: 1,
                    end: 4,
                    kind: NoFrameKind::ReturnAboveSavedRbp,
                },
                NoFrameRange {
                    start: 63,
                    end: 64,
                    kind: NoFrameKind::ReturnAtSp,
                },
            ],
        }
    }

    #[test]
    fn inline_chains_come_innermost_first() {
        let code = inlined();
        let frames = |offset| {
            let mut out = vec![(FuncId(99), 99)];
            let found = code.frames_at(offset, &mut out);
            (found, out[1..].to_vec())
        };
        let ids = |v: &[(u32, u32)]| v.iter().map(|&(f, pc)| (FuncId(f), pc)).collect();
        assert_eq!(frames(5), (true, ids(&[(0, 0)])));
        assert_eq!(frames(10), (true, ids(&[(1, 1), (0, 4)])));
        assert_eq!(frames(29), (true, ids(&[(2, 3), (1, 7), (0, 4)])));
        assert_eq!(frames(35), (true, ids(&[(3, 0), (0, 9)])));
        assert_eq!(frames(63), (true, ids(&[(0, 9)])));
        assert_eq!(code.osr_entry(2), Some(50));
        assert_eq!(code.osr_entry(3), None);
    }

    #[test]
    fn no_frame_ranges_say_where_the_return_address_is() {
        let code = inlined();
        let at = |offset| code.no_frame_at(offset).map(|k| k.return_address_offset());
        assert_eq!(at(0), Some(0));
        assert_eq!(at(1), Some(8));
        assert_eq!(at(3), Some(8));
        assert_eq!(at(4), None);
        assert_eq!(at(62), None);
        assert_eq!(at(63), Some(0));
        assert_eq!(at(64), None);
    }

    #[test]
    fn unmapped_offsets_and_broken_chains_push_nothing() {
        let mut code = inlined();
        code.pc_map[0].offset = 4;
        let mut out = Vec::new();
        assert!(!code.frames_at(3, &mut out));
        // A parent listed after its child, and an index past the table.
        code.inlines[0].parent = 2;
        assert!(!code.frames_at(25, &mut out));
        code.pc_map[1].inline = 9;
        assert!(!code.frames_at(15, &mut out));
        assert!(out.is_empty());
    }
}
