//! tj arrays: fixed-length blocks of 64-bit elements shared by reference.
//!
//! An array value, as held in a register, is the address of an
//! [`ArrayHeader`]; the elements follow the header, 8-byte aligned.
//! Elements are accessed as relaxed atomics: several threads may read and
//! write one array without synchronisation (LANGUAGE.md), which must never
//! be undefined behaviour; on x86-64 a relaxed access is a plain `mov`, so
//! compiled code can use plain loads and stores.
//!
//! Arrays live until the [`Heap`] that made them is dropped (tj has no
//! deallocation: "arrays live until the program ends"), so the heap is a
//! bump allocator:
//!
//! - An array of at most [`SMALL_MAX`] bytes (header included) is carved
//!   from the current *chunk*, a [`CHUNK_BYTES`] mapping of fresh, zeroed
//!   pages, by one atomic add to the chunk's cursor: no lock, and no
//!   per-array bookkeeping. A chunk too full for an array is left behind
//!   (its tail is never touched) and a new one is mapped under a lock.
//! - A larger array gets a mapping of its own, whole pages.
//!
//! The heap limit counts what this takes from the system: every mapping
//! (a whole chunk when it is mapped, a large array's pages) plus
//! [`RECORD_BYTES`] for remembering it. So a program that allocates past
//! the limit gets `out of memory` before its memory use goes much past the
//! limit; when arrays came from `malloc` one at a time, an empty array was
//! counted as 8 bytes but cost about 55, and the kernel's OOM killer came
//! first.

use parking_lot::Mutex;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// The header in front of an array's elements.
#[repr(C)]
pub struct ArrayHeader {
    /// Number of elements (never negative).
    pub len: i64,
}

/// Byte offset of element 0 from the header address (for compiled code).
pub const ELEMENTS_OFFSET: usize = std::mem::size_of::<ArrayHeader>();

/// Arrays of at most this many bytes (header included) are carved from
/// chunks; larger ones get a mapping of their own. A chunk leaves less
/// than this unused at its end, so at most 1/16 of a chunk.
pub const SMALL_MAX: usize = 64 << 10;

/// Bytes of a chunk, when the limit leaves room for one.
pub const CHUNK_BYTES: usize = 1 << 20;

/// What the heap counts for remembering one mapping, besides the mapping:
/// its record in a `Vec` (with the `Vec`'s slack) and, for a chunk, the
/// boxed cursor and its `malloc` header. Generous rather than exact.
pub const RECORD_BYTES: usize = 64;

/// Why an allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// `n < 0`.
    NegativeLength,
    /// Too large for the heap limit or for the system.
    OutOfMemory,
}

/// Owns every array a program allocates.
pub struct Heap {
    /// The chunk small arrays come from now (null before the first);
    /// it points into a box in `chunks`.
    current: AtomicPtr<Chunk>,
    /// Every chunk, in the order they were mapped. Taken to change
    /// `current`. Boxed so that a chunk stays where `current` points when
    /// the Vec grows.
    #[allow(clippy::vec_box)]
    chunks: Mutex<Vec<Box<Chunk>>>,
    /// The mappings of large arrays.
    large: Mutex<Vec<Mapping>>,
    /// Bytes taken from the system so far, as the limit counts them.
    allocated: AtomicUsize,
    limit: usize,
}

impl Heap {
    /// A heap that refuses to take more than `limit` bytes from the system
    /// (mappings and their records).
    pub fn new(limit: usize) -> Heap {
        Heap {
            current: AtomicPtr::new(std::ptr::null_mut()),
            chunks: Mutex::new(Vec::new()),
            large: Mutex::new(Vec::new()),
            allocated: AtomicUsize::new(0),
            limit,
        }
    }

    /// A limit of three quarters of physical memory, so that a program asking
    /// for too much gets `out of memory` rather than the kernel's OOM killer.
    pub fn default_limit() -> usize {
        let (pages, page_size) = (sysconf(libc::_SC_PHYS_PAGES), sysconf(libc::_SC_PAGESIZE));
        if pages <= 0 || page_size <= 0 {
            return 1 << 32;
        }
        (pages as usize).saturating_mul(page_size as usize) / 4 * 3
    }

