//! Executable memory: a memfd mapped twice, never writable and executable
//! in one view.
//!
//! Each chunk is a memfd mapped `rw-` (where code is written and patched)
//! and `r-x` (where it runs). W^X holds always: no page is writable and
//! executable in the same view, and nothing is ever `mprotect`ed. Chunks are
//! added as code grows. Every chunk's executable view lies in one address
//! range reserved up front ([`RESERVED_BYTES`], `PROT_NONE` until a chunk
//! is mapped over it), so a `call rel32` anywhere in code memory reaches
//! every other byte of it.
//!
//! A blob is `[header][code][pc map][inline table][no-frame table]` inside
//! a chunk, 16-byte aligned:
//!
//! ```text
//! BlobHeader { magic, tier, func, code_size, pc_map_len, inline_len, .. }  32 bytes
//! code, padded with int3 to a multiple of 4                                code_size bytes
//! pc map: PcMapEntry { offset, pc, inline } (3 x u32)                      pc_map_len entries
//! inline table: InlineFrame { func, parent, call_pc } (3 x u32)            inline_len entries
//! no-frame table: count (u32), then NoFrameRange { start, end, kind }      4 + 12 x count bytes
//!                 (3 x u32), sorted and disjoint
//! ```
//!
//! so a blob describes itself, inlined frames included ([`frames_at`]),
//! and where its frames are not set up; the [`CodeMap`](super::code_map)
//! indexes blobs by address for lookups from native pcs, and gives the
//! profiler's stack walker the address of each blob's no-frame table (the
//! format `tierjit_profiler::stackwalk` reads; checked below).

use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::code::{self, InlineFrame, NoFrameKind, NoFrameRange, PcMapEntry, Tier};

/// Marks the start of a blob header ("TJIT").
pub const BLOB_MAGIC: u32 = 0x544A_4954;

/// The header in front of every blob's code.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    /// [`BLOB_MAGIC`].
    pub magic: u32,
    /// The tier's number ([`Tier::as_u32`]).
    pub tier: u32,
    /// The function's id.
    pub func: u32,
    /// Bytes of machine code.
    pub code_size: u32,
    /// Entries of the pc map after the code.
    pub pc_map_len: u32,
    /// Entries of the inline table after the pc map.
    pub inline_len: u32,
    /// Reserved.
    pub reserved: [u32; 2],
}

impl BlobHeader {
    /// The blob's tier, if the number is a tier's.
    pub fn tier(&self) -> Option<Tier> {
        Tier::from_u32(self.tier)
    }
}

const _: () = {
    // The tables are copied as plain `repr(C)` words and read back as
    // slices in place: 4-byte aligned, no padding.
    assert!(std::mem::size_of::<PcMapEntry>() == 12);
    assert!(std::mem::align_of::<PcMapEntry>() == 4);
    assert!(std::mem::size_of::<InlineFrame>() == 12);
    assert!(std::mem::align_of::<InlineFrame>() == 4);
    // The no-frame table is what the profiler's walker reads: (start, end,
    // kind) words, kinds numbered as it numbers them.
    use tierjit_profiler::stackwalk as walk;
    assert!(std::mem::size_of::<NoFrameRange>() == 4 * walk::NO_FRAME_ENTRY_WORDS);
    assert!(std::mem::align_of::<NoFrameRange>() == 4);
    assert!(std::mem::offset_of!(NoFrameRange, start) == 0);
    assert!(std::mem::offset_of!(NoFrameRange, end) == 4);
    assert!(std::mem::offset_of!(NoFrameRange, kind) == 8);
    assert!(NoFrameKind::ReturnAtSp as u32 == walk::NO_FRAME_RETURN_AT_SP);
    assert!(NoFrameKind::ReturnAboveSavedRbp as u32 == walk::NO_FRAME_RETURN_ABOVE_SAVED_RBP);
};

