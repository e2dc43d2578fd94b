//! Which generated code is where: native address ranges to (function, tier,
//! pc map), for backtraces, `disasm` and (later) the profiler.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;
use tierjit_tiers::baseline::lookup_pc;
use tierjit_tiers::bytecode::FuncId;

/// One placed blob of code.
#[derive(Clone, Debug)]
pub struct CodeEntry {
    /// First byte of code (executable view).
    pub start: usize,
    /// One past the last byte of code.
    pub end: usize,
    /// The function the code runs.
    pub func: FuncId,
    /// 1 for baseline, 2 for optimized.
    pub tier: u32,
    /// `(offset, bytecode pc)` sorted by offset.
    pub pc_map: Arc<[(u32, u32)]>,
}

/// Address ranges of all live blobs.
#[derive(Default)]
pub struct CodeMap {
    entries: RwLock<BTreeMap<usize, CodeEntry>>,
}

impl CodeMap {
    /// Records a blob.
    pub fn insert(&self, entry: CodeEntry) {
        self.entries.write().insert(entry.start, entry);
    }

    /// Forgets the blob starting at `start`.
    pub fn remove(&self, start: usize) {
        self.entries.write().remove(&start);
    }

    /// The blob containing `pc`.
    pub fn find(&self, pc: usize) -> Option<CodeEntry> {
        let entries = self.entries.read();
        let (_, entry) = entries.range(..=pc).next_back()?;
        (pc < entry.end).then(|| entry.clone())
    }

    /// The function and bytecode pc of native `pc`.
    pub fn frame(&self, pc: usize) -> Option<(FuncId, u32)> {
        let entries = self.entries.read();
        let (_, entry) = entries.range(..=pc).next_back()?;
        if pc >= entry.end {
            return None;
        }
        let bytecode_pc = lookup_pc(&entry.pc_map, (pc - entry.start) as u32)?;
        Some((entry.func, bytecode_pc))
    }
}