    /// Allocates an array of `len` elements, each `init` (raw bits); returns
    /// the value a register holds for it.
    pub fn alloc_array(&self, len: i64, init: u64) -> Result<u64, AllocError> {
        if len < 0 {
            return Err(AllocError::NegativeLength);
        }
        let bytes = (len as usize)
            .checked_mul(8)
            .and_then(|b| b.checked_add(ELEMENTS_OFFSET))
            .filter(|&b| b <= isize::MAX as usize / 2)
            .ok_or(AllocError::OutOfMemory)?;
        let ptr = if bytes <= SMALL_MAX {
            self.alloc_small(bytes)?
        } else {
            self.alloc_large(bytes)?
        };
        // SAFETY: ptr is `bytes` bytes of fresh zeroed memory, 8-aligned,
        // that no other array overlaps and nobody else sees yet: room for
        // the header and `len` elements.
        unsafe {
            (*(ptr.as_ptr() as *mut ArrayHeader)).len = len;
            if init != 0 {
                let elems = ptr.as_ptr().add(ELEMENTS_OFFSET) as *mut u64;
                std::slice::from_raw_parts_mut(elems, len as usize).fill(init);
            }
        }
        Ok(ptr.as_ptr() as u64)
    }

    /// Bytes taken from the system so far, as the limit counts them: whole
    /// chunks and large mappings, and their records.
    pub fn allocated_bytes(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }

    /// `bytes` (a multiple of 8, at most [`SMALL_MAX`]) from the current
    /// chunk, or from a new one.
    #[inline]
    fn alloc_small(&self, bytes: usize) -> Result<NonNull<u8>, AllocError> {
        let current = self.current.load(Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: `current` points into a box in `chunks`, which lives
            // as long as the heap; the release store that published it
            // made its fields visible.
            if let Some(ptr) = unsafe { &*current }.bump(bytes) {
                return Ok(ptr);
            }
        }
        self.alloc_small_in_new_chunk(bytes)
    }

    /// [`Heap::alloc_small`] when the current chunk is full: maps a new
    /// chunk, unless another thread just did.
    #[cold]
    fn alloc_small_in_new_chunk(&self, bytes: usize) -> Result<NonNull<u8>, AllocError> {
        let mut chunks = self.chunks.lock();
        if let Some(chunk) = chunks.last() {
            if let Some(ptr) = chunk.bump(bytes) {
                return Ok(ptr);
            }
        }
        // The whole chunk if the limit allows, else the largest that fits
        // (down to the pages this array needs), so that the last bytes
        // below the limit can be used.
        let least = round_up_to_page(bytes).ok_or(AllocError::OutOfMemory)?;
        let mut len = CHUNK_BYTES.max(least);
        while self.reserve(len + RECORD_BYTES).is_err() {
            if len == least {
                return Err(AllocError::OutOfMemory);
            }
            len = (len / 2).max(least);
        }
        let Some(mapping) = Mapping::new(len) else {
            self.release(len + RECORD_BYTES);
            return Err(AllocError::OutOfMemory);
        };
        let chunk = Box::new(Chunk {
            mapping,
            cursor: AtomicUsize::new(0),
        });
        let ptr = chunk.bump(bytes).ok_or(AllocError::OutOfMemory)?;
        self.current
            .store(&*chunk as *const Chunk as *mut Chunk, Ordering::Release);
        chunks.push(chunk);
        Ok(ptr)
    }

    /// A mapping of its own for an array of `bytes` bytes.
    fn alloc_large(&self, bytes: usize) -> Result<NonNull<u8>, AllocError> {
        let len = round_up_to_page(bytes).ok_or(AllocError::OutOfMemory)?;
        self.reserve(len + RECORD_BYTES)?;
        let Some(mapping) = Mapping::new(len) else {
            self.release(len + RECORD_BYTES);
            return Err(AllocError::OutOfMemory);
        };
        let ptr = mapping.start;
        self.large.lock().push(mapping);
        Ok(ptr)
    }

