//! Executable memory: a memfd mapped twice, never writable and executable
//! in one view.
//!
//! Each chunk is a memfd mapped `rw-` (where code is written and patched)
//! and `r-x` (where it runs). W^X holds always: no page is writable and
//! executable in the same view, and nothing is ever `mprotect`ed. Chunks are
//! added as code grows.
//!
//! A blob is `[header][code][pc map]` inside a chunk, 16-byte aligned:
//!
//! ```text
//! BlobHeader { magic, tier, func, code_size, pc_map_len, .. }  32 bytes
//! code                                                          code_size bytes
//! pc map: (native offset u32, bytecode pc u32) pairs            pc_map_len entries
//! ```
//!
//! so a blob describes itself; the [`CodeMap`](super::code_map) indexes
//! blobs by address for lookups from native pcs.

use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

/// Marks the start of a blob header ("TJIT").
pub const BLOB_MAGIC: u32 = 0x544A_4954;

/// The header in front of every blob's code.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    /// [`BLOB_MAGIC`].
    pub magic: u32,
    /// 1 for baseline code, 2 for optimized code.
    pub tier: u32,
    /// The function's id.
    pub func: u32,
    /// Bytes of machine code.
    pub code_size: u32,
    /// Entries of the pc map after the code.
    pub pc_map_len: u32,
    /// Reserved.
    pub reserved: [u32; 3],
}

const HEADER_SIZE: usize = std::mem::size_of::<BlobHeader>();
const ALIGN: usize = 16;
/// The default size of a chunk.
const CHUNK_SIZE: usize = 16 << 20;

/// Why executable memory could not be had.
#[derive(Debug)]
pub struct CodeMemoryError(pub String);

impl std::fmt::Display for CodeMemoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "executable memory: {}", self.0)
    }
}

impl std::error::Error for CodeMemoryError {}

struct Chunk {
    _fd: OwnedFd,
    rw: NonNull<c_void>,
    rx: NonNull<c_void>,
    size: usize,
    /// First unused byte.
    bump: usize,
    /// Freed `(offset, size)` ranges.
    free: Vec<(usize, usize)>,
}

/// A placed blob: where its code runs and where it can be patched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blob {
    /// Address of the first code byte in the executable view.
    pub code_rx: usize,
    /// Address of the first code byte in the writable view.
    pub code_rw: usize,
    /// Bytes of code.
    pub code_size: usize,
    /// Bytes of the whole blob (header, code, pc map, padding).
    pub total_size: usize,
    chunk: usize,
    offset: usize,
}

/// All executable memory of a [`Vm`](super::Vm).
pub struct CodeMemory {
    chunks: Vec<Chunk>,
}

