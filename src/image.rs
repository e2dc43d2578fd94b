//! Module image files (`tierjit build prog.tj -o prog.tjm`).
//!
//! [`write_file`] saves a module's image (the format:
//! [`tierjit_tiers::bytecode::image`]); [`load_file`] maps an image file
//! read-only and gives the module that runs from the mapping in place: its
//! instructions, constants and line tables are the file's pages, read as
//! the program runs them and shared with every other process that maps the
//! same file. The mapping lives as long as the module (and every clone of
//! it) does.
//!
//! ```
//! let module = tierjit::lang::compile(b"fn main() -> int { return 42; }").unwrap();
//! let path = std::env::temp_dir().join(format!("doc-{}.tjm", std::process::id()));
//! tierjit::image::write_file(&module, &path).unwrap();
//! let loaded = tierjit::image::load_file(&path).unwrap();
//! assert_eq!(loaded, module);
//! let vm = tierjit::runtime::Vm::new(loaded, Default::default()).unwrap();
//! assert_eq!(vm.run_main().unwrap(), Some(42));
//! # std::fs::remove_file(&path).unwrap();
//! ```
//!
//! Writers never leave a half-written image under the name: each writes a
//! temporary file beside it and renames it over. An image must not be
//! changed in place while mapped (rename a new one over it instead): the
//! loader checks the bytes once, and the program trusts them from then on.

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use std::fmt;
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;
use tierjit_tiers::bytecode::image::{self, ImageError};
use tierjit_tiers::bytecode::table::ImageBytes;
use tierjit_tiers::bytecode::Module;

pub use tierjit_tiers::bytecode::image::is_image;

/// Why an image file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be opened, read or mapped.
    Io(std::io::Error),
    /// Its bytes are not a good image.
    Image(ImageError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(e) => e.fmt(f),
            LoadError::Image(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {}

/// A file mapped read-only and private.
pub(crate) struct MappedFile {
    base: NonNull<std::ffi::c_void>,
    len: NonZeroUsize,
}

// SAFETY: the mapping is read-only and owned by this value alone until it
// is dropped; reading it from any thread is reading immutable memory.
unsafe impl Send for MappedFile {}
// SAFETY: as above.
unsafe impl Sync for MappedFile {}

impl ImageBytes for MappedFile {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes at `base`, mapped until drop.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr() as *const u8, self.len.get()) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: mapped in `load_file` with this length; no table points
        // into it any more (each holds an Arc to this).
        let _ = unsafe { munmap(self.base, self.len.get()) };
    }
}

impl MappedFile {
    /// Maps all of `file` read-only and private; `None` if it is empty.
    /// (The file must not change while mapped: see the module doc.)
    pub(crate) fn map(file: &std::fs::File) -> std::io::Result<Option<MappedFile>> {
        let len = file.metadata()?.len();
        let Some(len) = usize::try_from(len).ok().and_then(NonZeroUsize::new) else {
            return Ok(None);
        };
        // SAFETY: a fresh private read-only mapping of a file we opened;
        // nothing else refers to the range it returns.
        let base = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ,
                MapFlags::MAP_PRIVATE,
                file,
                0,
            )
        }?;
        Ok(Some(MappedFile { base, len }))
    }
}

/// The module in the image file at `path`, running from the mapped file.
pub fn load_file(path: impl AsRef<Path>) -> Result<Module, LoadError> {
    let file = std::fs::File::open(path.as_ref()).map_err(LoadError::Io)?;
    let Some(mapped) = MappedFile::map(&file).map_err(LoadError::Io)? else {
        return Err(LoadError::Image(ImageError::Malformed(
            "the file is empty".into(),
        )));
    };
    let mapped: Arc<dyn ImageBytes> = Arc::new(mapped);
    image::load(mapped).map_err(LoadError::Image)
}

/// Writes the image of `module` to `path`, through a temporary file
/// renamed over it.
pub fn write_file(module: &Module, path: impl AsRef<Path>) -> std::io::Result<()> {
    write_atomically(path.as_ref(), &image::write(module), true)
}

/// Writes `bytes` to `path` through a temporary file beside it, renamed
/// over it: a reader sees the old file or the new one, whole, and a
/// writer that fails or dies midway leaves `path` as it was. `durable`
/// syncs the data to disk before the rename (a cache file, which is
/// checked when read and only costs a cold run if lost, skips it).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp{}.{n}", std::process::id()));
    let temp = std::path::PathBuf::from(temp);
    let written = std::fs::File::create(&temp).and_then(|mut f| {
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        Ok(())
    });
    match written.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}
