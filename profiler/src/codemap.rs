//! Address ranges of generated code, readable without locks.
//!
//! The signal handler must know whether a pc (or a return address) lies in
//! generated code, and which blob, while other threads add and remove
//! blobs. Entries live in a fixed-capacity array of atomics, sorted by start
//! address, guarded by a sequence counter (a seqlock): writers (serialized
//! by a mutex; never the handler) make the counter odd, edit, and make it
//! even; a reader retries if the counter was odd or changed while it read.
//! A reader never waits: after a few failed tries it gives up and reports
//! "unknown" (a handler that interrupted a writer on its own thread would
//! otherwise spin forever).
//!
//! Each range also names its blob's no-frame table (where the blob's
//! frames are not set up: [`crate::stackwalk`] reads it for the pc a thread
//! was interrupted at). The map holds only its address: the table lives in
//! the blob, which is why [`CodeMap::insert`] is `unsafe`: whoever adds a
//! range promises the table stays there while any thread may run the code.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A blob as the code map knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeRange {
    /// First byte of code.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The function's id.
    pub func: u32,
    /// The tier (1 baseline, 2 optimized).
    pub tier: u32,
    /// Address of the code's no-frame table (the format is
    /// [`crate::stackwalk`]'s), or 0 if it has none (then its frame counts
    /// as set up at every pc).
    pub no_frame: usize,
}

/// Why a range could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeMapError {
    /// The map holds as many ranges as it can.
    Full,
    /// The range overlaps one already present.
    Overlap,
}

struct Slot {
    start: AtomicU64,
    end: AtomicU64,
    meta: AtomicU64,
    no_frame: AtomicU64,
}

/// The lock-free (for readers) map of code ranges.
pub struct CodeMap {
    seq: AtomicU64,
    len: AtomicUsize,
    slots: Box<[Slot]>,
    writer: Mutex<()>,
}

const READ_TRIES: usize = 4;

/// The map kept changing while a reader looked.
struct Busy;

impl CodeMap {
    /// A map with room for `capacity` ranges.
    pub fn new(capacity: usize) -> CodeMap {
        CodeMap {
            seq: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            slots: (0..capacity)
                .map(|_| Slot {
                    start: AtomicU64::new(0),
                    end: AtomicU64::new(0),
                    meta: AtomicU64::new(0),
                    no_frame: AtomicU64::new(0),
                })
                .collect(),
            writer: Mutex::new(()),
        }
    }

    fn load(&self, i: usize) -> CodeRange {
        let s = &self.slots[i];
        let meta = s.meta.load(Ordering::Relaxed);
        CodeRange {
            start: s.start.load(Ordering::Relaxed) as usize,
            end: s.end.load(Ordering::Relaxed) as usize,
            func: (meta >> 32) as u32,
            tier: meta as u32,
            no_frame: s.no_frame.load(Ordering::Relaxed) as usize,
        }
    }

    fn store(&self, i: usize, r: CodeRange) {
        let s = &self.slots[i];
        s.start.store(r.start as u64, Ordering::Relaxed);
        s.end.store(r.end as u64, Ordering::Relaxed);
        s.meta
            .store((r.func as u64) << 32 | r.tier as u64, Ordering::Relaxed);
        s.no_frame.store(r.no_frame as u64, Ordering::Relaxed);
    }

    /// Runs `edit` as a writer: other writers wait, readers retry.
    fn write<T>(&self, edit: impl FnOnce(&Self) -> T) -> T {
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.seq.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        let result = edit(self);
        self.seq.fetch_add(1, Ordering::Release);
        result
    }

    /// Adds a range.
    ///
    /// # Safety
    /// `range.no_frame` is 0, or the address of a no-frame table in
    /// [`crate::stackwalk`]'s format (4-aligned) for the code in the range
    /// that stays readable and unchanged as long as any thread may be
    /// interrupted inside that code.
    pub unsafe fn insert(&self, range: CodeRange) -> Result<(), CodeMapError> {
        self.write(|map| {
            let len = map.len.load(Ordering::Relaxed);
            if len == map.slots.len() {
                return Err(CodeMapError::Full);
            }
            let at = (0..len)
                .find(|&i| map.load(i).start >= range.start)
                .unwrap_or(len);
            let overlaps = |i: usize| {
                let r = map.load(i);
                r.start < range.end && range.start < r.end
            };
            if (at < len && overlaps(at)) || (at > 0 && overlaps(at - 1)) {
                return Err(CodeMapError::Overlap);
            }
            for i in (at..len).rev() {
                map.store(i + 1, map.load(i));
            }
            map.store(at, range);
            map.len.store(len + 1, Ordering::Relaxed);
            Ok(())
        })
    }

    /// Removes the range starting at `start`; true if there was one.
    pub fn remove(&self, start: usize) -> bool {
        self.write(|map| {
            let len = map.len.load(Ordering::Relaxed);
            let Some(at) = (0..len).find(|&i| map.load(i).start == start) else {
                return false;
            };
            for i in at..len - 1 {
                map.store(i, map.load(i + 1));
            }
            map.len.store(len - 1, Ordering::Relaxed);
            true
        })
    }

    /// Removes every range that starts at one of `starts`, in one pass over
    /// the map however many there are (removing them one by one costs a
    /// pass each); gives how many it removed.
    pub fn remove_all(&self, starts: &[usize]) -> usize {
        if starts.is_empty() {
            return 0;
        }
        let mut starts = starts.to_vec();
        starts.sort_unstable();
        self.write(|map| {
            let len = map.len.load(Ordering::Relaxed);
            let mut kept = 0;
            for i in 0..len {
                let range = map.load(i);
                if starts.binary_search(&range.start).is_ok() {
                    continue;
                }
                if kept != i {
                    map.store(kept, range);
                }
                kept += 1;
            }
            map.len.store(kept, Ordering::Relaxed);
            len - kept
        })
    }

