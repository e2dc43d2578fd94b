//! The `tierjit` command: argument parsing and the exit-status policy.
//!
//! Exit statuses: the program's own (`main`'s int result & 255, else 0);
//! 1 for compile errors and unreadable files; 2 for runtime errors; 64 for
//! a command line tierjit does not understand.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::{Read, Write};

use tierjit::lang::{self, diag::MAX_DIAGNOSTICS};
use tierjit::runtime::code_cache::CodeCacheOptions;
use tierjit::runtime::tiering::TierPolicy;
use tierjit::runtime::warnings::print_to_stderr as print_warning;
use tierjit::runtime::{TierMode, Vm, VmError, VmOptions};
use tierjit::tiers::bytecode::{HostImport, Module};
use tierjit_profiler::sampler::Engine;

mod cache;
mod dump;
mod fuzz;
mod report;
mod signals;

/// Exit status for compile errors and unreadable input.
const EXIT_COMPILE_ERROR: i32 = 1;
/// Exit status for runtime errors.
const EXIT_RUNTIME_ERROR: i32 = 2;
/// Exit status for a bad command line (BSD `EX_USAGE`).
const EXIT_USAGE: i32 = 64;
/// Exit status of a run that succeeded but whose output could not all be
/// written (a full disk).
const EXIT_OUTPUT_LOST: i32 = 1;

/// `--tier-stats` says when the functions that took this share of the
/// sampled CPU time were first seen running optimized code.
const HOT_SHARE: f64 = 0.9;