/// Bytes of a blob's header.
pub const HEADER_SIZE: usize = std::mem::size_of::<BlobHeader>();
/// Every blob starts at a multiple of this.
pub const ALIGN: usize = 16;
/// The page size of x86-64 Linux: what file mappings are aligned to.
pub const PAGE_SIZE: usize = 4096;
/// The default size of a chunk.
const CHUNK_SIZE: usize = 16 << 20;
/// The address range reserved for executable views: at most 2 GiB, so
/// that a rel32 displacement reaches from any byte to any other.
pub const RESERVED_BYTES: usize = 1 << 30;
const _: () = assert!(RESERVED_BYTES <= 1 << 31 && RESERVED_BYTES.is_multiple_of(CHUNK_SIZE));

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
    /// Bytes of the whole blob (header, code, tables, padding).
    pub total_size: usize,
    /// Address of its no-frame table (the count) in the executable view.
    pub no_frame_table: usize,
    /// The tier of its code.
    pub tier: Tier,
    /// Index of its chunk, or [`FILE_CHUNK`] for code mapped from a file.
    chunk: usize,
    offset: usize,
}

/// Code mapped from a file ([`CodeMemory::map_file`]): where it starts,
/// and its length.
#[derive(Clone, Copy, Debug)]
pub struct FileCode {
    base: usize,
    len: usize,
}

/// The chunk number of blobs that lie in a mapped file
/// ([`CodeMemory::map_file`]): they are never freed.
const FILE_CHUNK: usize = usize::MAX;

impl Blob {
    /// The blob whose header is at `header_rx` in code mapped from a file
    /// ([`CodeMemory::map_file`]), as [`BlobHeader`] `header` describes
    /// it, `total_size` bytes in all. It has no writable view: its code is
    /// never patched, and it is never freed.
    pub fn in_file(header_rx: usize, header: &BlobHeader, total_size: usize) -> Option<Blob> {
        let tier = header.tier()?;
        let no_frame_at = HEADER_SIZE
            + (header.code_size as usize).next_multiple_of(4)
            + 12 * (header.pc_map_len as usize + header.inline_len as usize);
        Some(Blob {
            code_rx: header_rx + HEADER_SIZE,
            code_rw: 0,
            code_size: header.code_size as usize,
            total_size,
            no_frame_table: header_rx + no_frame_at,
            tier,
            chunk: FILE_CHUNK,
            offset: 0,
        })
    }

    /// True for code mapped from a file, which has no writable view and
    /// is never freed.
    pub fn is_from_file(&self) -> bool {
        self.chunk == FILE_CHUNK
    }
}