// SAFETY: the chunk pointers are private mappings owned by this value;
// access goes through `&mut self` (allocation, writing) or reads of
// immutable placed code.
unsafe impl Send for CodeMemory {}
// SAFETY: as above; `&self` methods only read.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// No chunks yet; the first allocation maps one.
    pub fn new() -> CodeMemory {
        CodeMemory { chunks: Vec::new() }
    }

    fn map_chunk(size: usize) -> Result<Chunk, CodeMemoryError> {
        let err = |what: &str, e: nix::Error| CodeMemoryError(format!("{what}: {e}"));
        // MFD_EXEC where the kernel requires it for executable mappings
        // (vm.memfd_noexec); older kernels reject the flag, so retry without.
        let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::from_bits_retain(libc::MFD_EXEC);
        let fd = memfd_create("tierjit-code", flags)
            .or_else(|_| memfd_create("tierjit-code", MFdFlags::MFD_CLOEXEC))
            .map_err(|e| err("memfd_create", e))?;
        nix::unistd::ftruncate(&fd, size as i64).map_err(|e| err("ftruncate", e))?;
        let len = NonZeroUsize::new(size).expect("chunks are not empty");
        // SAFETY: a fresh shared mapping of our own memfd; nothing else
        // refers to the address range it returns.
        let rw = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| err("mmap rw", e))?;
        // SAFETY: as above, a second view of the same pages.
        let rx = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_EXEC,
                MapFlags::MAP_SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| {
            // SAFETY: the rw view was mapped just above with this length.
            let _ = unsafe { munmap(rw, size) };
            err("mmap rx", e)
        })?;
        Ok(Chunk {
            _fd: fd,
            rw,
            rx,
            size,
            bump: 0,
            free: Vec::new(),
        })
    }

    fn reserve(&mut self, total: usize) -> Result<(usize, usize), CodeMemoryError> {
        for (i, chunk) in self.chunks.iter_mut().enumerate() {
            if let Some(pos) = chunk.free.iter().position(|&(_, size)| size >= total) {
                let (offset, size) = chunk.free[pos];
                if size == total {
                    chunk.free.swap_remove(pos);
                } else {
                    chunk.free[pos] = (offset + total, size - total);
                }
                return Ok((i, offset));
            }
            if chunk.size - chunk.bump >= total {
                let offset = chunk.bump;
                chunk.bump += total;
                return Ok((i, offset));
            }
        }
        let size = total.max(CHUNK_SIZE).next_multiple_of(CHUNK_SIZE);
        let mut chunk = Self::map_chunk(size)?;
        chunk.bump = total;
        self.chunks.push(chunk);
        Ok((self.chunks.len() - 1, 0))
    }

    /// Places a blob: header, `code`, `pc_map`. The code is ready to run
    /// once this returns (the caller publishes it with a release store).
    pub fn alloc_blob(
        &mut self,
        tier: u32,
        func: u32,
        code: &[u8],
        pc_map: &[(u32, u32)],
    ) -> Result<Blob, CodeMemoryError> {
        let map_bytes = pc_map.len() * 8;
        let total =
            (HEADER_SIZE + code.len().next_multiple_of(4) + map_bytes).next_multiple_of(ALIGN);
        let (chunk_index, offset) = self.reserve(total)?;
        let chunk = &self.chunks[chunk_index];
        let header = BlobHeader {
            magic: BLOB_MAGIC,
            tier,
            func,
            code_size: code.len() as u32,
            pc_map_len: pc_map.len() as u32,
            reserved: [0; 3],
        };
        let mut bytes = Vec::with_capacity(total);
        // SAFETY: BlobHeader is repr(C) plain data without padding.
        bytes.extend_from_slice(unsafe {
            std::slice::from_raw_parts(&header as *const BlobHeader as *const u8, HEADER_SIZE)
        });
        bytes.extend_from_slice(code);
        bytes.resize(HEADER_SIZE + code.len().next_multiple_of(4), 0xCC);
        for &(native, pc) in pc_map {
            bytes.extend_from_slice(&native.to_le_bytes());
            bytes.extend_from_slice(&pc.to_le_bytes());
        }
        bytes.resize(total, 0xCC);
        // SAFETY: [offset, offset + total) was just reserved inside this
        // chunk's writable view, and no thread runs code there yet.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (chunk.rw.as_ptr() as *mut u8).add(offset),
                total,
            );
        }
        let base_rx = chunk.rx.as_ptr() as usize + offset;
        let base_rw = chunk.rw.as_ptr() as usize + offset;
        Ok(Blob {
            code_rx: base_rx + HEADER_SIZE,
            code_rw: base_rw + HEADER_SIZE,
            code_size: code.len(),
            total_size: total,
            chunk: chunk_index,
            offset,
        })
    }

    /// Returns a blob's memory for reuse, filled with `int3` so that a thread
    /// that wrongly still runs it stops at once. The caller guarantees no
    /// thread is inside it (issue: retirement by stack walking).
    pub fn free_blob(&mut self, blob: Blob, poison: bool) {
        let chunk = &mut self.chunks[blob.chunk];
        // With `poison` the whole blob becomes `int3`; otherwise only the
        // header, so the blob no longer describes itself.
        let len = if poison { blob.total_size } else { HEADER_SIZE };
        // SAFETY: the blob's range lies in this chunk's writable view and,
        // by the caller's guarantee, nothing executes it any more.
        unsafe {
            std::ptr::write_bytes((chunk.rw.as_ptr() as *mut u8).add(blob.offset), 0xCC, len);
        }
        chunk.free.push((blob.offset, blob.total_size));
    }

    /// The header of the blob whose code starts at `code_rx`.
    pub fn header(&self, blob: &Blob) -> BlobHeader {
        // SAFETY: every Blob was placed by alloc_blob, which wrote a header
        // just before its code; the memory stays mapped while self lives.
        unsafe { std::ptr::read((blob.code_rx - HEADER_SIZE) as *const BlobHeader) }
    }

    /// The bytes of a blob's code, read through the executable view.
    pub fn code(&self, blob: &Blob) -> &[u8] {
        // SAFETY: as for `header`.
        unsafe { std::slice::from_raw_parts(blob.code_rx as *const u8, blob.code_size) }
    }
}