/// tierjit runs programs written in tj, a small statically typed language,
/// on a tiered JIT: every function starts in the interpreter (tier 0).
#[derive(Parser, Debug)]
#[command(name = "tierjit", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  tierjit run examples/fib.tj 30\n  tierjit check prog.tj\n  tierjit dump prog.tj\n  tierjit dump --ssa --after all --fn fib examples/fib.tj\n  tierjit disasm examples/fib.tj --fn fib\n\nExit status: the program's (main's int result & 255), 1 for compile errors, 2 for runtime errors, 64 for a bad command line."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile and run a tj program; arguments after FILE go to the program.
    Run {
        /// Which tier runs the code: `auto` starts every function in the
        /// interpreter and compiles what the sampling profiler finds hot.
        #[arg(long, value_enum, default_value_t = Tier::Auto)]
        tier: Tier,
        /// Flip functions between tiers every few milliseconds while the
        /// program runs (compile, install, retire), to test tier changes.
        #[arg(long)]
        jit_stress: bool,
        /// With --jit-stress, microseconds between two flips.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=10_000_000))]
        jit_stress_period_us: u64,
        /// Tiering thresholds in milliseconds of decayed CPU time:
        /// `BASELINE,OPT,OPT_DIRECT` (interp -> baseline, baseline -> opt,
        /// interp -> opt), and optionally `,BEHIND`, the milliseconds after
        /// which activations left behind enter optimized code at inner
        /// loops. For measuring the policy (docs/tiering.md).
        #[arg(long, hide = true, value_parser = parse_thresholds)]
        tier_thresholds: Option<(f64, f64, f64, Option<f64>)>,
        /// Print each tier event (compile, install, retire) to stderr.
        #[arg(long)]
        trace_tiers: bool,
        /// At exit, print tiering statistics to stderr (compiles, tier-up
        /// latency percentiles, retired and freed code).
        #[arg(long)]
        tier_stats: bool,
        /// Which functions `--tier mixed` compiles.
        #[arg(long, default_value_t = 1)]
        mixed_seed: u64,
        /// At exit, print the time the optimizer spent in each stage.
        #[arg(long)]
        time_passes: bool,
        /// Verify the optimizer's IR after every pass and check each
        /// register allocation with regalloc2's checker (slow; for tests).
        #[arg(long)]
        opt_check: bool,
        /// Run only these optimizer passes (comma separated; `none` for
        /// none), to find which one miscompiles a program.
        #[arg(long, value_delimiter = ',', value_name = "PASS,...")]
        opt_passes: Option<Vec<String>>,
        /// Test mode (with --tier interp or baseline): every interpreted
        /// activation moves, at its first backward branch, and every
        /// baseline activation, at its first loop header, into optimized
        /// code compiled for entry at that loop header, and finishes there.
        #[arg(long, hide = true)]
        osr_opt: bool,
        /// Optimized code calls other functions through their
        /// method-table slots rather than directly (for measuring the two;
        /// docs/tiering.md).
        #[arg(long, hide = true)]
        slot_calls: bool,
        /// Make a step fail on purpose, for tests: KIND[:N] fails every
        /// attempt after the first N (src/runtime/faults.rs).
        #[arg(long, hide = true, value_name = "KIND[:N]", value_parser = parse_fault)]
        inject_fault: Vec<String>,
        /// Define the host functions random programs call
        /// (`tierjit::fuzz::host`), for fuzzing.
        #[arg(long, hide = true)]
        test_host_functions: bool,
        /// Most generated code (with its tables) in use at once, in bytes,
        /// or with a K, M or G suffix; a compile that would pass it fails,
        /// and its function stays in the tier it is in.
        #[arg(long, value_name = "BYTES", value_parser = parse_size)]
        code_memory_limit: Option<usize>,
        /// Keep compiled code between runs in this directory (default:
        /// $TIERJIT_CODE_CACHE, else $XDG_CACHE_HOME/tierjit, else
        /// ~/.cache/tierjit); used in automatic tiering.
        #[arg(long, value_name = "DIR")]
        code_cache: Option<std::path::PathBuf>,
        /// Neither load nor save compiled code (a cold run).
        #[arg(long, conflicts_with = "code_cache")]
        no_code_cache: bool,
        /// Sample every thread while it runs and write the profile here
        /// (read it with `tierjit report`).
        #[arg(long, value_name = "OUT.tjprof")]
        profile: Option<String>,
        /// Write /tmp/perf-PID.map naming generated code for `perf`.
        #[arg(long)]
        perf_map: bool,
        /// Write a jitdump file (jit-PID.dump) for `perf inject --jit`
        /// (see the README for the recipe).
        #[arg(long)]
        jitdump: bool,
        /// Where --jitdump writes its file.
        #[arg(long, value_name = "DIR", default_value = ".")]
        jitdump_dir: std::path::PathBuf,
        /// Samples per second of CPU time per thread, with --profile (or
        /// fewer: sampling keeps under 10% of a thread's time, and the
        /// profile says where it capped the rate).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        profile_hz: u32,
        /// Who interrupts the sampled threads: one sampler thread that
        /// signals each thread that used CPU time (cheaper per sample), or
        /// a timer per thread.
        #[arg(long, value_enum, default_value_t = ProfileEngine::SamplerThread)]
        profile_engine: ProfileEngine,
        /// Most memory the program's arrays may take, in bytes or with a
        /// K, M or G suffix (powers of 1024); past it an allocation is the
        /// runtime error `out of memory`. Default: 3/4 of physical memory.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        heap_limit: Option<usize>,
        /// The program, a .tj file.
        file: String,
        /// Arguments for the program (read with `arg(i)` and `argc()`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Compile a program into a module image that `tierjit run` maps and
    /// runs in place, with no parsing.
    Build {
        /// The program, a .tj file.
        file: String,
        /// Where to write the image.
        #[arg(short = 'o', value_name = "OUT.tjm")]
        out: String,
    },
    /// Compile a program and report errors, without running it.
    Check {
        /// The program, a .tj file.
        file: String,
    },
    /// Print a program's bytecode in text form, or with --ssa the
    /// optimizer's IR as built or after a pass.
    Dump(dump::DumpArgs),
    /// Print each function's baseline machine code under the bytecode
    /// instruction and source line it came from.
    Disasm {
        /// The program, a .tj file.
        file: String,
        /// Only this function.
        #[arg(long = "fn", value_name = "NAME")]
        func: Option<String>,
        /// Whose code: the baseline compiler's or the optimizer's.
        #[arg(long, value_enum, default_value_t = CodeTier::Baseline)]
        tier: CodeTier,
    },
    /// Generate random programs and check that the tiers agree on each;
    /// save a minimized copy of each program on which they do not.
    Fuzz(fuzz::FuzzArgs),
    /// List, inspect or clear the code cache.
    Cache(cache::CacheArgs),
    /// Print a report of a profile (.tjprof): hot functions and lines by
    /// tier, the tier timeline, compile times and sampler health.
    Report(report::ReportArgs),
}

/// An execution tier.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    /// Start in the interpreter, compile hot functions in the background.
    Auto,
    /// Tier 0: interpret every function.
    Interp,
    /// Tier 1: compile every function with the baseline compiler first.
    Baseline,
    /// Tier 2: compile every function with the optimizing compiler first.
    Opt,
    /// Start each function in a pseudo-random tier (see --mixed-seed):
    /// interpreted, baseline or optimized; for testing calls across tiers.
    Mixed,
}