/// All executable memory of a [`Vm`](super::Vm).
pub struct CodeMemory {
    chunks: Vec<Chunk>,
    /// The reserved range for executable views (mapped on first use) and
    /// how much of it chunks use.
    reserved: Option<NonNull<c_void>>,
    reserved_used: usize,
    /// Most bytes of blobs in use at once ([`CodeMemory::set_limit`]).
    limit: usize,
    /// Bytes of blobs in use (placed and not freed).
    in_use: usize,
    /// How many more chunks may be mapped (`None`: as many as the system
    /// gives), for tests of running out ([`CodeMemory::fail_maps_after`]).
    maps_left: Option<u64>,
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
        CodeMemory {
            chunks: Vec::new(),
            reserved: None,
            reserved_used: 0,
            limit: usize::MAX,
            in_use: 0,
            maps_left: None,
        }
    }

    /// Refuses blobs that would take the bytes in use (headers and tables
    /// included) past `limit` (`tierjit run --code-memory-limit`).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Makes mapping every chunk after the next `maps` fail, as if
    /// `memfd_create` or `mmap` had failed.
    pub fn fail_maps_after(&mut self, maps: u64) {
        self.maps_left = Some(maps);
    }

    /// Bytes of blobs in use.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// The address where the next chunk's executable view of `size` bytes
    /// goes, in the reserved range (reserved now if this is the first).
    fn next_rx_address(&mut self, size: usize) -> Result<NonNull<c_void>, CodeMemoryError> {
        let base = match self.reserved {
            Some(base) => base,
            None => {
                let len = NonZeroUsize::new(RESERVED_BYTES).expect("reserved range is not empty");
                // SAFETY: a fresh private mapping with no access: address
                // space only, which nothing else refers to.
                let base = unsafe {
                    nix::sys::mman::mmap_anonymous(
                        None,
                        len,
                        ProtFlags::PROT_NONE,
                        MapFlags::MAP_PRIVATE | MapFlags::MAP_NORESERVE,
                    )
                }
                .map_err(|e| CodeMemoryError(format!("reserving the code range: {e}")))?;
                *self.reserved.insert(base)
            }
        };
        if RESERVED_BYTES - self.reserved_used < size {
            return Err(CodeMemoryError(format!(
                "the {} MiB code range is full",
                RESERVED_BYTES >> 20
            )));
        }
        let at = base.as_ptr() as usize + self.reserved_used;
        self.reserved_used += size;
        Ok(NonNull::new(at as *mut c_void).expect("inside a mapping"))
    }

    /// Maps a chunk of `size` bytes, its executable view at `rx_at` (an
    /// unused part of the reserved range).
    fn map_chunk(size: usize, rx_at: NonNull<c_void>) -> Result<Chunk, CodeMemoryError> {
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
        // SAFETY: a second view of the same pages, replacing part of our
        // own reservation that no chunk uses (MAP_FIXED over it).
        let rx = unsafe {
            mmap(
                NonZeroUsize::new(rx_at.as_ptr() as usize),
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_EXEC,
                MapFlags::MAP_SHARED | MapFlags::MAP_FIXED,
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
        if self.in_use.saturating_add(total) > self.limit {
            return Err(CodeMemoryError(format!(
                "the code memory limit ({} bytes) is reached",
                self.limit
            )));
        }
        let place = self.find_room(total)?;
        self.in_use += total;
        Ok(place)
    }

    fn find_room(&mut self, total: usize) -> Result<(usize, usize), CodeMemoryError> {
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
        if let Some(left) = &mut self.maps_left {
            *left = left
                .checked_sub(1)
                .ok_or_else(|| CodeMemoryError("memfd_create: injected fault".to_string()))?;
        }
        let rx_at = self.next_rx_address(size)?;
        let mut chunk = Self::map_chunk(size, rx_at)?;
        chunk.bump = total;
        self.chunks.push(chunk);
        Ok((self.chunks.len() - 1, 0))
    }

    /// Maps `len` bytes of `file` from `offset` (a multiple of the page
    /// size) private and read-execute into the reserved range, so that
    /// every rel32 between them and other code reaches: the code section
    /// of a cache file, run where it lies, its pages the page cache's.
    /// Gives the address of its first byte. The mapping stays until the
    /// code memory is dropped; the blobs in it are never freed.
    pub fn map_file(
        &mut self,
        file: &std::fs::File,
        offset: u64,
        len: usize,
    ) -> Result<FileCode, CodeMemoryError> {
        let size = len.max(1).next_multiple_of(PAGE_SIZE);
        if let Some(left) = &mut self.maps_left {
            *left = left
                .checked_sub(1)
                .ok_or_else(|| CodeMemoryError("mmap: injected fault".to_string()))?;
        }
        let at = self.next_rx_address(size)?;
        let offset = i64::try_from(offset)
            .map_err(|_| CodeMemoryError(format!("file offset {offset} is too large")))?;
        // SAFETY: a private read-execute view of the file, replacing part
        // of our own reservation that nothing uses (MAP_FIXED over it).
        // The caller checked the bytes, and writers replace cache files by
        // renaming, never in place, so the pages stay what was checked.
        let rx = unsafe {
            mmap(
                NonZeroUsize::new(at.as_ptr() as usize),
                NonZeroUsize::new(size).expect("not empty"),
                ProtFlags::PROT_READ | ProtFlags::PROT_EXEC,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_FIXED,
                file,
                offset,
            )
        }
        .map_err(|e| CodeMemoryError(format!("mmap of a cache file: {e}")))?;
        Ok(FileCode {
            base: rx.as_ptr() as usize,
            len,
        })
    }

    /// The blob of `len` bytes at offset `at` of code mapped from a file,
    /// as its header describes it; `None` if it does not lie inside, or its
    /// header does not fit it.
    pub fn blob_in_file(&self, file: &FileCode, at: usize, len: usize) -> Option<Blob> {
        if !at.is_multiple_of(ALIGN) || len < HEADER_SIZE || at.checked_add(len)? > file.len {
            return None;
        }
        // SAFETY: `file` comes from `map_file`, whose mapping stays while
        // self lives, and [at, at + len) lies inside it (checked above);
        // the header is read unaligned-safe as plain u32s.
        let header = unsafe { std::ptr::read_unaligned((file.base + at) as *const BlobHeader) };
        let tables = 12 * (header.pc_map_len as usize + header.inline_len as usize);
        let blob = Blob::in_file(file.base + at, &header, len)?;
        (HEADER_SIZE + (header.code_size as usize).next_multiple_of(4) + tables + 4 <= len)
            .then_some(blob)
    }

    /// Places a blob of `func`'s code for `tier`: header, `code`, `pc_map`,
    /// `inlines`, `no_frame` (see [`tierjit_tiers::code::CompiledCode`] for
    /// what the tables mean). The code is ready to run once this returns
    /// (the caller publishes it with a release store).
    pub fn alloc_blob(
        &mut self,
        tier: Tier,
        func: FuncId,
        code: &[u8],
        pc_map: &[PcMapEntry],
        inlines: &[InlineFrame],
        no_frame: &[NoFrameRange],
    ) -> Result<Blob, CodeMemoryError> {
        let bytes = blob_bytes(tier, func, code, pc_map, inlines, no_frame);
        let total = bytes.len();
        let no_frame_at = HEADER_SIZE
            + code.len().next_multiple_of(4)
            + std::mem::size_of_val(pc_map)
            + std::mem::size_of_val(inlines);
        let (chunk_index, offset) = self.reserve(total)?;
        let chunk = &self.chunks[chunk_index];
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
            no_frame_table: base_rx + no_frame_at,
            tier,
            chunk: chunk_index,
            offset,
        })
    }

    /// Returns a blob's memory for reuse, filled with `int3` so that a thread
    /// that wrongly still runs it stops at once. The caller guarantees no
    /// thread is inside it (issue: retirement by stack walking).
    pub fn free_blob(&mut self, blob: Blob, poison: bool) {
        if blob.is_from_file() {
            return;
        }
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
        self.in_use -= blob.total_size;
    }

    /// The header of the blob whose code starts at `code_rx`.
    pub fn header(&self, blob: &Blob) -> BlobHeader {
        // SAFETY: every Blob was placed by alloc_blob, which wrote a header
        // just before its code; the memory stays mapped while self lives.
        unsafe { std::ptr::read((blob.code_rx - HEADER_SIZE) as *const BlobHeader) }
    }

    /// A placed blob's bytes, header, code and tables, as a cache file
    /// keeps them.
    pub fn blob_bytes(&self, blob: &Blob) -> &[u8] {
        // SAFETY: as for `header`: the blob's `total_size` bytes from its
        // header on are mapped while self lives.
        unsafe {
            std::slice::from_raw_parts((blob.code_rx - HEADER_SIZE) as *const u8, blob.total_size)
        }
    }

    /// The bytes of a blob's code, read through the executable view.
    pub fn code(&self, blob: &Blob) -> &[u8] {
        // SAFETY: as for `header`.
        unsafe { std::slice::from_raw_parts(blob.code_rx as *const u8, blob.code_size) }
    }
}

