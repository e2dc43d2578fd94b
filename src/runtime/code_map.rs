//! Which generated code is where: native address ranges to (function,
//! tier), and through each blob's own pc map and inline table to the chain
//! of bytecode frames (function, pc) at a native pc.
//!
//! The ranges live in the profiler's lock-free [`RangeMap`], which the
//! SIGPROF handler reads too; the pc maps live in the blobs themselves
//! (see `code_memory`), so there is one record of each blob. The profiler
//! crate knows tiers only as numbers: this module is the one place that
//! converts between them and [`Tier`].

use super::code_memory::{self, Blob};
use std::sync::Arc;
use tierjit_profiler::codemap::{CodeMap as RangeMap, CodeRange};
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::code::Tier;

/// The most blobs alive at once.
const CAPACITY: usize = 1 << 16;

/// Address ranges of all live blobs.
pub struct CodeMap {
    ranges: Arc<RangeMap>,
}

impl Default for CodeMap {
    fn default() -> CodeMap {
        CodeMap {
            ranges: Arc::new(RangeMap::new(CAPACITY)),
        }
    }
}

impl CodeMap {
    /// Records a placed blob of `func`.
    pub fn insert(&self, blob: &Blob, func: FuncId) -> Result<(), String> {
        let range = CodeRange {
            start: blob.code_rx,
            end: blob.code_rx + blob.code_size,
            func: func.0,
            tier: blob.tier.as_u32(),
            no_frame: blob.no_frame_table,
        };
        // SAFETY: the blob holds its no-frame table in the walker's format
        // (checked in code_memory) and is freed only after a handshake
        // finds no thread inside its code, so the table is there while any
        // thread runs the range.
        unsafe { self.ranges.insert(range) }.map_err(|e| format!("code map: {e:?}"))
    }

    /// Forgets the blob whose code starts at `start`.
    pub fn remove(&self, start: usize) {
        self.ranges.remove(start);
    }

    /// Forgets the blobs whose code starts at `starts`, in one pass.
    pub fn remove_all(&self, starts: &[usize]) {
        self.ranges.remove_all(starts);
    }

    /// The blob containing `pc` (waits out concurrent writers).
    pub fn find(&self, pc: usize) -> Option<CodeRange> {
        self.ranges.find_waiting(pc)
    }

    /// Pushes the bytecode frames at native `pc`, innermost first (inlined
    /// callees, then their callers, ending with the blob's function), and
    /// gives the blob's tier; `None` (nothing pushed) if `pc` is not in
    /// generated code. Waits out concurrent writers: not for signal
    /// handlers.
    pub fn frames(&self, pc: usize, out: &mut Vec<(FuncId, u32)>) -> Option<Tier> {
        let range = self.ranges.find_waiting(pc)?;
        // SAFETY: the range is in the code map, so its blob is live.
        let found = unsafe { code_memory::frames_at(range.start, (pc - range.start) as u32, out) };
        found.then(|| range_tier(&range))
    }

    /// The lock-free range map, shared with the sampler.
    pub fn ranges(&self) -> Arc<RangeMap> {
        self.ranges.clone()
    }
}

/// The tier of a range in the profiler's map (which the runtime inserted,
/// so the number is always a compiled tier's).
pub fn range_tier(range: &CodeRange) -> Tier {
    Tier::from_u32(range.tier).unwrap_or(Tier::Baseline)
}
