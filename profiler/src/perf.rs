//! Telling Linux `perf` about JIT code: a perf map and a jitdump file.
//!
//! Both writers only need addresses, sizes, names and code bytes; they know
//! nothing of the runtime, which calls them after it installs code.
//!
//! - [`PerfMap`] appends `START SIZE name` lines (hex, no `0x`) to
//!   `/tmp/perf-PID.map`, which `perf report` reads to name samples in
//!   anonymous executable memory.
//! - [`JitDump`] writes `jit-PID.dump` in the format of the Linux tree's
//!   `tools/perf/Documentation/jitdump-specification.txt`: a 40-byte header,
//!   then one `JIT_CODE_LOAD` record per function, each with a copy of the
//!   code, so `perf inject --jit` can build ELF images and annotate the
//!   machine code. Timestamps are `CLOCK_MONOTONIC` (record with
//!   `perf record -k mono`). The file is mapped executable once, as the
//!   specification requires: that mapping's `PERF_RECORD_MMAP` is how perf
//!   finds the file.
//!
//! Each line or record goes out in a single `write` with no buffering, so
//! a crash loses at most the code being added.

use std::fs::File;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use nix::time::{clock_gettime, ClockId};

/// A `/tmp/perf-PID.map` file.
#[derive(Debug)]
pub struct PerfMap {
    file: File,
    path: PathBuf,
}

impl PerfMap {
    /// Creates (or empties) `/tmp/perf-PID.map` for this process.
    pub fn create() -> io::Result<PerfMap> {
        PerfMap::create_in(Path::new("/tmp"))
    }

    /// Creates (or empties) `perf-PID.map` in `dir`.
    pub fn create_in(dir: &Path) -> io::Result<PerfMap> {
        let path = PerfMap::path_in(dir);
        let file = File::create(&path)?;
        Ok(PerfMap { file, path })
    }

    /// Where [`PerfMap::create_in`] puts this process's map.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(format!("perf-{}.map", std::process::id()))
    }

    /// Records that `size` bytes of code at `addr` belong to `name`.
    pub fn add(&mut self, addr: u64, size: u64, name: &str) -> io::Result<()> {
        let line = format!("{addr:x} {size:x} {}\n", one_line(name));
        self.file.write_all(line.as_bytes())
    }

    /// Where the map is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `name` with line breaks replaced, so one entry stays one line.
fn one_line(name: &str) -> String {
    name.replace(['\n', '\r'], " ")
}

/// The jitdump magic, `JiTD` when written little-endian.
pub const JITDUMP_MAGIC: u32 = 0x4A69_5444;
/// The jitdump version this writes.
pub const JITDUMP_VERSION: u32 = 1;
/// Size of the jitdump file header.
pub const JITDUMP_HEADER_SIZE: u32 = 40;
/// Record id of `JIT_CODE_LOAD`.
pub const JIT_CODE_LOAD: u32 = 0;
/// Size of a `JIT_CODE_LOAD` record before its name and code: the 16-byte
/// record prefix, then pid, tid, vma, code_addr, code_size, code_index.
pub const JIT_CODE_LOAD_FIXED_SIZE: u32 = 16 + 4 + 4 + 8 * 4;

/// The ELF machine of the code this build produces.
#[cfg(target_arch = "x86_64")]
pub const ELF_MACHINE: u32 = 62; // EM_X86_64
/// The ELF machine of the code this build produces.
#[cfg(target_arch = "aarch64")]
pub const ELF_MACHINE: u32 = 183; // EM_AARCH64
/// The ELF machine of the code this build produces.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const ELF_MACHINE: u32 = 0; // EM_NONE

/// A `jit-PID.dump` file.
#[derive(Debug)]
pub struct JitDump {
    file: File,
    path: PathBuf,
    pid: u32,
    next_code_index: u64,
    _marker: MarkerMapping,
}

impl JitDump {
    /// Creates `jit-PID.dump` in `dir`, writes its header and maps it
    /// executable so that a running `perf record` notices it.
    pub fn create(dir: &Path) -> io::Result<JitDump> {
        let pid = std::process::id();
        let path = JitDump::path_in(dir);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        file.write_all(&file_header(pid, monotonic_ns()?))?;
        let marker = MarkerMapping::new(&file)?;
        Ok(JitDump {
            file,
            path,
            pid,
            next_code_index: 0,
            _marker: marker,
        })
    }