/// The bytes of a blob of `func`'s code for `tier`: header, `code`,
/// `pc_map`, `inlines`, `no_frame`, padded to [`ALIGN`] (the layout of the
/// module doc).
pub fn blob_bytes(
    tier: Tier,
    func: FuncId,
    code: &[u8],
    pc_map: &[PcMapEntry],
    inlines: &[InlineFrame],
    no_frame: &[NoFrameRange],
) -> Vec<u8> {
    let code_bytes = code.len().next_multiple_of(4);
    let table_bytes = std::mem::size_of_val(pc_map)
        + std::mem::size_of_val(inlines)
        + 4
        + std::mem::size_of_val(no_frame);
    let total = (HEADER_SIZE + code_bytes + table_bytes).next_multiple_of(ALIGN);
    let header = BlobHeader {
        magic: BLOB_MAGIC,
        tier: tier.as_u32(),
        func: func.0,
        code_size: code.len() as u32,
        pc_map_len: pc_map.len() as u32,
        inline_len: inlines.len() as u32,
        reserved: [0; 2],
    };
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(plain_bytes(std::slice::from_ref(&header)));
    bytes.extend_from_slice(code);
    bytes.resize(HEADER_SIZE + code_bytes, 0xCC);
    bytes.extend_from_slice(plain_bytes(pc_map));
    bytes.extend_from_slice(plain_bytes(inlines));
    bytes.extend_from_slice(&(no_frame.len() as u32).to_ne_bytes());
    bytes.extend_from_slice(plain_bytes(no_frame));
    bytes.resize(total, 0xCC);
    bytes
}