    /// Counts `bytes` more against the limit, or fails if they do not fit.
    fn reserve(&self, bytes: usize) -> Result<(), AllocError> {
        let before = self.allocated.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.release(bytes);
            return Err(AllocError::OutOfMemory);
        }
        Ok(())
    }

    /// Takes back what [`Heap::reserve`] counted.
    fn release(&self, bytes: usize) {
        self.allocated.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// A mapping that small arrays are carved from, front to back.
struct Chunk {
    mapping: Mapping,
    /// Offset of the next free byte. It may run past the end: an
    /// allocation that did not fit still advanced it (and failed).
    cursor: AtomicUsize,
}

impl Chunk {
    /// `bytes` (a multiple of 8) of this chunk, never handed out before;
    /// `None` if they do not fit.
    #[inline]
    fn bump(&self, bytes: usize) -> Option<NonNull<u8>> {
        // Relaxed: the add alone decides who owns which bytes, and the
        // bytes were zero since the chunk was mapped.
        let offset = self.cursor.fetch_add(bytes, Ordering::Relaxed);
        if offset.checked_add(bytes)? > self.mapping.len {
            return None;
        }
        // SAFETY: offset + bytes <= len, so the result lies inside the
        // mapping (and is not null).
        Some(unsafe { self.mapping.start.add(offset) })
    }
}

/// Private anonymous memory from `mmap`, unmapped on drop. It starts
/// zeroed and page-aligned.
struct Mapping {
    start: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mapping is plain memory with no thread affinity; the heap
// hands out disjoint parts of it, accessed atomically (see ArrayRef).
unsafe impl Send for Mapping {}
// SAFETY: as for Send; `&Mapping` only reads `start` and `len`.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `len` bytes (a multiple of the page size, not zero), or `None` if
    /// the system refuses.
    fn new(len: usize) -> Option<Mapping> {
        // SAFETY: a fresh private anonymous mapping at an address the
        // kernel picks aliases no Rust object.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return None;
        }
        NonNull::new(start as *mut u8).map(|start| Mapping { start, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `start` and `len` are what mmap gave, unmapped once; no
        // array outlives its heap (the Vm owns both the heap and every
        // thread that could hold an array).
        unsafe { libc::munmap(self.start.as_ptr() as *mut libc::c_void, self.len) };
    }
}

/// The page size.
fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            let page = usize::try_from(sysconf(libc::_SC_PAGESIZE))
                .ok()
                .filter(|p| p.is_power_of_two())
                .unwrap_or(4096);
            PAGE.store(page, Ordering::Relaxed);
            page
        }
        page => page,
    }
}

/// `bytes` rounded up to whole pages, if that fits in a usize.
fn round_up_to_page(bytes: usize) -> Option<usize> {
    let page = page_size();
    Some(bytes.checked_add(page - 1)? & !(page - 1))
}

fn sysconf(name: libc::c_int) -> libc::c_long {
    // SAFETY: sysconf only reads system configuration.
    unsafe { libc::sysconf(name) }
}

/// A register's array value, for element access.
///
/// Only verified bytecode may build one from a register: the verifier
/// guarantees that an array-typed register holds an address that
/// [`Heap::alloc_array`] returned, and the heap outlives the code running.
#[derive(Clone, Copy)]
pub struct ArrayRef(*const ArrayHeader);

impl ArrayRef {
    /// Wraps a register value.
    ///
    /// # Safety
    /// `bits` must be a value returned by [`Heap::alloc_array`] of a heap
    /// that is still alive.
    #[inline(always)]
    pub unsafe fn from_bits(bits: u64) -> ArrayRef {
        ArrayRef(bits as *const ArrayHeader)
    }

    /// The number of elements.
    #[inline(always)]
    pub fn len(self) -> i64 {
        // SAFETY: from_bits's contract: a live header.
        unsafe { (*self.0).len }
    }

    /// True if the array has no elements.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The element slot `i`, or `None` if `i` is out of bounds.
    #[inline(always)]
    fn slot(&self, i: i64) -> Option<&AtomicU64> {
        if (i as u64) < self.len() as u64 {
            // SAFETY: 0 <= i < len, so the slot lies inside the live block.
            Some(unsafe {
                &*((self.0 as *const u8).add(ELEMENTS_OFFSET) as *const AtomicU64).add(i as usize)
            })
        } else {
            None
        }
    }

    /// Element `i` (raw bits), or `None` if `i` is out of bounds.
    #[inline(always)]
    pub fn get(self, i: i64) -> Option<u64> {
        self.slot(i).map(|s| s.load(Ordering::Relaxed))
    }