/// A compiler whose code `disasm` shows.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CodeTier {
    /// Tier 1.
    Baseline,
    /// Tier 2.
    Opt,
}

/// Who sends the sampling signals.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ProfileEngine {
    /// One `tj-sampler` thread sends SIGPROF to each thread that ran.
    SamplerThread,
    /// Each thread has its own high-resolution timer.
    ThreadTimers,
}

/// Runs the command; gives the process exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_USAGE,
            };
        }
    };
    signals::ignore_file_size_limit();
    match cli.command {
        Command::Run {
            tier,
            jit_stress,
            jit_stress_period_us,
            tier_thresholds,
            trace_tiers,
            tier_stats,
            mixed_seed,
            time_passes,
            opt_check,
            opt_passes,
            osr_opt,
            slot_calls,
            inject_fault,
            test_host_functions,
            code_memory_limit,
            code_cache,
            no_code_cache,
            profile,
            profile_hz,
            profile_engine,
            heap_limit,
            perf_map,
            jitdump,
            jitdump_dir,
            file,
            args,
        } => {
            let tier = match tier {
                Tier::Auto => TierMode::Auto,
                Tier::Interp => TierMode::Interp,
                Tier::Baseline => TierMode::Baseline,
                Tier::Opt => TierMode::Opt,
                Tier::Mixed => TierMode::Mixed(mixed_seed),
            };
            let options = VmOptions {
                args,
                tier,
                profile_hz: profile.as_ref().map(|_| profile_hz),
                profile_engine: match profile_engine {
                    ProfileEngine::SamplerThread => Engine::SamplerThread,
                    ProfileEngine::ThreadTimers => Engine::ThreadTimers,
                },
                heap_limit: heap_limit.unwrap_or_else(tierjit::tiers::heap::Heap::default_limit),
                perf_map,
                jitdump_dir: jitdump.then_some(jitdump_dir),
                jit_stress,
                trace_tiers,
                time_passes,
                opt_check,
                opt_passes,
                osr_every_loop: osr_opt,
                slot_calls,
                code_memory_limit,
                code_cache: (!no_code_cache)
                    .then(|| code_cache.or_else(cache::default_dir))
                    .flatten()
                    .map(|dir| CodeCacheOptions {
                        dir,
                        program: cache::program_name(&file),
                    }),
                faults: {
                    let mut faults = tierjit::runtime::faults::Faults::default();
                    for spec in &inject_fault {
                        faults.add(spec).expect("checked by parse_fault");
                    }
                    faults
                },
                policy: {
                    let mut policy = TierPolicy {
                        stress_period: std::time::Duration::from_micros(jit_stress_period_us),
                        ..TierPolicy::default()
                    };
                    if let Some((baseline, opt, direct, behind)) = tier_thresholds {
                        policy.baseline_threshold_ns = baseline * 1e6;
                        policy.opt_threshold_ns = opt * 1e6;
                        policy.opt_direct_threshold_ns = direct * 1e6;
                        if let Some(ms) = behind {
                            policy.behind = std::time::Duration::from_secs_f64(ms / 1e3);
                        }
                    }
                    policy
                },
                host_functions: if test_host_functions {
                    tierjit::fuzz::host::test_functions()
                } else {
                    Default::default()
                },
                ..VmOptions::default()
            };
            // Before any thread exists (signals.rs).
            signals::watch();
            run(&file, options, profile.as_deref(), tier_stats)
        }
        Command::Build { file, out } => build(&file, &out),
        Command::Check { file } => match load(&file) {
            Ok(_) => 0,
            Err(status) => status,
        },
        Command::Dump(args) => dump::run(args),
        Command::Disasm { file, func, tier } => {
            let tier = match tier {
                CodeTier::Baseline => tierjit::tiers::code::Tier::Baseline,
                CodeTier::Opt => tierjit::tiers::code::Tier::Opt,
            };
            disasm(&file, func.as_deref(), tier)
        }
        Command::Fuzz(args) => fuzz::run(args),
        Command::Report(args) => report::run(args),
        Command::Cache(args) => cache::run(args),
    }
}

/// Reads and compiles `path`, printing any errors; gives the exit status
/// on failure.
fn load(path: &str) -> Result<Module, i32> {
    load_with_source(path).map(|(module, _)| module)
}

