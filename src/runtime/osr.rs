//! Optimized code for on-stack replacement: one blob per (function, loop
//! header), compiled by the optimizer for entry at that header alone
//! (`opt::Options::osr_pc`), placed like any code but installed in no
//! method-table slot. The interpreter enters it at a backward branch
//! through `Host::osr_entry`, and baseline code at a loop header through
//! `Host::optimized_osr_entry`, on the activation's own frame.
//!
//! In automatic tiering the compiler thread compiles it: the first
//! activation to ask marks the header pending and queues a request
//! ([`OsrCode::ready_entry`]), later ones find it ready.
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
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use tierjit_tiers::bytecode::{FuncId, Module};
use tierjit_tiers::code::Tier;

/// A placed OSR blob and the address of its entry.
#[derive(Clone, Copy, Debug)]
pub struct OsrBlob {
    /// The code.
    pub blob: Blob,
    /// Where it is entered (the loop header's OSR entry).
    pub entry: usize,
}

/// What [`OsrCode::ready_entry`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsrLookup {
    /// The entry (already published).
    Ready(usize),
    /// Being compiled, or to be asked for again later.
    NotYet,
    /// The optimizer declined this header.
    Declined,
}

/// What the cache knows of one loop header.
#[derive(Clone, Copy, Debug)]
enum OsrState {
    /// The compiler thread is compiling it.
    Pending,
    /// Compiled and placed.
    Ready(OsrBlob),
    /// The optimizer declined.
    Declined,
}

impl OsrState {
    fn blob(self) -> Option<OsrBlob> {
        match self {
            OsrState::Ready(blob) => Some(blob),
            OsrState::Pending | OsrState::Declined => None,
        }
    }
}

/// The OSR blobs of a Vm, by (function, loop header pc).
#[derive(Default)]
pub struct OsrCode {
    by_header: Mutex<HashMap<(FuncId, u32), OsrState>>,
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
            .or_insert_with(|| compile().map_or(OsrState::Declined, OsrState::Ready))
            .blob()?
            .entry;
        calling.store(entry, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        Some(entry)
    }

    /// The entry of the OSR blob of `func` at loop header `pc` if it is
    /// compiled (published in `calling` before it is returned). The first
    /// time a header is asked for, it is marked pending and `request` is
    /// called (to queue the compile: [`OsrCode::complete`] ends it) —
    /// unless another header of `func` is pending: an activation passing
    /// the headers of a loop nest while its first request compiles asks
    /// again when that one is ready, and code entered at any header of
    /// the nest runs the whole nest.
    pub fn ready_entry(
        &self,
        func: FuncId,
        pc: u32,
        calling: &AtomicUsize,
        request: impl FnOnce(),
    ) -> OsrLookup {
        let mut by_header = self.by_header.lock();
        let state = match by_header.get(&(func, pc)) {
            Some(&state) => state,
            None if by_header
                .iter()
                .any(|(&(f, _), state)| f == func && matches!(state, OsrState::Pending)) =>
            {
                return OsrLookup::NotYet
            }
            None => {
                request();
                by_header.insert((func, pc), OsrState::Pending);
                OsrState::Pending
            }
        };
        match state {
            OsrState::Pending => OsrLookup::NotYet,
            OsrState::Declined => OsrLookup::Declined,
            OsrState::Ready(blob) => {
                calling.store(blob.entry, Ordering::Relaxed);
                std::sync::atomic::fence(Ordering::SeqCst);
                OsrLookup::Ready(blob.entry)
            }
        }
    }

    /// Marks the header pending and calls `request` (to queue the
    /// compile), unless the header is known already or another header of
    /// `func` is pending: for compiling ahead of the first ask.
    pub fn request_ahead(&self, func: FuncId, pc: u32, request: impl FnOnce()) {
        let mut by_header = self.by_header.lock();
        let known = by_header.contains_key(&(func, pc))
            || by_header
                .iter()
                .any(|(&(f, _), state)| f == func && matches!(state, OsrState::Pending));
        if !known {
            request();
            by_header.insert((func, pc), OsrState::Pending);
        }
    }

    /// Ends a compile that [`OsrCode::ready_entry`] or
    /// [`OsrCode::request_ahead`] requested: records the blob (or that the
    /// optimizer declined). If the header is not pending (no request
    /// made it so), gives the blob back, to be retired.
    pub fn complete(&self, func: FuncId, pc: u32, compiled: Option<OsrBlob>) -> Option<Blob> {
        let mut by_header = self.by_header.lock();
        match by_header.get_mut(&(func, pc)) {
            Some(state @ OsrState::Pending) => {
                *state = compiled.map_or(OsrState::Declined, OsrState::Ready);
                None
            }
            _ => compiled.map(|c| c.blob),
        }
    }

    /// Removes every OSR blob of `func` from the cache and gives them, to
    /// be retired (threads may still be inside them). Headers still being
    /// compiled stay pending: the code the compiler makes is as good for
    /// the function's new code as it was for the old (often it was asked
    /// for together with the new code: `Vm::compile_hot_loops_ahead`).
    pub fn take(&self, func: FuncId) -> Vec<Blob> {
        let mut taken = Vec::new();
        self.by_header.lock().retain(|&(f, _), code| {
            if f != func || matches!(code, OsrState::Pending) {
                return true;
            }
            taken.extend(code.blob().map(|c| c.blob));
            false
        });
        taken
    }

    /// Number of OSR blobs placed and cached.
    pub fn len(&self) -> usize {
        self.by_header
            .lock()
            .values()
            .filter(|state| state.blob().is_some())
            .count()
    }