    /// The range containing `pc`, if any (`None` also if the map kept
    /// changing while it was read). Async-signal-safe: no lock, no
    /// allocation, bounded time.
    pub fn find(&self, pc: usize) -> Option<CodeRange> {
        self.try_find(pc).unwrap_or(None)
    }

    /// The range containing `pc`, if any, also while writers are busy (it
    /// waits for them). Not for signal handlers.
    pub fn find_waiting(&self, pc: usize) -> Option<CodeRange> {
        match self.try_find(pc) {
            Ok(found) => found,
            Err(Busy) => {
                let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                self.try_find(pc).unwrap_or(None)
            }
        }
    }

    fn try_find(&self, pc: usize) -> Result<Option<CodeRange>, Busy> {
        for _ in 0..READ_TRIES {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                continue;
            }
            let len = self.len.load(Ordering::Relaxed).min(self.slots.len());
            // Binary search for the last range starting at or below pc.
            let (mut lo, mut hi) = (0, len);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if self.load(mid).start <= pc {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let found = lo.checked_sub(1).map(|i| self.load(i));
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return Ok(found.filter(|r| pc < r.end));
            }
        }
        Err(Busy)
    }

    /// A number that changes whenever a writer edits the map; odd while
    /// one is editing. With [`CodeMap::unchanged_since`] a reader learns
    /// whether every lookup it made in between saw the map as it is (a
    /// [`CodeMap::find`] that kept finding the map mid-edit says "none").
    /// Async-signal-safe.
    pub fn generation(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Whether no writer has touched the map since [`CodeMap::generation`]
    /// gave `generation` (an even one). Async-signal-safe.
    pub fn unchanged_since(&self, generation: u64) -> bool {
        fence(Ordering::Acquire);
        generation & 1 == 0 && self.seq.load(Ordering::Relaxed) == generation
    }

    /// Every range, sorted by start (for reports and tests).
    pub fn ranges(&self) -> Vec<CodeRange> {
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        (0..self.len.load(Ordering::Relaxed))
            .map(|i| self.load(i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn range(start: usize, len: usize, func: u32) -> CodeRange {
        CodeRange {
            start,
            end: start + len,
            func,
            tier: 1,
            no_frame: 0,
        }
    }

    /// Adds a range without a no-frame table.
    fn insert(map: &CodeMap, range: CodeRange) -> Result<(), CodeMapError> {
        assert_eq!(range.no_frame, 0);
        // SAFETY: no table to keep alive.
        unsafe { map.insert(range) }
    }

    #[test]
    fn finds_inserts_and_removes() {
        let map = CodeMap::new(8);
        insert(&map, range(300, 50, 3)).unwrap();
        insert(&map, range(100, 50, 1)).unwrap();
        insert(&map, range(200, 50, 2)).unwrap();
        assert_eq!(insert(&map, range(120, 10, 9)), Err(CodeMapError::Overlap));
        assert_eq!(map.find(100).unwrap().func, 1);
        assert_eq!(map.find(249).unwrap().func, 2);
        assert_eq!(map.find(250), None);
        assert_eq!(map.find(99), None);
        assert!(map.remove(200));
        assert_eq!(map.find(210), None);
        assert_eq!(map.find(310).unwrap().func, 3);
        assert_eq!(map.ranges().len(), 2);
        insert(&map, range(200, 50, 2)).unwrap();
        insert(&map, range(400, 50, 4)).unwrap();
        assert_eq!(map.remove_all(&[400, 100, 999]), 2);
        let left: Vec<u32> = map.ranges().iter().map(|r| r.func).collect();
        assert_eq!(left, [2, 3]);
        assert_eq!(map.find(410), None);
        assert_eq!(map.find(220).unwrap().func, 2);
    }

    #[test]
    fn generation_tells_a_reader_whether_the_map_changed() {
        let map = CodeMap::new(4);
        let before = map.generation();
        assert!(map.unchanged_since(before));
        insert(&map, range(100, 50, 1)).unwrap();
        assert!(!map.unchanged_since(before));
        let after = map.generation();
        assert_eq!(map.find(120).unwrap().func, 1);
        assert!(map.unchanged_since(after));
        assert!(map.remove(100));
        assert!(!map.unchanged_since(after));
    }

    #[test]
    fn readers_see_consistent_entries_while_writers_churn() {
        let map = Arc::new(CodeMap::new(64));
        // Stable ranges that must always be found, with the right function.
        for i in 0..8 {
            insert(&map, range(1000 * i + 10_000, 100, i as u32)).unwrap();
        }
        let writer = {
            let map = map.clone();
            std::thread::spawn(move || {
                for round in 0..20_000usize {
                    let start = 100 + (round % 50) * 100;
                    insert(&map, range(start, 50, 99)).unwrap();
                    assert!(map.remove(start));
                    // A quiet moment now and then: readers that found the
                    // map busy every time they looked give up (they never
                    // wait), so without one a reader on a loaded machine
                    // may see nothing at all.
                    if round % 256 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(50));
                    }
                }
            })
        };
        let mut found = 0;
        while !writer.is_finished() {
            for i in 0..8usize {
                if let Some(r) = map.find(1000 * i + 10_050) {
                    assert_eq!(r.func, i as u32);
                    found += 1;
                }
            }
        }
        writer.join().unwrap();
        assert!(found > 0);
    }
}
