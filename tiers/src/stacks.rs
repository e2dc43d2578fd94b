//! Memory for thread stacks: anonymous mappings whose untouched pages cost
//! nothing.
//!
//! A thread running tj code needs a register stack (16 Mi slots, 128 MiB,
//! by default) and room for its frame records (40 MiB); the runtime gives
//! each thread it spawns a native stack too. All of it is reserved with
//! `MAP_NORESERVE` and touched only as deep as the program recurses.
//!
//! Each counts against the kernel's limit on mappings per process
//! (`vm.max_map_count`, 65,530 by default): a thread whose stacks came
//! from separate allocations, plus `std`'s guard and signal stack, took six
//! mappings, and about 11,000 live threads exhausted the limit. The
//! runtime therefore puts a spawned thread's native stack, register stack
//! and frame records in one [`Mapping`] with one guard page: two kernel
//! mappings a thread.

use crate::exec::{FrameRecord, Limits};
use std::io;
use std::ptr::NonNull;
use std::sync::Arc;

/// An anonymous, private, read-write mapping of zeroed memory, reserved
/// without committing swap (`MAP_NORESERVE`); unmapped when dropped.
pub struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: a mapping is plain memory, valid until it is dropped; what lives
// in it is handed out in disjoint parts ([`Slots`]) whose owners
// coordinate their own access.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only gives out the address and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes (rounded up to whole pages).
    pub fn new(len: usize) -> io::Result<Mapping> {
        let len =
            round_to_pages(len.max(1)).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choosing; it overlaps nothing we own.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            base: NonNull::new(ptr as *mut u8).expect("mmap does not return null"),
            len,
        })
    }

    /// Makes the whole pages in `offset..offset + len` inaccessible (a
    /// guard: touching it faults instead of reaching a neighbour).
    pub fn guard(&self, offset: usize, len: usize) -> io::Result<()> {
        let page = page_size();
        assert!(
            offset.is_multiple_of(page) && len.is_multiple_of(page) && offset + len <= self.len
        );
        // SAFETY: the range lies inside this mapping, which nothing uses
        // yet: the caller guards a range before handing out the rest.
        let status = unsafe {
            libc::mprotect(
                self.base.as_ptr().add(offset) as *mut libc::c_void,
                len,
                libc::PROT_NONE,
            )
        };
        if status != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Size in bytes (whole pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a mapping has at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours, and no part of it is in use: every
        // `Slots` in it holds an `Arc` of it, and a native stack in it
        // belongs to a thread that has been joined (the runtime's
        // `OsThread` keeps an `Arc` until then).
        unsafe { libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.len) };
    }
}

/// The system's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads system configuration.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

/// `bytes` rounded up to whole pages, if that fits.
pub fn round_to_pages(bytes: usize) -> Option<usize> {
    let page = page_size();
    Some(bytes.checked_add(page - 1)? / page * page)
}

/// `len` values of type `T` in a [`Mapping`], zeroed at first, owned
/// alone: a `Box<[T]>` whose memory is part of a mapping it keeps alive.
pub struct Slots<T> {
    ptr: NonNull<T>,
    len: usize,
    _mapping: Arc<Mapping>,
}

// SAFETY: `Slots` owns its elements alone, like a `Box<[T]>`.
unsafe impl<T: Send> Send for Slots<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Slots<T> {}

impl<T> std::ops::Deref for Slots<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised (zeroed) values of T, alive as long as
        // the mapping this holds, and no one else's.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> std::ops::DerefMut for Slots<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` is the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// Element types for which all-zero bytes are a valid value, so that fresh
/// mapped memory holds `len` of them.
///
/// # Safety
/// Every field of the type must accept all-zero bits.
pub unsafe trait Zeroable {}

// SAFETY: an integer accepts all-zero bits.
unsafe impl Zeroable for u64 {}
// SAFETY: FrameRecord is plain integers (FuncId is a u32).
unsafe impl Zeroable for FrameRecord {}

/// A thread's register stack and frame records.
pub struct ThreadStacks {
    /// The register stack.
    pub regs: Slots<u64>,
    /// Storage for the frame records.
    pub frames: Slots<FrameRecord>,
}

impl ThreadStacks {
    /// Bytes the stacks need for `limits`, in whole pages.
    pub fn bytes(limits: Limits) -> Option<usize> {
        let (regs, frames) = Self::parts(limits)?;
        regs.checked_add(frames)
    }

    /// Bytes of the register stack and of the frame records.
    fn parts(limits: Limits) -> Option<(usize, usize)> {
        let regs = limits.register_slots.max(1).checked_mul(8)?;
        let frames = limits
            .max_frames
            .max(1)
            .checked_mul(std::mem::size_of::<FrameRecord>())?;
        Some((round_to_pages(regs)?, round_to_pages(frames)?))
    }

    /// Stacks in a mapping of their own.
    pub fn new(limits: Limits) -> io::Result<ThreadStacks> {
        let bytes =
            Self::bytes(limits).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Self::within(Arc::new(Mapping::new(bytes)?), 0, limits))
    }

    /// Stacks in `mapping` from byte `offset` (page aligned) on, which
    /// nothing else uses: [`ThreadStacks::bytes`] of it must fit.
    pub fn within(mapping: Arc<Mapping>, offset: usize, limits: Limits) -> ThreadStacks {
        let (regs_bytes, frames_bytes) = Self::parts(limits).expect("limits that fit");
        assert!(offset.is_multiple_of(page_size()));
        assert!(offset
            .checked_add(regs_bytes + frames_bytes)
            .is_some_and(|end| end <= mapping.len()));
        // SAFETY: both parts lie inside the mapping (checked above), are
        // page aligned and disjoint.
        let (regs, frames) = unsafe {
            let start = mapping.as_ptr().add(offset);
            (start, start.add(regs_bytes))
        };
        ThreadStacks {
            regs: slots(&mapping, regs as *mut u64, limits.register_slots.max(1)),
            frames: slots(
                &mapping,
                frames as *mut FrameRecord,
                limits.max_frames.max(1),
            ),
        }
    }
}

/// `len` zeroed values at `ptr`, inside `mapping`.
fn slots<T: Zeroable>(mapping: &Arc<Mapping>, ptr: *mut T, len: usize) -> Slots<T> {
    Slots {
        ptr: NonNull::new(ptr).expect("inside a mapping"),
        len,
        _mapping: mapping.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_zeroed_writable_and_disjoint() {
        let limits = Limits {
            max_frames: 1000,
            register_slots: 5000,
        };
        let mut stacks = ThreadStacks::new(limits).unwrap();
        assert_eq!((stacks.regs.len(), stacks.frames.len()), (5000, 1000));
        assert!(stacks.regs.iter().all(|&r| r == 0));
        assert!(stacks.frames.iter().all(|f| f.base == 0 && f.pc == 0));
        stacks.regs.fill(u64::MAX);
        assert!(stacks.frames.iter().all(|f| f.native_ret == 0));
        let regs_end = stacks.regs.as_ptr_range().end as usize;
        assert!(regs_end <= stacks.frames.as_ptr() as usize);
    }

    #[test]
    fn a_mapping_too_large_is_an_error() {
        assert!(Mapping::new(usize::MAX - 100).is_err());
        assert!(Mapping::new(1 << 62).is_err());
    }
}
