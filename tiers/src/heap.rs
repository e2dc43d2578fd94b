//! tj arrays: fixed-length blocks of 64-bit elements shared by reference.
//!
//! An array value, as held in a register, is the address of an
//! [`ArrayHeader`]; the elements follow the header. Elements are accessed as
//! relaxed atomics: several threads may read and write one array without
//! synchronisation (LANGUAGE.md), which must never be undefined behaviour;
//! on x86-64 a relaxed access is a plain `mov`, so compiled code can use
//! plain loads and stores.
//!
//! Arrays live until the [`Heap`] that made them is dropped (tj has no
//! deallocation: "arrays live until the program ends").

use parking_lot::Mutex;
use std::alloc::{self, Layout};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The header in front of an array's elements.
#[repr(C)]
pub struct ArrayHeader {
    /// Number of elements (never negative).
    pub len: i64,
}

/// Byte offset of element 0 from the header address (for compiled code).
pub const ELEMENTS_OFFSET: usize = std::mem::size_of::<ArrayHeader>();

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
    blocks: Mutex<Vec<(usize, Layout)>>,
    allocated: AtomicUsize,
    limit: usize,
}

impl Heap {
    /// A heap that refuses to hold more than `limit` bytes of arrays.
    pub fn new(limit: usize) -> Heap {
        Heap {
            blocks: Mutex::new(Vec::new()),
            allocated: AtomicUsize::new(0),
            limit,
        }
    }

    /// A limit of three quarters of physical memory, so that a program asking
    /// for too much gets `out of memory` rather than the kernel's OOM killer.
    pub fn default_limit() -> usize {
        // SAFETY: sysconf only reads system configuration.
        let (pages, page_size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
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
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or(AllocError::OutOfMemory)?;
        let before = self.allocated.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.allocated.fetch_sub(bytes, Ordering::Relaxed);
            return Err(AllocError::OutOfMemory);
        }
        let layout = Layout::from_size_align(bytes, 8).map_err(|_| AllocError::OutOfMemory)?;
        // SAFETY: the layout has a non-zero size (at least the header).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            self.allocated.fetch_sub(bytes, Ordering::Relaxed);
            return Err(AllocError::OutOfMemory);
        }
        // SAFETY: ptr is a fresh, zeroed, 8-aligned block of `bytes` bytes:
        // room for the header and `len` elements, which nobody else sees yet.
        unsafe {
            (*(ptr as *mut ArrayHeader)).len = len;
            if init != 0 {
                let elems = ptr.add(ELEMENTS_OFFSET) as *mut u64;
                std::slice::from_raw_parts_mut(elems, len as usize).fill(init);
            }
        }
        self.blocks.lock().push((ptr as usize, layout));
        Ok(ptr as u64)
    }

    /// Bytes of arrays allocated so far.
    pub fn allocated_bytes(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        for &(ptr, layout) in self.blocks.get_mut().iter() {
            // SAFETY: each block came from alloc_zeroed with this layout and
            // is freed once; no array outlives its heap (the Vm owns both
            // the heap and every thread that could hold an array).
            unsafe { alloc::dealloc(ptr as *mut u8, layout) };
        }
    }
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

    #[test]
    fn arrays_are_filled_and_bounds_checked() {
        let heap = Heap::new(1 << 20);
        let a = heap.alloc_array(3, 7).unwrap();
        // SAFETY: fresh from the live heap.
        let a = unsafe { ArrayRef::from_bits(a) };
        assert_eq!(a.len(), 3);
        assert_eq!(a.get(2), Some(7));
        assert_eq!(a.get(3), None);
        assert_eq!(a.get(-1), None);
        assert_eq!(a.fetch_add(0, -8), Some(7));
        assert_eq!(a.get(0), Some(-1i64 as u64));
    }

    #[test]
    fn limits_are_enforced() {
        let heap = Heap::new(1 << 10);
        assert_eq!(heap.alloc_array(-1, 0), Err(AllocError::NegativeLength));
        assert_eq!(heap.alloc_array(1 << 20, 0), Err(AllocError::OutOfMemory));
        assert_eq!(heap.alloc_array(i64::MAX, 0), Err(AllocError::OutOfMemory));
        assert!(heap.alloc_array(10, 0).is_ok());
        assert_eq!(heap.alloc_array(0, 0).map(|_| ()), Ok(()));
    }
}
