//! `tierjit cache ls|info|clear`: what the code cache holds.
//!
//! The directory is the one `tierjit run` uses: `--code-cache DIR`, else
//! `$TIERJIT_CODE_CACHE` (a directory, or `off`), else
//! `$XDG_CACHE_HOME/tierjit`, else `~/.cache/tierjit`.

use std::io::Write;
use std::path::{Path, PathBuf};

use tierjit::runtime::code_cache::{self, format};
use tierjit::runtime::VmOptions;

use super::EXIT_COMPILE_ERROR;

/// Options of `tierjit cache`.
#[derive(clap::Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Action,
    /// The cache directory (default: as for `tierjit run`).
    #[arg(long, global = true, value_name = "DIR")]
    code_cache: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// List the entries: program, size, code by tier, age, and whether this
    /// tierjit can use them.
    Ls,
    /// Show a program's entry: every function's code and the saved heat.
    Info {
        /// The program, a .tj file or module image.
        file: String,
    },
    /// Remove every entry.
    Clear,
}

/// The cache directory `tierjit run` uses without `--code-cache`: `None`
/// if `$TIERJIT_CODE_CACHE` is `off` or no directory is known.
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("TIERJIT_CODE_CACHE") {
        Some(v) if v == "off" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => code_cache::default_dir(),
    }
}

/// The name a program's entries are kept under: its canonical path.
pub fn program_name(file: &str) -> String {
    std::fs::canonicalize(file)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| file.to_string())
}

/// Runs `tierjit cache`; gives the exit status.
pub fn run(args: CacheArgs) -> i32 {
    let Some(dir) = args.code_cache.or_else(default_dir) else {
        let _ = writeln!(
            std::io::stderr(),
            "error: no code cache directory (TIERJIT_CODE_CACHE is off, or neither XDG_CACHE_HOME nor HOME is set)"
        );
        return EXIT_COMPILE_ERROR;
    };
    let result = match args.action {
        Action::Ls => ls(&dir),
        Action::Info { file } => info(&dir, &file),
        Action::Clear => clear(&dir),
    };
    match result {
        Ok(text) => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            0
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            EXIT_COMPILE_ERROR
        }
    }
}

/// The entries of `dir`, none if it does not exist.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    match code_cache::entries(dir) {
        Ok(files) => Ok(files),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

fn ls(dir: &Path) -> Result<String, String> {
    let files = entries(dir)?;
    let mut out = format!("{}: {} entries\n", dir.display(), files.len());
    if files.is_empty() {
        return Ok(out);
    }
    out.push_str("entry                 size      baseline  opt  written       program\n");
    let now = now_secs();
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        match format::summary(&bytes) {
            Ok(s) => {
                let stale = if s.key.build == code_cache::build_id() {
                    ""
                } else {
                    " (another tierjit build: unused)"
                };
                out.push_str(&format!(
                    "{name:<21} {:<9} {:>8} {:>4}  {:<12}  {}{stale}\n",
                    size(s.len),
                    s.blobs[0],
                    s.blobs[1],
                    age(now.saturating_sub(s.created)),
                    s.program
                ));
            }
            Err(why) => out.push_str(&format!(
                "{name:<21} {:<9} damaged: {why}\n",
                size(bytes.len() as u64)
            )),
        }
    }
    Ok(out)
}

fn info(dir: &Path, file: &str) -> Result<String, String> {
    let module = super::load(file).map_err(|_| format!("cannot compile {file}"))?;
    let options = VmOptions::default();
    let key = code_cache::key_for(&module, &options);
    let path = code_cache::entry_path(dir, &key);
    let mut out = format!(
        "program: {}\nentry:   {}\n",
        program_name(file),
        path.display()
    );
    let contents = match code_cache::check_file(&path, &module, &options) {
        Ok(Some(c)) => c,
        Ok(None) => {
            out.push_str("no entry: the next run is cold\n");
            return Ok(out);
        }
        Err(why) => {
            out.push_str(&format!("unusable ({why}): the next run is cold\n"));
            return Ok(out);
        }
    };
    let s = &contents.summary;
    out.push_str(&format!(
        "key:     module {:016x}, build {:016x}, cpu {:x}, flags {:016x}\n\
         size:    {} ({} of code, {} call stubs), written {} ago\n\n",
        s.key.module,
        s.key.build,
        s.key.cpu,
        s.key.flags,
        size(s.len),
        size(s.code.1),
        contents.stubs.len(),
        age(now_secs().saturating_sub(s.created)),
    ));
    let heat = |f| {
        contents
            .heat
            .funcs
            .iter()
            .find(|&&(g, _)| g == f)
            .map_or(0.0, |&(_, ns)| ns as f64 / 1e6)
    };
    out.push_str(
        "function                  tier      code  OSR entries  direct calls  heat (ms)\n",
    );
    let mut entries = contents.entries.clone();
    entries.sort_by(|a, b| heat(b.func).total_cmp(&heat(a.func)));
    for e in &entries {
        out.push_str(&format!(
            "{:<25} {:<8} {:>5}  {:>11}  {:>12}  {:>9.2}\n",
            module.func(e.func).name,
            e.tier.name(),
            e.code_size,
            e.osr.len(),
            e.sites.len(),
            heat(e.func)
        ));
    }
    if !contents.heat.loops.is_empty() {
        out.push_str("\nhot loops (function, header pc, heat in ms):\n");
        let mut loops = contents.heat.loops.clone();
        loops.sort_by_key(|l| std::cmp::Reverse(l.2));
        for (f, pc, ns) in loops.iter().take(10) {
            out.push_str(&format!(
                "  {} pc {pc}: {:.2}\n",
                module.func(*f).name,
                *ns as f64 / 1e6
            ));
        }
    }
    Ok(out)
}

fn clear(dir: &Path) -> Result<String, String> {
    let files = entries(dir)?;
    for path in &files {
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(format!(
        "{}: removed {} entries\n",
        dir.display(),
        files.len()
    ))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn size(bytes: u64) -> String {
    if bytes < 10 * 1024 {
        format!("{bytes} B")
    } else if bytes < 10 << 20 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

fn age(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}