/// The bytes of `values`, which must be `repr(C)` plain data without
/// padding (the blob header and tables, checked above).
fn plain_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: every caller passes a padding-free repr(C) type of u32
    // fields (or `repr(u32)` enums), so each byte is initialised; the
    // length is the slice's size.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
    }
}

/// Pushes the bytecode frames of the instruction at `offset` in the blob
/// whose code starts at `code_rx`, innermost first (inlined callees, then
/// their callers, ending with the blob's function), from the tables stored
/// in the blob. False (nothing pushed) if the offset maps to nothing.
///
/// # Safety
/// `code_rx` must be the code address of a live blob placed by
/// [`CodeMemory::alloc_blob`] (one that is still in the code map).
pub unsafe fn frames_at(code_rx: usize, offset: u32, out: &mut Vec<(FuncId, u32)>) -> bool {
    // SAFETY: the caller's contract: a live blob, so its header precedes the
    // code and its tables follow it, 4-aligned (the code starts 16-aligned
    // and its size is padded to 4), all mapped and never written again.
    let (header, pc_map, inlines) = unsafe {
        let header = std::ptr::read((code_rx - HEADER_SIZE) as *const BlobHeader);
        let map = (code_rx + (header.code_size as usize).next_multiple_of(4)) as *const PcMapEntry;
        let pc_map = std::slice::from_raw_parts(map, header.pc_map_len as usize);
        let inlines = std::slice::from_raw_parts(
            map.add(pc_map.len()) as *const InlineFrame,
            header.inline_len as usize,
        );
        (header, pc_map, inlines)
    };
    if header.magic != BLOB_MAGIC {
        return false;
    }
    code::frames_at(FuncId(header.func), pc_map, inlines, offset, out)
}