    /// True if no OSR blob is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which moves into code at a loop header (on-stack replacement) have
/// happened, so that only the first per (function, loop header, from
/// tier, to tier) becomes a tier event: activations move millions of
/// times (in the `osr_every_loop` test mode, every activation that
/// loops).
///
/// Guarantees: [`OsrMovesSeen::mark`] is true exactly once per
/// (function, pc, from, to), whichever threads race for it; checking a
/// move marked before ([`OsrMovesSeen::seen`]) costs one relaxed load of
/// two bytes that nobody writes any more.
pub struct OsrMovesSeen {
    /// Per (function, pc) of the module ([`Module::code_offset`] + pc): a
    /// bit per (from, to) pair of tiers.
    seen: Box<[AtomicU16]>,
    /// [`Module::code_offset`] of each function.
    code_offsets: Box<[u32]>,
}

impl OsrMovesSeen {
    /// Nothing seen, for every instruction of `module`.
    pub fn new(module: &Module) -> OsrMovesSeen {
        let code_offsets = module
            .funcs
            .iter()
            .scan(0u32, |offset, f| {
                let at = *offset;
                *offset += f.code.len() as u32;
                Some(at)
            })
            .collect();
        OsrMovesSeen {
            seen: (0..module.code_len()).map(|_| AtomicU16::new(0)).collect(),
            code_offsets,
        }
    }

    /// Whether the move of an activation of `func` from `from` into `to`
    /// code at loop header `pc` is marked (true for a pc outside the
    /// module: there is nothing to record).
    #[inline]
    pub fn seen(&self, func: FuncId, pc: u32, from: Tier, to: Tier) -> bool {
        self.flags(func, pc)
            .is_none_or(|flags| flags.load(Ordering::Relaxed) & Self::bit(from, to) != 0)
    }

    /// Marks the move: true if this call marked it, so once per (`func`,
    /// `pc`, `from`, `to`) whichever threads race for it (false for a pc
    /// outside the module).
    pub fn mark(&self, func: FuncId, pc: u32, from: Tier, to: Tier) -> bool {
        let bit = Self::bit(from, to);
        self.flags(func, pc)
            .is_some_and(|flags| flags.fetch_or(bit, Ordering::Relaxed) & bit == 0)
    }

    #[inline]
    fn flags(&self, func: FuncId, pc: u32) -> Option<&AtomicU16> {
        let offset = *self.code_offsets.get(func.index())?;
        self.seen.get(offset as usize + pc as usize)
    }

    /// The bit of (`from`, `to`): one per pair of tiers.
    #[inline]
    fn bit(from: Tier, to: Tier) -> u16 {
        1 << (from as u16 * Tier::ALL.len() as u16 + to as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_move_is_marked_once_per_function_header_and_tiers() {
        let module = crate::lang::compile(
            b"fn f(n: int) -> int { let s = 0; for i in 0..n { s = s + i; } return s; }
            fn main() { let t = 0; while t < 3 { t = t + 1; } print(f(t)); }",
        )
        .expect("compiles");
        let moves = OsrMovesSeen::new(&module);
        let (f, main) = (module.find("f").unwrap(), module.find("main").unwrap());
        let first = |func, pc, from, to| {
            let unseen = !moves.seen(func, pc, from, to);
            let marked = moves.mark(func, pc, from, to);
            assert_eq!(unseen, marked);
            assert!(moves.seen(func, pc, from, to));
            marked
        };
        assert!(first(f, 2, Tier::Interp, Tier::Opt));
        assert!(!first(f, 2, Tier::Interp, Tier::Opt));
        assert!(first(f, 2, Tier::Interp, Tier::Baseline));
        assert!(first(f, 2, Tier::Baseline, Tier::Opt));
        assert!(first(f, 2, Tier::Opt, Tier::Opt));
        assert!(first(f, 3, Tier::Interp, Tier::Opt));
        assert!(first(main, 2, Tier::Interp, Tier::Opt));
        assert!(!first(main, 2, Tier::Interp, Tier::Opt));
        assert!(!first(main, u32::MAX / 2, Tier::Interp, Tier::Opt));
        assert!(!first(FuncId(99), 0, Tier::Interp, Tier::Opt));
    }

    #[test]
    fn code_asked_for_ahead_survives_the_install_it_came_with() {
        let mut memory = crate::runtime::code_memory::CodeMemory::new();
        let blob = memory
            .alloc_blob(Tier::Opt, FuncId(3), &[0xC3; 8], &[], &[], &[])
            .unwrap();
        let code = OsrCode::default();
        let calling = AtomicUsize::new(0);
        let mut requests = 0;
        code.request_ahead(FuncId(3), 7, || requests += 1);
        // Asked again, ahead or by an activation: still the one request.
        code.request_ahead(FuncId(3), 7, || requests += 1);
        code.request_ahead(FuncId(3), 9, || requests += 1);
        let lookup = code.ready_entry(FuncId(3), 7, &calling, || requests += 1);
        assert_eq!((lookup, requests), (OsrLookup::NotYet, 1));
        // The function's new code is installed while it compiles.
        assert!(code.take(FuncId(3)).is_empty());
        let entry = blob.code_rx + 4;
        assert!(code
            .complete(FuncId(3), 7, Some(OsrBlob { blob, entry }))
            .is_none());
        let lookup = code.ready_entry(FuncId(3), 7, &calling, || requests += 1);
        assert_eq!(lookup, OsrLookup::Ready(entry));
        assert_eq!(calling.load(Ordering::Relaxed), entry);
        // A later install retires it.
        assert_eq!(code.take(FuncId(3)).len(), 1);
        assert!(code.is_empty());
    }
}
