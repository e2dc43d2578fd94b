//! `tierjit report`: reads a `.tjprof` profile and prints a report of it.
//!
//! By default the text report goes to stdout; `--folded` or `--json` print
//! that form instead, and `--flamegraph OUT.svg` also writes an SVG flame
//! graph. A file that cannot be read or is not a valid profile gets one
//! line on stderr naming it, and exit status 1.

use std::fs::File;
use std::io::{BufWriter, Write};

use tierjit_profiler::format;
use tierjit_profiler::profile::Profile;
use tierjit_profiler::report::{self, ReportOptions};

use super::EXIT_COMPILE_ERROR;

/// Options of `tierjit report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The profile, a .tjprof file.
    file: String,
    /// Also write an SVG flame graph, frames colored by tier, to this file.
    #[arg(long, value_name = "OUT.svg")]
    flamegraph: Option<String>,
    /// Print folded stacks (for flamegraph.pl or inferno) instead of the
    /// text report; counts are microseconds of CPU time.
    #[arg(long, conflicts_with = "json")]
    folded: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Rows in each table of the text report.
    #[arg(long, default_value_t = 15)]
    top: usize,
}

/// Runs `tierjit report`; gives the exit status.
pub fn run(args: ReportArgs) -> i32 {
    match report(&args) {
        Ok(()) => 0,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            EXIT_COMPILE_ERROR
        }
    }
}

fn report(args: &ReportArgs) -> Result<(), String> {
    let profile = load(&args.file)?;
    if let Some(svg) = &args.flamegraph {
        write_flamegraph(&profile, svg)?;
    }
    let output = if args.folded {
        report::folded(&profile)
    } else if args.json {
        report::json(&profile)
    } else {
        let options = ReportOptions {
            top: args.top,
            lines: args.top,
            ..ReportOptions::default()
        };
        report::text(&profile, &options)
    };
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(output.as_bytes());
    Ok(())
}

fn load(path: &str) -> Result<Profile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    format::read(&bytes).map_err(|e| format!("{path}: {e}"))
}

fn write_flamegraph(profile: &Profile, path: &str) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write {path}: {e}");
    let mut out = BufWriter::new(File::create(path).map_err(cannot)?);
    report::flamegraph(profile, &mut out).map_err(cannot)?;
    out.flush().map_err(cannot)
}
