//! Reports on a [`Profile`]: a terminal text report, folded stacks, JSON
//! and an SVG flame graph.
//!
//! ```text
//! Profile ──► analysis (self/total per function and tier, lines,
//!             compile and handler percentiles)
//!               ├──► text    aligned tables for a terminal
//!               └──► json    the same, every row, machine-readable
//! Profile ──► folded stacks ──► flamegraph (inferno, colored by tier)
//! ```
//!
//! Contract: every report takes any [`Profile`], including an empty one or
//! one with function ids it does not name, and never panics. Shares are of
//! CPU time (`Sample::weight_ns`); self time is the innermost frame's,
//! total time counts a function once per sample however deep it recurses
//! (the attribution rules are in `analysis.rs`).

mod analysis;
mod flame;
mod folded;
mod json;
mod table;
mod text;

use std::io::{self, Write};

use crate::profile::Profile;

/// How much of each section the text report shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// Rows in each top-functions table.
    pub top: usize,
    /// Rows in the hottest-lines table.
    pub lines: usize,
    /// Rows of the tier timeline.
    pub timeline: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            top: 15,
            lines: 15,
            timeline: 40,
        }
    }
}

/// The text report: header, top functions by self and by total time split
/// by tier, hottest lines, the tier timeline, compile-time percentiles and
/// sampler health, as aligned columns for a terminal.
pub fn text(profile: &Profile, options: &ReportOptions) -> String {
    text::render(profile, options)
}

/// Folded stacks for `flamegraph.pl` or inferno: `main [interp];fib [opt]
/// 1234` per distinct stack, outermost frame first, the count in
/// microseconds of CPU weight (or samples, if no sample has a weight).
pub fn folded(profile: &Profile) -> String {
    folded::render(profile)
}

/// The JSON report: program, functions (self/total ns by tier, shares),
/// lines, timeline, compile times and sampler stats.
pub fn json(profile: &Profile) -> String {
    json::render(profile)
}

/// Writes an SVG flame graph of `profile`, frames colored by tier.
pub fn flamegraph(profile: &Profile, out: &mut impl Write) -> io::Result<()> {
    flame::render(profile, out)
}

#[cfg(test)]
mod tests;