/// `tierjit build`: compiles `path` and writes its image to `out`.
fn build(path: &str, out: &str) -> i32 {
    let module = match load(path) {
        Ok(module) => module,
        Err(status) => return status,
    };
    match tierjit::image::write_file(&module, out) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write {out}: {e}");
            EXIT_COMPILE_ERROR
        }
    }
}

/// [`load`], also giving the source text (none for a module image, which
/// `path` may also be: it is mapped and runs in place).
fn load_with_source(path: &str) -> Result<(Module, Vec<u8>), i32> {
    load_with_imports(path, &[])
}

/// [`load_with_source`] where calls may name the host functions `imports`.
fn load_with_imports(path: &str, imports: &[HostImport]) -> Result<(Module, Vec<u8>), i32> {
    let cannot_read = |e: std::io::Error| {
        let _ = writeln!(std::io::stderr(), "error: cannot read {path}: {e}");
        EXIT_COMPILE_ERROR
    };
    // Only the first bytes: an image is mapped, not read.
    let mut start = Vec::with_capacity(8);
    std::fs::File::open(path)
        .and_then(|f| f.take(8).read_to_end(&mut start))
        .map_err(cannot_read)?;
    if tierjit::image::is_image(&start) {
        return match tierjit::image::load_file(path) {
            Ok(module) => Ok((module, Vec::new())),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: {path}: {e}");
                Err(EXIT_COMPILE_ERROR)
            }
        };
    }
    let source = std::fs::read(path).map_err(cannot_read)?;
    let module = lang::compile_with_imports(&source, imports).map_err(|errors| {
        let mut stderr = std::io::stderr().lock();
        for e in errors.iter().take(MAX_DIAGNOSTICS) {
            let _ = writeln!(stderr, "{}", e.render(path));
        }
        if errors.len() > MAX_DIAGNOSTICS {
            let _ = writeln!(stderr, "{path}: error: too many errors; stopping");
        }
        EXIT_COMPILE_ERROR
    })?;
    Ok((module, source))
}

/// `tierjit disasm`: lists every function, or only `only`, of `path`.
fn disasm(path: &str, only: Option<&str>, tier: tierjit::tiers::code::Tier) -> i32 {
    let (module, source) = match load_with_source(path) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let source = String::from_utf8_lossy(&source);
    let listing = match only {
        None => tierjit::disasm::module_listing(&module, &source, tier),
        Some(name) => match module.find(name) {
            Some(func) => tierjit::disasm::function_listing(&module, func, &source, tier),
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: {path} has no function named `{name}`"
                );
                return EXIT_COMPILE_ERROR;
            }
        },
    };
    match listing {
        Ok(text) => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            0
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "internal error: {e}");
            EXIT_COMPILE_ERROR
        }
    }
}

fn run(path: &str, options: VmOptions, profile_path: Option<&str>, tier_stats: bool) -> i32 {
    let module = match load_with_imports(path, &options.host_functions.imports()) {
        Ok((m, _)) => m,
        Err(status) => return status,
    };
    let started = std::time::Instant::now();
    let vm = match Vm::new(module, options) {
        Ok(vm) => vm,
        Err(VmError::Link(e)) => {
            let _ = writeln!(std::io::stderr(), "error: {path}: {e}");
            return EXIT_COMPILE_ERROR;
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "internal error: {e}");
            return EXIT_COMPILE_ERROR;
        }
    };
    signals::stop_target(&vm);
    let result = vm.run_main();
    vm.flush_output();
    let (retired, freed) = vm.shutdown();
    let run_time = started.elapsed();
    print_pass_times(&vm);
    if tier_stats {
        print_tier_stats(&vm, retired, freed, run_time);
    }
    if let (Some(out), Some(profile)) = (profile_path, vm.finish_profile(path)) {
        write_profile(out, &profile);
    }
    // Stopped by a signal: the status shells expect, and no backtrace of
    // the stop.
    if let Some(signal) = signals::received() {
        return 128 + signal;
    }
    // Stopped because stdout's reader went away: as SIGPIPE would.
    if vm.output_pipe_closed() {
        return 128 + libc::SIGPIPE;
    }
    let status = match result {
        Ok(value) => value.map_or(0, |v| (v & 255) as i32),
        Err(error) => {
            let text = tierjit::backtrace::render(&error, vm.module(), path);
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
            EXIT_RUNTIME_ERROR
        }
    };
    // Output cut off (a full disk): said, and not a success.
    match vm.output_write_error() {
        Some(e) => {
            print_warning(&format!(
                "cannot write the program's output: {e}; the rest of it was lost"
            ));
            if status == 0 {
                EXIT_OUTPUT_LOST
            } else {
                status
            }
        }
        None => status,
    }
}

