//! Which generated code is where: native address ranges to (function,
//! tier), and through each blob's own pc map to bytecode pcs.
//!
//! The ranges live in the profiler's lock-free [`RangeMap`], which the
//! SIGPROF handler reads too; the pc maps live in the blobs themselves
//! (see `code_memory`), so there is one record of each blob.

use super::code_memory::{self, Blob};
use std::sync::Arc;
use tierjit_profiler::codemap::{CodeMap as RangeMap, CodeRange};
use tierjit_tiers::bytecode::FuncId;

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
    /// Records a placed blob of `func` at `tier`.
    pub fn insert(&self, blob: &Blob, func: FuncId, tier: u32) -> Result<(), String> {
        self.ranges
            .insert(CodeRange {
                start: blob.code_rx,
                end: blob.code_rx + blob.code_size,
                func: func.0,
                tier,
            })
            .map_err(|e| format!("code map: {e:?}"))
    }

    /// Forgets the blob whose code starts at `start`.
    pub fn remove(&self, start: usize) {
        self.ranges.remove(start);
    }

    /// The blob containing `pc` (waits out concurrent writers).
    pub fn find(&self, pc: usize) -> Option<CodeRange> {
        self.ranges.find_waiting(pc)
    }

    /// The function and bytecode pc of native `pc` (waits out concurrent
    /// writers: not for signal handlers).
    pub fn frame(&self, pc: usize) -> Option<(FuncId, u32)> {
        let range = self.ranges.find_waiting(pc)?;
        // SAFETY: the range is in the code map, so its blob is live.
        let bytecode_pc =
            unsafe { code_memory::bytecode_pc_at(range.start, (pc - range.start) as u32)? };
        Some((FuncId(range.func), bytecode_pc))
    }

    /// The lock-free range map, shared with the sampler.
    pub fn ranges(&self) -> Arc<RangeMap> {
        self.ranges.clone()
    }
}