    /// Where [`JitDump::create`] puts this process's file.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(format!("jit-{}.dump", std::process::id()))
    }

    /// Records that the code `code`, now at `addr`, is the function `name`.
    /// Each load gets the next code index, from 0.
    pub fn code_load(&mut self, addr: u64, code: &[u8], name: &str) -> io::Result<()> {
        let record = CodeLoad {
            timestamp: monotonic_ns()?,
            pid: self.pid,
            tid: nix::unistd::gettid().as_raw() as u32,
            addr,
            code,
            code_index: self.next_code_index,
            name,
        }
        .encode()?;
        self.file.write_all(&record)?;
        self.next_code_index += 1;
        Ok(())
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn file_header(pid: u32, timestamp: u64) -> Vec<u8> {
    let mut header = Vec::with_capacity(JITDUMP_HEADER_SIZE as usize);
    for word in [
        JITDUMP_MAGIC,
        JITDUMP_VERSION,
        JITDUMP_HEADER_SIZE,
        ELF_MACHINE,
        0, // pad1
        pid,
    ] {
        header.extend_from_slice(&word.to_ne_bytes());
    }
    header.extend_from_slice(&timestamp.to_ne_bytes());
    header.extend_from_slice(&0u64.to_ne_bytes()); // flags: no arch timestamps
    header
}

/// One `JIT_CODE_LOAD` record's fields.
struct CodeLoad<'a> {
    timestamp: u64,
    pid: u32,
    tid: u32,
    addr: u64,
    code: &'a [u8],
    code_index: u64,
    name: &'a str,
}

impl CodeLoad<'_> {
    /// The record's bytes: prefix, fixed fields, NUL-terminated name, code.
    fn encode(&self) -> io::Result<Vec<u8>> {
        let name = self.name.replace('\0', " ");
        let size = JIT_CODE_LOAD_FIXED_SIZE as usize + name.len() + 1 + self.code.len();
        let total_size = u32::try_from(size).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "jitdump record over 4 GiB")
        })?;
        let mut record = Vec::with_capacity(size);
        record.extend_from_slice(&JIT_CODE_LOAD.to_ne_bytes());
        record.extend_from_slice(&total_size.to_ne_bytes());
        record.extend_from_slice(&self.timestamp.to_ne_bytes());
        record.extend_from_slice(&self.pid.to_ne_bytes());
        record.extend_from_slice(&self.tid.to_ne_bytes());
        let code_size = self.code.len() as u64;
        for field in [self.addr, self.addr, code_size, self.code_index] {
            record.extend_from_slice(&field.to_ne_bytes()); // vma, code_addr, ...
        }
        record.extend_from_slice(name.as_bytes());
        record.push(0);
        record.extend_from_slice(self.code);
        Ok(record)
    }
}

fn monotonic_ns() -> io::Result<u64> {
    let now = clock_gettime(ClockId::CLOCK_MONOTONIC)?;
    Ok(now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64)
}

/// The read+exec mapping of a jitdump file's header, kept for the file's
/// life. The address is kept as an integer so that a [`JitDump`] can move
/// to and be shared with a compiler thread.
#[derive(Debug)]
struct MarkerMapping {
    addr: usize,
    len: NonZeroUsize,
}

impl MarkerMapping {
    const LEN: NonZeroUsize = match NonZeroUsize::new(JITDUMP_HEADER_SIZE as usize) {
        Some(len) => len,
        None => unreachable!(),
    };

    fn new(file: &File) -> io::Result<MarkerMapping> {
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_EXEC;
        // SAFETY: a fresh private mapping at an address the kernel picks
        // cannot alias any Rust object; the file already holds the bytes
        // mapped, and nothing ever reads or runs them (perf only needs the
        // mapping to exist).
        let addr = unsafe { mmap(None, Self::LEN, prot, MapFlags::MAP_PRIVATE, file, 0)? };
        Ok(MarkerMapping {
            addr: addr.as_ptr() as usize,
            len: Self::LEN,
        })
    }
}

impl Drop for MarkerMapping {
    fn drop(&mut self) {
        let Some(addr) = NonNull::new(self.addr as *mut std::ffi::c_void) else {
            return;
        };
        // SAFETY: `addr` and `len` are exactly what `mmap` returned and
        // nothing else refers to the mapping.
        let _ = unsafe { munmap(addr, self.len.get()) };
    }
}

#[cfg(test)]
mod tests;
