//! The persistent code cache: the compiled code of a run, saved so that
//! the next run of the same program starts with it installed.
//!
//! - **Saving.** [`Vm::save_code_cache`] writes the code installed for
//!   every function (baseline and optimized), with its OSR entries, call
//!   sites and the run's heat, into one file, `DIR/KEY.tjc`
//!   ([`format`]). The Vm saves at [`Vm::shutdown`], and in a long run
//!   also from the compiler thread, when it is idle, once the run has
//!   lasted [`SAVE_AFTER`] and at most once per [`SAVE_AFTER`] (so a
//!   server that is killed still leaves its code). A file is written only when the installed code
//!   changed since the last load or save; a temporary file renamed over
//!   it, so readers and concurrent writers never see half a file.
//! - **The key** ([`key_for`]) hashes the module's image, tierjit's build,
//!   the CPU features the code uses and the options that change code: a
//!   program that changed, or a tierjit that was rebuilt, finds no file
//!   under its key, runs cold and writes a new one (the entries of the same
//!   program under other keys are removed then).
//! - **Loading** ([`Vm::load_code_cache`], at [`Vm::new`] in automatic
//!   tiering) checks the whole file ([`format::check`]), maps its code
//!   section read-execute into code memory's reserved range
//!   ([`CodeMemory::map_file`](super::code_memory::CodeMemory::map_file)),
//!   with no copy, and installs each function's code in its method-table
//!   slot. Code needs no relocation: everything outside a blob is reached
//!   through the context register, and direct calls go to other blobs of
//!   the same file, relative, or to its call stubs, which call through
//!   the method table. A file that fails any check is reported in one
//!   line of warning and the run goes on cold.
//! - **Warm start.** Functions the saved heat says are hot but whose code
//!   the file lacks are queued for the compiler at once, hottest first.
//!
//! Needs: the cache directory to be the user's own (the checksum finds
//! damage, not forgery: a file that passes is run). Guarantees: code from
//! a file is never freed or patched while the Vm lives (its direct calls
//! may keep reaching it after its function's code is replaced, which is
//! still correct code for the same function).

pub mod format;

use super::{profile_tier, Installed, Vm, VmOptions};
use format::{Heat, Key, SavedCode};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tierjit_profiler::profile::TierEventKind;
use tierjit_tiers::bytecode::{FuncId, Module};

/// A run is long, and its compiler thread saves new code when idle, once
/// it has run this long; and then at most once per this time.
pub const SAVE_AFTER: Duration = Duration::from_secs(1);

/// Where a Vm keeps its code cache ([`VmOptions::code_cache`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeCacheOptions {
    /// The cache directory; created when first written.
    pub dir: PathBuf,
    /// The program's name, as `tierjit cache ls` shows it. Writing an
    /// entry removes the entries of the same program under other keys.
    pub program: String,
}

/// `$XDG_CACHE_HOME/tierjit`, else `$HOME/.cache/tierjit` (`None` if
/// neither variable is set).
pub fn default_dir() -> Option<PathBuf> {
    let non_empty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
    non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("tierjit"))
}

/// This build of tierjit (`build.rs`).
pub fn build_id() -> u64 {
    u64::from_str_radix(env!("TIERJIT_BUILD_ID"), 16).unwrap_or(0)
}

/// The key of `module`'s cache entry when run with `options`.
pub fn key_for(module: &Module, options: &VmOptions) -> Key {
    let image = tierjit_tiers::bytecode::image::write(module);
    let flags = format!(
        "passes={:?} slot_calls={}",
        options.opt_passes, options.slot_calls
    );
    Key {
        module: format::checksum_words(&image, None),
        build: build_id(),
        cpu: format::CPU_FEATURES,
        flags: format::checksum_words(flags.as_bytes(), None),
    }
}

/// The file of the entry for `key` in `dir`.
pub fn entry_path(dir: &Path, key: &Key) -> PathBuf {
    dir.join(format!("{:016x}.tjc", key.combined()))
}

/// The cache files in `dir` (`*.tjc`), sorted by name.
pub fn entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "tjc") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The code installed, as (function, code address) of each blob: equal
/// stamps mean nothing new to save.
type Stamp = Vec<(FuncId, usize)>;