/// Checks one `--inject-fault` value.
fn parse_fault(spec: &str) -> Result<String, String> {
    tierjit::runtime::faults::Faults::default().add(spec)?;
    Ok(spec.to_string())
}

/// Writes the profile of a run; a failure (a missing or read-only
/// directory, a full disk) is a warning and does not change the program's
/// exit status.
fn write_profile(out: &str, profile: &tierjit_profiler::profile::Profile) {
    let written = std::fs::File::create(out).and_then(|file| {
        let mut file = std::io::BufWriter::new(file);
        tierjit_profiler::format::write(profile, &mut file)?;
        file.flush()
    });
    match written {
        Ok(()) => {
            let stats = &profile.stats;
            let cap = match stats.cap_summary() {
                Some(cap) if stats.capped() => format!(" ({cap})"),
                _ => String::new(),
            };
            let _ = writeln!(
                std::io::stderr(),
                "tierjit: profile written to {out}: {} samples, {:.0} Hz achieved of {} Hz asked{cap}, {} dropped",
                stats.samples,
                stats.achieved_hz(),
                stats.requested_hz,
                stats.dropped
            );
        }
        Err(e) => print_warning(&format!("cannot write the profile {out}: {e}")),
    }
}

/// `--tier-stats`: what tiering did, on stderr.
/// `--time-passes`: one line per optimizer stage (nothing if no function
/// was optimized).
fn print_pass_times(vm: &Vm) {
    let times = vm.pass_times();
    let total: f64 = times.stages.iter().map(|s| s.1.as_secs_f64()).sum();
    if times.stages.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "tierjit: optimizer time by stage (all functions):");
    for (name, time, n) in &times.stages {
        let secs = time.as_secs_f64();
        let _ = writeln!(
            err,
            "  {name:<10} {:>10.3} ms  {:>5.1}%  ({n} runs)",
            secs * 1e3,
            100.0 * secs / total.max(1e-12)
        );
    }
    let _ = writeln!(err, "  {:<10} {:>10.3} ms", "total", total * 1e3);
}

fn print_tier_stats(vm: &Vm, retired: u64, freed: u64, run_time: std::time::Duration) {
    let mut stderr = std::io::stderr().lock();
    match vm.tier_up_latency(None) {
        Some((p50, p99, n)) => {
            let _ = writeln!(
                stderr,
                "tierjit: {n} tier-ups; hot-detection to installed code p50 {:.1} us, p99 {:.1} us",
                p50 as f64 / 1e3,
                p99 as f64 / 1e3
            );
            for tier in [
                tierjit_tiers::code::Tier::Baseline,
                tierjit_tiers::code::Tier::Opt,
            ] {
                if let Some((p50, p99, n)) = vm.tier_up_latency(Some(tier)).filter(|l| l.2 > 0) {
                    let _ = writeln!(
                        stderr,
                        "tierjit:   to {tier}: {n}, latency p50 {:.1} us, p99 {:.1} us",
                        p50 as f64 / 1e3,
                        p99 as f64 / 1e3
                    );
                }
            }
        }
        None => {
            let _ = writeln!(stderr, "tierjit: no automatic tiering in this mode");
        }
    }
    if let Some((n, first, last)) = vm.first_optimized() {
        let _ = writeln!(
            stderr,
            "tierjit: {n} functions optimized, the first at {:.1} ms, the last at {:.1} ms",
            first as f64 / 1e6,
            last as f64 / 1e6
        );
    }
    if let Some((n, at)) = vm.hot_code_optimized(HOT_SHARE) {
        let _ = writeln!(
            stderr,
            "tierjit: hot code optimized by {:.1} ms ({n} functions, {:.0}% of the sampled CPU time)",
            at as f64 / 1e6,
            HOT_SHARE * 100.0
        );
    }
    if let Some(load) = vm.code_cache_loaded() {
        let _ = writeln!(
            stderr,
            "tierjit: code cache: {} functions loaded from {} bytes in {:.3} ms",
            load.funcs,
            load.bytes,
            load.ns as f64 / 1e6
        );
    }
    let _ = writeln!(
        stderr,
        "tierjit: {} on-stack replacements ({} optimized OSR blobs)",
        vm.osr_count(),
        vm.osr_blobs()
    );
    let run_secs = run_time.as_secs_f64();
    let _ = writeln!(
        stderr,
        "tierjit: {retired} blobs retired, {freed} freed ({:.0} retired per second of run)",
        retired as f64 / run_secs.max(1e-9)
    );
    let _ = writeln!(
        stderr,
        "tierjit: {} call sites repatched",
        vm.call_sites_repatched()
    );
    if let Some(stats) = vm.sampling_caps() {
        let _ = writeln!(
            stderr,
            "tierjit: sampling {:.0} Hz achieved of {} Hz asked per thread; {}; sampler thread {:.3} ms CPU time",
            stats.achieved_hz(),
            stats.requested_hz,
            stats.cap_summary().unwrap_or_default(),
            stats.sampler_thread_cpu_ns as f64 / 1e6
        );
    }
    print_handshake_stats(&mut stderr, &vm.handshake_stats(), vm.compiler_cpu_ns());
}

