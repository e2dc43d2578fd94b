//! The files that tell `perf` what generated code is where: the perf map
//! (`/tmp/perf-PID.map`) and the jitdump (`DIR/jit-PID.dump`).
//!
//! They are aids, never a reason to stop or change a program: a file that
//! cannot be created (a missing or read-only directory) is a warning and
//! the run goes on without it; a write that fails (a full disk) is a
//! warning and that file gets nothing more. Each file warns at most once.

use std::io;
use std::path::Path;
use tierjit_profiler::perf::{JitDump, PerfMap};

use super::warnings::Warnings;
use super::VmOptions;

/// The perf outputs a Vm writes.
#[derive(Default)]
pub(super) struct PerfOutputs {
    map: Option<PerfMap>,
    jitdump: Option<JitDump>,
    warnings: Warnings,
    /// Test only: records written before every write fails as on a full
    /// disk (`--inject-fault perf-write:N`).
    full_after: Option<u64>,
    /// Blobs recorded so far.
    recorded: u64,
}

impl PerfOutputs {
    /// Creates the outputs `options` asks for; one that cannot be created
    /// is left out, with a warning.
    pub(super) fn open(&mut self, options: &VmOptions) {
        self.warnings = options.warnings.clone();
        self.full_after = options.faults.successes(super::faults::Fault::PerfWrite);
        if options.perf_map {
            let tmp = Path::new("/tmp");
            self.map = PerfMap::create_in(tmp)
                .map_err(|e| self.not_created("the perf map", &PerfMap::path_in(tmp), e))
                .ok();
        }
        if let Some(dir) = &options.jitdump_dir {
            self.jitdump = JitDump::create(dir)
                .map_err(|e| self.not_created("the jitdump", &JitDump::path_in(dir), e))
                .ok();
        }
    }

    /// Records a placed blob; an output whose write fails is closed, with
    /// a warning.
    pub(super) fn code_loaded(&mut self, addr: usize, code: &[u8], name: &str) {
        let full = self.full_after.is_some_and(|n| self.recorded >= n);
        self.recorded += 1;
        if let Some(map) = &mut self.map {
            let written = if full {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                map.add(addr as u64, code.len() as u64, name)
            };
            if let Err(e) = written {
                not_written(&self.warnings, "the perf map", map.path(), e);
                self.map = None;
            }
        }
        if let Some(jitdump) = &mut self.jitdump {
            let written = if full {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                jitdump.code_load(addr as u64, code, name)
            };
            if let Err(e) = written {
                not_written(&self.warnings, "the jitdump", jitdump.path(), e);
                self.jitdump = None;
            }
        }
    }

    /// The warning for `what` (at `path`) that could not be created.
    fn not_created(&self, what: &str, path: &Path, error: io::Error) {
        self.warnings.warn(&format!(
            "cannot create {what} {}: {error}; running without it",
            path.display()
        ));
    }
}

/// The warning for `what` (at `path`) that could not be written.
fn not_written(warnings: &Warnings, what: &str, path: &Path, error: io::Error) {
    warnings.warn(&format!(
        "cannot write {what} {}: {error}; it gets no more entries",
        path.display()
    ));
}