/// What a Vm with a code cache keeps.
pub(super) struct CacheState {
    /// Whether the Vm starts with the file's code (automatic tiering) or
    /// only saves its own (eager modes: their next automatic run starts
    /// with the code they compiled).
    loads: bool,
    options: CodeCacheOptions,
    key: Key,
    path: PathBuf,
    /// The code saved or loaded last, as (function, code address), and
    /// when it was saved.
    written: Mutex<(Stamp, Option<Instant>)>,
    /// The heat the loaded file had.
    heat: Mutex<Heat>,
    /// What loading took: functions installed, bytes of the file, and
    /// the time from opening the file to the last install.
    loaded: Mutex<Option<LoadStats>>,
    /// A save failed (and was reported): the compiler thread tries no
    /// more, and the save at exit reports nothing new.
    write_failed: std::sync::atomic::AtomicBool,
    /// Functions the file had in baseline code, queued for the optimizer
    /// at start ([`Vm::queue_warm_start`]): compiled without the profile.
    promoted: Mutex<Vec<FuncId>>,
}

/// What loading a cache file took ([`Vm::code_cache_loaded`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadStats {
    /// Functions whose code was installed from the file.
    pub funcs: usize,
    /// Bytes of the file.
    pub bytes: u64,
    /// Nanoseconds from opening the file to the last install.
    pub ns: u64,
}

impl CacheState {
    /// The cache of a Vm running `module` with `options`, if it has one:
    /// every mode but stress saves code, and automatic tiering loads it.
    pub(super) fn new(module: &Module, options: &VmOptions) -> Option<CacheState> {
        let cache = options.code_cache.clone()?;
        if options.jit_stress {
            return None;
        }
        let key = key_for(module, options);
        Some(CacheState {
            loads: options.tier == super::TierMode::Auto,
            path: entry_path(&cache.dir, &key),
            options: cache,
            key,
            written: Mutex::new((Vec::new(), None)),
            heat: Mutex::new(Heat::default()),
            loaded: Mutex::new(None),
            write_failed: Default::default(),
            promoted: Mutex::new(Vec::new()),
        })
    }
}

/// The file at `path`, checked for `key` and `module`: `Ok(None)` if
/// there is none.
fn open_checked(
    path: &Path,
    key: &Key,
    module: &Module,
) -> Result<Option<(std::fs::File, format::Contents)>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mapped = crate::image::MappedFile::map(&file)
        .map_err(|e| e.to_string())?
        .ok_or("the file is empty")?;
    use tierjit_tiers::bytecode::table::ImageBytes;
    let contents = format::check(mapped.bytes(), key, module)?;
    Ok(Some((file, contents)))
}

/// Checks the cache file at `path` against `module` run with `options`,
/// as a Vm does before it loads one; gives what it holds.
pub fn check_file(
    path: &Path,
    module: &Module,
    options: &VmOptions,
) -> Result<Option<format::Contents>, String> {
    Ok(open_checked(path, &key_for(module, options), module)?.map(|(_, c)| c))
}

impl Vm {
    /// Installs the code of this program's cache file, if there is a good
    /// one; a bad one is a warning and a cold run.
    pub(super) fn load_code_cache(&self) {
        let Some(cache) = self.code_cache.as_ref().filter(|c| c.loads) else {
            return;
        };
        let begun = Instant::now();
        let loaded = open_checked(&cache.path, &cache.key, &self.module).and_then(|found| {
            found
                .map(|(file, c)| self.install_file(&file, &c).map(|()| c))
                .transpose()
        });
        match loaded {
            Ok(Some(contents)) => {
                // What was hot has its code: until something turns hot
                // (or the warm start queues what the file lacks), the
                // sampler may run slow.
                if let Some(t) = self
                    .tiering
                    .as_ref()
                    .filter(|_| !contents.entries.is_empty())
                {
                    t.quiet_since_start();
                }
                *cache.loaded.lock() = Some(LoadStats {
                    funcs: contents.entries.len(),
                    bytes: contents.summary.len,
                    ns: begun.elapsed().as_nanos() as u64,
                });
                *cache.heat.lock() = contents.heat;
            }
            Ok(None) => {}
            Err(why) => self.options.warnings.warn(&format!(
                "code cache {}: {why}; running cold",
                cache.path.display()
            )),
        }
    }