/// The bytecode pc of the instruction at `offset` in the blob whose code
/// starts at `code_rx`, from the pc map stored in the blob.
///
/// # Safety
/// `code_rx` must be the code address of a live blob placed by
/// [`CodeMemory::alloc_blob`] (one that is still in the code map).
pub unsafe fn bytecode_pc_at(code_rx: usize, offset: u32) -> Option<u32> {
    // SAFETY: the caller's contract: a live blob, so its header precedes the
    // code and its pc map follows it, all mapped and never written again.
    let (header, map) = unsafe {
        let header = std::ptr::read((code_rx - HEADER_SIZE) as *const BlobHeader);
        let map = (code_rx + (header.code_size as usize).next_multiple_of(4)) as *const [u32; 2];
        (
            header,
            std::slice::from_raw_parts(map, header.pc_map_len as usize),
        )
    };
    if header.magic != BLOB_MAGIC {
        return None;
    }
    match map.partition_point(|e| e[0] <= offset) {
        0 => None,
        i => Some(map[i - 1][1]),
    }
}

impl Default for CodeMemory {
    fn default() -> CodeMemory {
        CodeMemory::new()
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        for chunk in &self.chunks {
            // SAFETY: each view was mapped with chunk.size bytes by
            // map_chunk; the Vm drops its code memory only after every
            // thread that could run the code has finished.
            unsafe {
                let _ = munmap(chunk.rw, chunk.size);
                let _ = munmap(chunk.rx, chunk.size);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_carry_their_header_and_are_never_rwx() {
        let mut memory = CodeMemory::new();
        // mov eax, 42; ret
        let code = [0xB8, 42, 0, 0, 0, 0xC3];
        let blob = memory.alloc_blob(1, 7, &code, &[(0, 0), (5, 1)]).unwrap();
        assert_eq!(memory.code(&blob), &code);
        let header = memory.header(&blob);
        assert_eq!(
            (header.magic, header.tier, header.func, header.code_size),
            (BLOB_MAGIC, 1, 7, 6)
        );
        assert_eq!(blob.code_rx % 16, 0);
        // SAFETY: the blob holds a complete function returning 42.
        let f: extern "sysv64" fn() -> u32 = unsafe { std::mem::transmute(blob.code_rx) };
        assert_eq!(f(), 42);
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(maps
            .lines()
            .any(|l| l.contains("tierjit-code") && l.contains("r-xs")));
        assert!(!maps.lines().any(|l| l
            .split_whitespace()
            .nth(1)
            .is_some_and(|p| p.contains("wx"))));
    }

    #[test]
    fn freed_memory_is_reused() {
        let mut memory = CodeMemory::new();
        let a = memory.alloc_blob(1, 0, &[0xC3; 100], &[]).unwrap();
        memory.free_blob(a, true);
        let b = memory.alloc_blob(1, 1, &[0xC3; 100], &[]).unwrap();
        assert_eq!(a.code_rx, b.code_rx);
    }
}