/// The handshake lines of `--tier-stats`: how long a round takes, where
/// its time goes, and what retirement and the compiler thread cost the
/// process in CPU time.
fn print_handshake_stats(
    out: &mut impl Write,
    stats: &tierjit::runtime::retire::HandshakeStats,
    compiler_cpu_ns: Option<u64>,
) {
    let us = |ns: u64| ns as f64 / 1e3;
    let quantiles = |h: &hdrhistogram::Histogram<u64>| {
        format!(
            "p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.99)),
            us(h.max())
        )
    };
    let rounds = stats.round.len();
    let _ = writeln!(
        out,
        "tierjit: {rounds} stack-walk handshakes, {:.1} us each on average; signal to last answer {}",
        stats.round.mean() / 1e3,
        quantiles(&stats.round)
    );
    if rounds == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "tierjit: handshake parts: sending signals (and walking blocked threads) {}; signal to handler (per thread) {}; walk (per thread) {}; {} answers walked by the retirer, their thread blocked in a join",
        quantiles(&stats.signal),
        quantiles(&stats.answer),
        quantiles(&stats.walk),
        stats.parked
    );
    let process_ns = process_cpu_ns();
    let percent = |ns: u64| 100.0 * ns as f64 / process_ns.max(1) as f64;
    let _ = writeln!(
        out,
        "tierjit: retirement: retirer {:.3} ms CPU time ({:.2}%; {:.3} ms wall-clock), handlers {:.3} ms ({:.2}%), of {:.1} ms process CPU time",
        stats.retirer_cpu_ns as f64 / 1e6,
        percent(stats.retirer_cpu_ns),
        stats.retirer_ns as f64 / 1e6,
        stats.walk_ns as f64 / 1e6,
        percent(stats.walk_ns),
        process_ns as f64 / 1e6
    );
    if let Some(compiler) = compiler_cpu_ns {
        let _ = writeln!(
            out,
            "tierjit: compiler thread CPU time {:.3} ms ({:.2}% of the process's; retirer included)",
            compiler as f64 / 1e6,
            percent(compiler)
        );
    }
}

/// CPU time of the whole process so far, in nanoseconds.
fn process_cpu_ns() -> u64 {
    tierjit::runtime::retire::clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// `--tier-thresholds BASELINE,OPT,OPT_DIRECT[,BEHIND]` (milliseconds,
/// each finite and not negative).
fn parse_thresholds(text: &str) -> Result<(f64, f64, f64, Option<f64>), String> {
    let values: Vec<f64> = text
        .split(',')
        .map(|part| {
            part.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("'{part}' is not a number of milliseconds"))
        })
        .collect::<Result<_, _>>()?;
    match values[..] {
        [baseline, opt, direct] => Ok((baseline, opt, direct, None)),
        [baseline, opt, direct, behind] => Ok((baseline, opt, direct, Some(behind))),
        _ => Err("expected three or four thresholds: BASELINE,OPT,OPT_DIRECT[,BEHIND]".into()),
    }
}

/// `--heap-limit SIZE`: bytes, or a number with a K, M or G suffix
/// (powers of 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let (digits, unit) = match text.trim().to_ascii_uppercase() {
        t if t.ends_with('K') => (t[..t.len() - 1].to_string(), 1usize << 10),
        t if t.ends_with('M') => (t[..t.len() - 1].to_string(), 1 << 20),
        t if t.ends_with('G') => (t[..t.len() - 1].to_string(), 1 << 30),
        t => (t, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| format!("'{text}' is not a size (bytes, or a number with K, M or G)"))
}