    /// Maps the code section of a checked file and installs its code.
    fn install_file(
        &self,
        file: &std::fs::File,
        contents: &format::Contents,
    ) -> Result<(), String> {
        let (code_at, code_len) = contents.summary.code;
        let mapped = self
            .code
            .lock()
            .map_file(file, code_at, code_len as usize)
            .map_err(|e| e.to_string())?;
        // Every blob is in the code map before any is installed, and none
        // is if one cannot be: a failure leaves a cold run.
        let mut blobs = Vec::new();
        {
            let code = self.code.lock();
            let stubs = contents.stubs.iter().map(|&(f, at, len)| (f, at, len));
            let entries = contents
                .entries
                .iter()
                .map(|e| (e.func, e.blob_at, e.blob_len));
            for (func, at, len) in stubs.chain(entries) {
                let blob = code
                    .blob_in_file(&mapped, at, len)
                    .ok_or_else(|| format!("no blob at {at}"))?;
                blobs.push((func, blob));
            }
        }
        for (i, (func, blob)) in blobs.iter().enumerate() {
            if let Err(e) = self.code_map.insert(blob, *func) {
                let inserted: Vec<usize> = blobs[..i].iter().map(|(_, b)| b.code_rx).collect();
                self.code_map.remove_all(&inserted);
                return Err(e);
            }
        }
        let mut stamp = Vec::new();
        for (e, &(_, blob)) in contents.entries.iter().zip(&blobs[contents.stubs.len()..]) {
            let name = format!("tj:{} [{}]", self.module.func(e.func).name, e.tier);
            let code = self.code.lock().code(&blob).to_vec();
            self.perf.lock().code_loaded(blob.code_rx, &code, &name);
            self.install_code(
                e.func,
                Installed {
                    blob,
                    osr: e.osr.clone(),
                    sites: Some(e.sites.clone()),
                },
            );
            if let Some(t) = &self.tiering {
                t.mark_compiled(e.func, e.tier);
            }
            self.event(
                e.func,
                TierEventKind::CacheLoad {
                    tier: profile_tier(e.tier),
                },
            );
            stamp.push((e.func, blob.code_rx));
        }
        if let Some(cache) = &self.code_cache {
            cache.written.lock().0 = stamp;
        }
        Ok(())
    }

    /// Adds to `heat` the time below each call site that the loaded cache
    /// file saved, where the live profile has none for it yet: a function
    /// this run compiles before its callees were sampled much is inlined
    /// as the last run's profile says.
    pub(super) fn add_saved_call_heat(&self, heat: &mut HashMap<(FuncId, u32), u64>) {
        let Some(cache) = &self.code_cache else {
            return;
        };
        for &(func, pc, ns) in &cache.heat.lock().calls {
            heat.entry((func, pc)).or_insert(ns);
        }
    }

    /// What loading this program's cache file took, if code was loaded
    /// from one.
    pub fn code_cache_loaded(&self) -> Option<LoadStats> {
        *self.code_cache.as_ref()?.loaded.lock()
    }

    /// Queues for the compiler, hottest first, the functions the loaded
    /// file's heat says are hot and whose code it lacks (the tier policy's
    /// thresholds, applied to the saved heat).
    pub(super) fn queue_warm_start(&self) {
        let (Some(cache), Some(tiering)) = (&self.code_cache, &self.tiering) else {
            return;
        };
        let mut hot: Vec<(FuncId, f64)> = cache
            .heat
            .lock()
            .funcs
            .iter()
            .map(|&(f, ns)| (f, ns as f64))
            .collect();
        hot.sort_by(|a, b| b.1.total_cmp(&a.1));
        tiering.policy_tick(&hot);
        // Baseline code in the file was warm code last time, and may have
        // been hot in a run that ended before its optimizing compile (a
        // run whose hot code is all in the cache samples slowly, and a
        // short one might never get it optimized): optimized now, as eager
        // `--tier opt` compiles it, it is there from the next run on.
        let mut promoted = cache.promoted.lock();
        for i in 0..self.module.funcs.len() {
            let func = FuncId(i as u32);
            if tiering.tier_of(func) == tierjit_tiers::code::Tier::Baseline
                && !tiering.queued_for_opt(func)
            {
                promoted.push(func);
                tiering.queue_optimization(func);
            }
        }
    }

    /// True if `func` is compiled as eager `--tier opt` compiles it,
    /// without the profile: baseline code from the cache file that the warm
    /// start queued for the optimizer. Inlining by the call heat of this
    /// run's first milliseconds made such code slower than eager code
    /// (`matmul`'s `main` inlined `matmul`, and regalloc2 reloaded a
    /// spilled array base inside the inlined inner loop: 74 ms against 63).
    pub(super) fn compiles_without_profile(&self, func: FuncId) -> bool {
        self.code_cache
            .as_ref()
            .is_some_and(|c| c.promoted.lock().contains(&func))
    }

