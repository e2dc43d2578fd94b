//! The per-thread sample ring: one writer (the SIGPROF handler on the
//! owning thread), one reader (the aggregator thread).
//!
//! Preallocated, fixed-size slots; the writer never allocates, never
//! blocks and never waits: when the ring is full the sample is dropped and
//! counted. A slot is filled in place and published by a release store of
//! the head; the reader acquires the head, copies slots out and releases
//! them by advancing the tail.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The most frames one sample keeps (the innermost ones).
pub const MAX_FRAMES: usize = 124;

/// Tag of a frame word that holds a native pc.
pub const FRAME_NATIVE: u64 = 1 << 62;
/// Tag of a frame word that holds an interpreted frame: `func << 32 | pc`.
pub const FRAME_INTERP: u64 = 2 << 62;
/// Mask of a frame word's payload.
pub const FRAME_PAYLOAD: u64 = (1 << 62) - 1;

/// One sample as the handler records it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawSample {
    /// CLOCK_MONOTONIC time of the sample, in nanoseconds.
    pub time_ns: u64,
    /// CPU time the thread used since its previous sample, in nanoseconds.
    pub weight_ns: u64,
    /// How long the handler ran, in nanoseconds.
    pub handler_ns: u32,
    /// Frames used in `frames`.
    pub depth: u32,
    /// Tagged frame words, innermost first.
    pub frames: [u64; MAX_FRAMES],
}

impl RawSample {
    /// An empty sample.
    pub const EMPTY: RawSample = RawSample {
        time_ns: 0,
        weight_ns: 0,
        handler_ns: 0,
        depth: 0,
        frames: [0; MAX_FRAMES],
    };

    /// Appends a frame word; false if the sample is full.
    #[inline(always)]
    pub fn push(&mut self, word: u64) -> bool {
        match self.frames.get_mut(self.depth as usize) {
            Some(slot) => {
                *slot = word;
                self.depth += 1;
                true
            }
            None => false,
        }
    }

    /// The frame words recorded.
    pub fn frames(&self) -> &[u64] {
        &self.frames[..self.depth as usize]
    }
}

/// A single-producer single-consumer ring of samples.
pub struct Ring {
    /// Uninitialised until the writer's first lap reaches them.
    slots: Box<[UnsafeCell<MaybeUninit<RawSample>>]>,
    /// Next slot the writer fills (monotonic).
    head: AtomicUsize,
    /// Next slot the reader takes (monotonic).
    tail: AtomicUsize,
    dropped: AtomicU64,
}

// SAFETY: slots are shared between exactly one writer and one reader, and
// the head/tail protocol gives each slot to one of them at a time.
unsafe impl Sync for Ring {}
// SAFETY: as above.
unsafe impl Send for Ring {}

impl Ring {
    /// A ring of `capacity` samples. Its memory is neither zeroed nor
    /// touched here (a slot is initialised when first written), so a ring
    /// costs pages only as samples fill it: a program that starts 16,000
    /// threads does not clear 16,000 rings (zeroing recycled heap memory
    /// was 5% of such a run).
    pub fn new(capacity: usize) -> Ring {
        let slots = Box::<[UnsafeCell<MaybeUninit<RawSample>>]>::new_uninit_slice(capacity.max(1));
        Ring {
            // SAFETY: `UnsafeCell<MaybeUninit<_>>` needs no initialisation.
            slots: unsafe { slots.assume_init() },
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Writer side: fills the next free slot with `fill` and publishes it,
    /// or drops the sample (counted) if the ring is full. Allocates nothing
    /// and takes no lock.
    #[inline(always)]
    pub fn write(&self, fill: impl FnOnce(&mut RawSample)) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) >= self.slots.len() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let slot = self.slots[head % self.slots.len()].get();
        // SAFETY: slot `head` is not visible to the reader until the head
        // moves past it, and only this (single) writer writes it. On the
        // first lap it is initialised before a reference to it is made.
        let sample = unsafe {
            if head < self.slots.len() {
                (*slot).write(RawSample::EMPTY);
            }
            (*slot).assume_init_mut()
        };
        sample.depth = 0;
        fill(sample);
        self.head.store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// Counts a sample dropped for another reason (the handler found the
    /// thread in a state it could not sample).
    pub fn count_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Reader side: passes every published sample to `take`, oldest first,
    /// and frees their slots.
    pub fn drain(&self, mut take: impl FnMut(&RawSample)) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let mut tail = self.tail.load(Ordering::Relaxed);
        let n = head.wrapping_sub(tail);
        while tail != head {
            // SAFETY: slots between tail and head are published (acquire
            // above), so initialised, and the writer will not touch them
            // until the tail moves.
            take(unsafe { (*self.slots[tail % self.slots.len()].get()).assume_init_ref() });
            tail = tail.wrapping_add(1);
            self.tail.store(tail, Ordering::Release);
        }
        n
    }

    /// Reader side: whether no published sample waits.
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire) == self.tail.load(Ordering::Relaxed)
    }

    /// Samples dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_come_out_in_order_and_overflow_is_counted() {
        let ring = Ring::new(4);
        for i in 0..6u64 {
            ring.write(|s| {
                s.time_ns = i;
                s.push(FRAME_NATIVE | i);
            });
        }
        assert_eq!(ring.dropped(), 2);
        let mut seen = vec![];
        ring.drain(|s| seen.push((s.time_ns, s.frames().to_vec())));
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[3], (3, vec![FRAME_NATIVE | 3]));
        assert!(ring.write(|s| s.time_ns = 9));
        let mut again = vec![];
        ring.drain(|s| again.push(s.time_ns));
        assert_eq!(again, vec![9]);
    }

    #[test]
    fn a_concurrent_reader_sees_every_published_sample_once() {
        let ring = std::sync::Arc::new(Ring::new(64));
        let writer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let mut written = 0u64;
                for i in 0..100_000u64 {
                    if ring.write(|s| s.time_ns = i) {
                        written += 1;
                    }
                }
                written
            })
        };
        let mut last = None;
        let mut count = 0u64;
        while !writer.is_finished()
            || ring.head.load(Ordering::Acquire) != ring.tail.load(Ordering::Acquire)
        {
            ring.drain(|s| {
                assert!(last.is_none_or(|l| s.time_ns > l));
                last = Some(s.time_ns);
                count += 1;
            });
        }
        let written = writer.join().unwrap();
        assert_eq!(count, written);
        assert_eq!(written + ring.dropped(), 100_000);
    }
}