    /// Stores element `i`; `None` if `i` is out of bounds.
    #[inline(always)]
    pub fn set(self, i: i64, bits: u64) -> Option<()> {
        self.slot(i).map(|s| s.store(bits, Ordering::Relaxed))
    }

    /// Atomically adds `v` to int element `i` (wrapping); gives the old value.
    pub fn fetch_add(self, i: i64, v: i64) -> Option<i64> {
        self.slot(i)
            .map(|s| s.fetch_add(v as u64, Ordering::SeqCst) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The array at `bits`, of a heap that is still alive.
    fn array(bits: u64) -> ArrayRef {
        // SAFETY: the tests only pass values fresh from a heap they keep.
        unsafe { ArrayRef::from_bits(bits) }
    }

    #[test]
    fn arrays_are_filled_and_bounds_checked() {
        let heap = Heap::new(1 << 24);
        let a = array(heap.alloc_array(3, 7).unwrap());
        assert_eq!(a.len(), 3);
        assert_eq!(a.get(2), Some(7));
        assert_eq!(a.get(3), None);
        assert_eq!(a.get(-1), None);
        assert_eq!(a.fetch_add(0, -8), Some(7));
        assert_eq!(a.get(0), Some(-1i64 as u64));
        let zeroed = array(heap.alloc_array(1000, 0).unwrap());
        assert!((0..1000).all(|i| zeroed.get(i) == Some(0)));
        let large = array(heap.alloc_array(100_000, 5).unwrap());
        assert_eq!((large.len(), large.get(99_999)), (100_000, Some(5)));
    }

    #[test]
    fn limits_are_enforced() {
        let heap = Heap::new(64 << 10);
        assert_eq!(heap.alloc_array(-1, 0), Err(AllocError::NegativeLength));
        assert_eq!(heap.alloc_array(1 << 20, 0), Err(AllocError::OutOfMemory));
        assert_eq!(heap.alloc_array(i64::MAX, 0), Err(AllocError::OutOfMemory));
        assert!(heap.alloc_array(10, 0).is_ok());
        assert_eq!(heap.alloc_array(0, 0).map(|_| ()), Ok(()));
        // Below a page nothing fits, not even an empty array.
        assert_eq!(
            Heap::new(1 << 10).alloc_array(0, 0),
            Err(AllocError::OutOfMemory)
        );
    }

    #[test]
    fn small_arrays_fill_the_limit_and_no_more() {
        let limit = 3 * CHUNK_BYTES + 12_345;
        let heap = Heap::new(limit);
        let mut arrays = 0;
        while heap.alloc_array(1, 0).is_ok() {
            arrays += 1;
        }
        assert!(heap.allocated_bytes() <= limit);
        // What the arrays use is nearly all of what is counted: the
        // chunks' records and their unused ends are all that is not.
        let used = arrays * 16;
        assert!(
            used + 64 * RECORD_BYTES + 4 * 4096 >= limit,
            "{used} of {limit}"
        );
    }

    #[test]
    fn every_mapping_is_counted_with_its_record() {
        let heap = Heap::new(1 << 30);
        heap.alloc_array(0, 0).unwrap();
        assert_eq!(heap.allocated_bytes(), CHUNK_BYTES + RECORD_BYTES);
        heap.alloc_array(100_000, 0).unwrap();
        let pages = round_up_to_page(800_008).unwrap();
        assert_eq!(
            heap.allocated_bytes(),
            CHUNK_BYTES + pages + 2 * RECORD_BYTES
        );
    }

    #[test]
    fn threads_allocating_at_once_get_disjoint_arrays() {
        let heap = Heap::new(1 << 30);
        let per_thread = 20_000;
        let arrays: Vec<(u64, u64)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (1..=4u64)
                .map(|t| {
                    let heap = &heap;
                    scope.spawn(move || {
                        (0..per_thread)
                            .map(|i| {
                                let len = (i % 7) as i64;
                                let value = t << 32 | i;
                                (heap.alloc_array(len, value).unwrap(), value)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let mut spans: Vec<(u64, u64)> = arrays
            .iter()
            .map(|&(bits, value)| {
                let a = array(bits);
                assert_eq!(bits % 8, 0);
                assert!((0..a.len()).all(|i| a.get(i) == Some(value)));
                (bits, bits + 8 + 8 * a.len() as u64)
            })
            .collect();
        spans.sort_unstable();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
    }
}
