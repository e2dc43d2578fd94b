//! Optimized code for on-stack replacement: one blob per (function, loop
//! header), compiled by the optimizer for entry at that header alone
//! (`opt::Options::osr_pc`), placed like any code but installed in no
//! method-table slot. The interpreter enters it at a backward branch
//! through `Host::osr_entry`, on the activation's own frame.
//!
//! Needs: blobs placed by the Vm (in the code map, so that stack walks and
//! backtraces see their frames). Guarantees: each (function, header) is
//! compiled at most once while its entry is cached (a failed compile is
//! cached too, so it is not retried at every backward branch); an entry is
//! handed out only after it is published in the asking thread's `calling`
//! word, under the cache's lock, so [`OsrCode::take`] and the retirer's
//! handshake that follows it either come first (and the entry is not
//! handed out) or find the thread using the blob.

use super::code_memory::Blob;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use tierjit_tiers::bytecode::FuncId;

/// A placed OSR blob and the address of its entry.
#[derive(Clone, Copy, Debug)]
pub struct OsrBlob {
    /// The code.
    pub blob: Blob,
    /// Where it is entered (the loop header's OSR entry).
    pub entry: usize,
}

/// The OSR blobs of a Vm, by (function, loop header pc); `None` where the
/// optimizer declined.
#[derive(Default)]
pub struct OsrCode {
    by_header: Mutex<HashMap<(FuncId, u32), Option<OsrBlob>>>,
}

impl OsrCode {
    /// The entry of the OSR blob of `func` at loop header `pc`, compiled
    /// with `compile` on first need; published in `calling` before it is
    /// returned. Compiles under the cache's lock, so that two threads
    /// reaching the same loop first compile it once.
    pub fn entry(
        &self,
        func: FuncId,
        pc: u32,
        calling: &AtomicUsize,
        compile: impl FnOnce() -> Option<OsrBlob>,
    ) -> Option<usize> {
        let mut by_header = self.by_header.lock();
        let entry = by_header
            .entry((func, pc))
            .or_insert_with(compile)
            .as_ref()?
            .entry;
        calling.store(entry, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        Some(entry)
    }

    /// Removes every OSR blob of `func` from the cache and gives them, to
    /// be retired (threads may still be inside them).
    pub fn take(&self, func: FuncId) -> Vec<Blob> {
        let mut taken = Vec::new();
        self.by_header.lock().retain(|&(f, _), code| {
            if f != func {
                return true;
            }
            taken.extend(code.map(|c| c.blob));
            false
        });
        taken
    }

    /// Number of OSR blobs placed and cached.
    pub fn len(&self) -> usize {
        self.by_header.lock().values().flatten().count()
    }

    /// True if no OSR blob is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