impl Default for CodeMemory {
    fn default() -> CodeMemory {
        CodeMemory::new()
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        for chunk in &self.chunks {
            // SAFETY: the view was mapped with chunk.size bytes by
            // map_chunk; the Vm drops its code memory only after every
            // thread that could run the code has finished.
            unsafe {
                let _ = munmap(chunk.rw, chunk.size);
            }
        }
        if let Some(base) = self.reserved {
            // SAFETY: the reserved range, executable views included (they
            // were mapped over it); nothing runs the code any more, as
            // above.
            unsafe {
                let _ = munmap(base, RESERVED_BYTES);
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
        let map = [PcMapEntry::root(0, 0), PcMapEntry::root(5, 1)];
        let blob = memory
            .alloc_blob(Tier::Baseline, FuncId(7), &code, &map, &[], &[])
            .unwrap();
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
    fn the_limit_counts_blobs_in_use() {
        let mut mem = CodeMemory::new();
        let code = [0xC3u8; 200];
        let first = mem
            .alloc_blob(Tier::Baseline, FuncId(0), &code, &[], &[], &[])
            .unwrap();
        mem.set_limit(first.total_size * 2);
        let second = mem
            .alloc_blob(Tier::Baseline, FuncId(1), &code, &[], &[], &[])
            .unwrap();
        let refused = mem.alloc_blob(Tier::Baseline, FuncId(2), &code, &[], &[], &[]);
        assert!(refused.unwrap_err().to_string().contains("limit"));
        mem.free_blob(second, true);
        assert_eq!(mem.in_use(), first.total_size);
        mem.alloc_blob(Tier::Baseline, FuncId(2), &code, &[], &[], &[])
            .unwrap();
    }

    #[test]
    fn a_chunk_that_cannot_be_mapped_is_an_error() {
        let mut mem = CodeMemory::new();
        mem.fail_maps_after(1);
        mem.alloc_blob(Tier::Baseline, FuncId(0), &[0xC3], &[], &[], &[])
            .unwrap();
        let big = vec![0xC3u8; CHUNK_SIZE];
        let refused = mem.alloc_blob(Tier::Baseline, FuncId(1), &big, &[], &[], &[]);
        assert!(refused.unwrap_err().to_string().contains("injected"));
        mem.alloc_blob(Tier::Baseline, FuncId(2), &[0xC3], &[], &[], &[])
            .unwrap();
    }

    #[test]
    fn freed_memory_is_reused() {
        let mut memory = CodeMemory::new();
        let a = memory
            .alloc_blob(Tier::Baseline, FuncId(0), &[0xC3; 100], &[], &[], &[])
            .unwrap();
        memory.free_blob(a, true);
        let b = memory
            .alloc_blob(Tier::Opt, FuncId(1), &[0xC3; 100], &[], &[], &[])
            .unwrap();
        assert_eq!(a.code_rx, b.code_rx);
    }

    #[test]
    fn blobs_give_back_inline_chains() {
        let mut memory = CodeMemory::new();
        let e = |offset, pc, inline| PcMapEntry { offset, pc, inline };
        // Function 3 inlines 4 at its pc 6, which inlines 5 at its pc 2.
        let map = [e(0, 0, 0), e(8, 1, 1), e(16, 9, 2), e(24, 7, 0)];
        let inlines = [
            InlineFrame {
                func: FuncId(4),
                parent: 0,
                call_pc: 6,
            },
            InlineFrame {
                func: FuncId(5),
                parent: 1,
                call_pc: 2,
            },
        ];
        let no_frame_at = |start, end, kind| NoFrameRange { start, end, kind };
        let no_frame = [
            no_frame_at(0, 1, NoFrameKind::ReturnAtSp),
            no_frame_at(1, 4, NoFrameKind::ReturnAboveSavedRbp),
        ];
        // An odd code size: the tables start at the next multiple of 4.
        let blob = memory
            .alloc_blob(Tier::Opt, FuncId(3), &[0x90; 31], &map, &inlines, &no_frame)
            .unwrap();
        // The no-frame table follows the code (31 bytes padded to 32) and
        // the other tables, its count first.
        assert_eq!(blob.no_frame_table, blob.code_rx + 32 + 12 * 4 + 12 * 2);
        // SAFETY: the blob is live and its table has a count and two entries.
        let table = unsafe { std::slice::from_raw_parts(blob.no_frame_table as *const u32, 7) };
        assert_eq!(table, [2, 0, 1, 0, 1, 4, 1]);
        assert_eq!(memory.header(&blob).tier(), Some(Tier::Opt));
        let frames = |offset| {
            let mut out = Vec::new();
            // SAFETY: the blob is live.
            let found = unsafe { frames_at(blob.code_rx, offset, &mut out) };
            found.then_some(out)
        };
        let ids = |v: &[(u32, u32)]| Some(v.iter().map(|&(f, pc)| (FuncId(f), pc)).collect());
        assert_eq!(frames(3), ids(&[(3, 0)]));
        assert_eq!(frames(8), ids(&[(4, 1), (3, 6)]));
        assert_eq!(frames(20), ids(&[(5, 9), (4, 2), (3, 6)]));
        assert_eq!(frames(30), ids(&[(3, 7)]));
    }
}