    /// Writes the installed code and the run's heat to this program's
    /// cache file, unless the code is what was loaded or saved last (or
    /// there is none, or no cache). Gives the file written.
    pub fn save_code_cache(&self) -> Result<Option<PathBuf>, String> {
        let Some(cache) = &self.code_cache else {
            return Ok(None);
        };
        let mut written = cache.written.lock();
        if self.installed_stamp() == written.0 {
            return Ok(None);
        }
        let (code, stamp) = self.installed_code();
        if code.is_empty() {
            return Ok(None);
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let bytes = format::write(
            &cache.key,
            &cache.options.program,
            self.module.funcs.len() as u32,
            &code,
            &self.heat_now(),
            created,
        );
        let dir = &cache.options.dir;
        std::fs::create_dir_all(dir)
            .and_then(|()| crate::image::write_atomically(&cache.path, &bytes, false))
            .map_err(|e| format!("{}: {e}", cache.path.display()))?;
        *written = (stamp, Some(Instant::now()));
        drop(written);
        remove_stale(dir, &cache.path, &cache.options.program);
        Ok(Some(cache.path.clone()))
    }

    /// [`Vm::save_code_cache`] from the compiler thread when it is idle:
    /// only in a run that has lasted [`SAVE_AFTER`], at most once per
    /// [`SAVE_AFTER`]; a failure is a warning.
    pub(super) fn save_code_cache_if_due(&self) {
        let Some(cache) = &self.code_cache else {
            return;
        };
        if cache
            .write_failed
            .load(std::sync::atomic::Ordering::Relaxed)
            || self.started.elapsed() < SAVE_AFTER
            || cache
                .written
                .lock()
                .1
                .is_some_and(|t| t.elapsed() < SAVE_AFTER)
        {
            return;
        }
        self.save_code_cache_or_warn();
    }

    /// [`Vm::save_code_cache`], a failure reported as a warning (once per
    /// Vm).
    pub(super) fn save_code_cache_or_warn(&self) {
        let Err(why) = self.save_code_cache() else {
            return;
        };
        let failed = self.code_cache.as_ref().map(|c| &c.write_failed);
        if !failed.is_some_and(|f| f.swap(true, std::sync::atomic::Ordering::Relaxed)) {
            self.options
                .warnings
                .warn(&format!("code cache: cannot write {why}"));
        }
    }

    /// The [`Stamp`] of the code installed now that a cache file can hold.
    fn installed_stamp(&self) -> Stamp {
        let installed = self.installed.lock();
        let cacheable = |(i, slot): (usize, &Option<Installed>)| {
            let code = slot.as_ref().filter(|c| c.sites.is_some())?;
            Some((FuncId(i as u32), code.blob.code_rx))
        };
        installed.iter().enumerate().filter_map(cacheable).collect()
    }

    /// The code installed for each function that a cache file can hold
    /// (its call sites known), and (function, code address) of each.
    fn installed_code(&self) -> (Vec<SavedCode>, Stamp) {
        let installed = self.installed.lock();
        let memory = self.code.lock();
        let mut code = Vec::new();
        let mut stamp = Vec::new();
        for (i, slot) in installed.iter().enumerate() {
            let Some(Installed {
                blob,
                osr,
                sites: Some(sites),
            }) = slot
            else {
                continue;
            };
            let func = FuncId(i as u32);
            code.push(SavedCode {
                func,
                blob: memory.blob_bytes(blob).to_vec(),
                osr: osr.clone(),
                sites: sites.clone(),
            });
            stamp.push((func, blob.code_rx));
        }
        (code, stamp)
    }

    /// The profile's heat now: per function, loop and call site.
    fn heat_now(&self) -> Heat {
        let Some(p) = &self.profiling else {
            return Heat::default();
        };
        let mut calls: Vec<(FuncId, u32, u64)> = p
            .call_heat()
            .into_iter()
            .map(|((f, pc), ns)| (f, pc, ns))
            .collect();
        calls.sort_unstable();
        Heat {
            funcs: p
                .hot_functions(0.0)
                .into_iter()
                .map(|(f, ns)| (f, ns as u64))
                .collect(),
            loops: p
                .hot_loops(0.0)
                .into_iter()
                .map(|(l, ns)| (FuncId(l.func), l.header, ns as u64))
                .collect(),
            calls,
        }
    }
}

/// Removes the entries of `program` in `dir` other than `keep`: written
/// under an older key, they can never be used again. Entries that cannot
/// be read are left alone.
fn remove_stale(dir: &Path, keep: &Path, program: &str) {
    let Ok(files) = entries(dir) else {
        return;
    };
    for path in files.iter().filter(|p| p.as_path() != keep) {
        let same_program = std::fs::File::open(path)
            .ok()
            .and_then(|mut f| format::program_name(&mut f))
            .is_some_and(|name| name == program);
        if same_program {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests;
