//! The terminal report: one section after another, each a title line and
//! an aligned table (or one line saying the section is empty).

use std::fmt::Write as _;

use super::analysis::{function_name, histogram_percentile, Analysis, FunctionRow, TIERS};
use super::table::{Align, Table};
use super::ReportOptions;
use crate::profile::{Profile, Tier, TierEvent, TierEventKind};

/// Renders the whole report.
pub(crate) fn render(profile: &Profile, options: &ReportOptions) -> String {
    let analysis = Analysis::compute(profile);
    let mut out = String::new();
    header(&mut out, profile, &analysis);
    functions_by(&mut out, profile, &analysis, Key::SelfTime, options.top);
    functions_by(&mut out, profile, &analysis, Key::TotalTime, options.top);
    hottest_lines(&mut out, profile, &analysis, options.lines);
    timeline(&mut out, profile, options.timeline);
    compile_times(&mut out, &analysis);
    sampler_health(&mut out, profile);
    out
}

fn header(out: &mut String, profile: &Profile, analysis: &Analysis) {
    let threads = profile.stats.threads;
    let _ = writeln!(out, "tierjit profile of {}", profile.program);
    let _ = writeln!(
        out,
        "  duration  {} (wall clock)",
        fmt_ns(profile.duration_ns)
    );
    let _ = write!(
        out,
        "  samples   {} on {threads} thread",
        profile.samples.len()
    );
    out.push_str(if threads == 1 { "" } else { "s" });
    if analysis.unit_weights {
        out.push_str(", unweighted: shares are shares of samples\n");
    } else {
        let _ = writeln!(out, ", {} of CPU time", fmt_ns(analysis.total));
    }
    if analysis.outside > 0 {
        let _ = writeln!(
            out,
            "  outside tj code (no tj frame on the stack): {}",
            fmt_percent(analysis.percent(analysis.outside))
        );
    }
    let stats = &profile.stats;
    if stats.capped() {
        let _ = writeln!(
            out,
            "  rate      {:.0} Hz achieved of {} Hz asked: {}",
            stats.achieved_hz(),
            stats.requested_hz,
            stats.cap_summary().unwrap_or_default()
        );
    }
}

/// Which time a function table ranks and splits by tier.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    SelfTime,
    TotalTime,
}

fn functions_by(out: &mut String, profile: &Profile, analysis: &Analysis, key: Key, top: usize) {
    let (rows, what) = match key {
        Key::SelfTime => (analysis.by_self(), "self"),
        Key::TotalTime => (analysis.by_total(), "total"),
    };
    let _ = writeln!(out, "\nTop functions by {what} time");
    if rows.is_empty() {
        out.push_str("  (no samples in tj code)\n");
        return;
    }
    let _ = writeln!(
        out,
        "  (tier columns: how the function's {what} time splits by tier)"
    );
    let tiers = shown_tiers(analysis);
    let mut columns = vec![("self %", Align::Right), ("total %", Align::Right)];
    columns.extend(tiers.iter().map(|&t| (tier_column(t), Align::Right)));
    columns.extend([("samples", Align::Right), ("function", Align::Left)]);
    let mut table = Table::new(&columns);
    for row in rows.iter().take(top) {
        table.row(function_cells(profile, analysis, row, key, &tiers));
    }
    table.render(out);
    more(out, rows.len(), top, "functions");
}

fn function_cells(
    profile: &Profile,
    analysis: &Analysis,
    row: &FunctionRow,
    key: Key,
    tiers: &[Tier],
) -> Vec<String> {
    let (split, samples) = match key {
        Key::SelfTime => (row.self_weight, row.self_samples),
        Key::TotalTime => (row.total_weight, row.total_samples),
    };
    let mut cells = vec![
        fmt_percent(analysis.percent(row.self_weight.sum())),
        fmt_percent(analysis.percent(row.total_weight.sum())),
    ];
    cells.extend(tiers.iter().map(|&tier| match split.sum() {
        0 => "-".to_string(),
        sum => fmt_percent(split.get(tier) as f64 * 100.0 / sum as f64),
    }));
    cells.push(samples.to_string());
    cells.push(function_name(profile, row.func));
    cells
}

/// The tier columns: the runtime's only if some frame ran there.
fn shown_tiers(analysis: &Analysis) -> Vec<Tier> {
    TIERS
        .into_iter()
        .filter(|&t| t != Tier::Runtime || analysis.has_runtime_frames)
        .collect()
}

fn tier_column(tier: Tier) -> &'static str {
    match tier {
        Tier::Interp => "interp %",
        Tier::Baseline => "baseline %",
        Tier::Optimized => "opt %",
        Tier::Runtime => "runtime %",
    }
}

fn hottest_lines(out: &mut String, profile: &Profile, analysis: &Analysis, top: usize) {
    out.push_str("\nHottest lines (self time)\n");
    if analysis.lines.is_empty() {
        out.push_str("  (no samples in tj code)\n");
        return;
    }
    let mut table = Table::new(&[
        ("self %", Align::Right),
        ("samples", Align::Right),
        ("line", Align::Left),
    ]);
    for row in analysis.lines.iter().take(top) {
        let line = match row.line {
            0 => "?".to_string(),
            n => n.to_string(),
        };
        table.row(vec![
            fmt_percent(analysis.percent(row.weight)),
            row.samples.to_string(),
            format!("{}:{line}", function_name(profile, row.func)),
        ]);
    }
    table.render(out);
    more(out, analysis.lines.len(), top, "lines");
}

fn timeline(out: &mut String, profile: &Profile, top: usize) {
    out.push_str("\nTier timeline\n");
    if profile.events.is_empty() {
        out.push_str("  (no tier events: nothing was compiled)\n");
        return;
    }
    let mut events: Vec<&TierEvent> = profile.events.iter().collect();
    events.sort_by_key(|e| e.time_ns);
    let mut table = Table::new(&[
        ("time", Align::Right),
        ("function", Align::Left),
        ("event", Align::Left),
        ("compile", Align::Right),
        ("queued", Align::Right),
    ]);
    for event in events.iter().take(top) {
        table.row(event_cells(profile, event));
    }
    table.render(out);
    more(out, events.len(), top, "events");
}

fn event_cells(profile: &Profile, event: &TierEvent) -> Vec<String> {
    let mut cells = vec![fmt_ms(event.time_ns), function_name(profile, event.func)];
    match event.kind {
        TierEventKind::Compile {
            from,
            to,
            duration_ns,
            queue_ns,
        } => cells.extend([
            format!("compile {} -> {}", from.name(), to.name()),
            fmt_ns(duration_ns),
            fmt_ns(queue_ns),
        ]),
        TierEventKind::Install { tier } => cells.push(format!("install {}", tier.name())),
        TierEventKind::Retire { tier } => cells.push(format!("retire {}", tier.name())),
        TierEventKind::OsrCompile {
            pc,
            duration_ns,
            queue_ns,
        } => cells.extend([
            format!("osr compile opt (loop at pc {pc})"),
            fmt_ns(duration_ns),
            fmt_ns(queue_ns),
        ]),
        TierEventKind::OsrEntry { pc, from, to } => cells.push(format!(
            "osr entry {} -> {} (loop at pc {pc})",
            from.name(),
            to.name()
        )),
        TierEventKind::CompileFailed { from, to } => cells.push(format!(
            "compile {} -> {} failed, stays {}",
            from.name(),
            to.name(),
            from.name()
        )),
        TierEventKind::CacheLoad { tier } => {
            cells.push(format!("install {} from the code cache", tier.name()))
        }
    }
    cells
}

fn compile_times(out: &mut String, analysis: &Analysis) {
    out.push_str("\nCompile times by target tier\n");
    if analysis.compiles.is_empty() {
        out.push_str("  (no compiles)\n");
        return;
    }
    let mut table = Table::new(&[
        ("tier", Align::Left),
        ("compiles", Align::Right),
        ("total", Align::Right),
        ("p50", Align::Right),
        ("p90", Align::Right),
        ("p99", Align::Right),
        ("max", Align::Right),
    ]);
    for times in &analysis.compiles {
        let tier = match times.osr {
            false => times.tier.name().to_string(),
            true => format!("{} (osr)", times.tier.name()),
        };
        table.row(vec![
            tier,
            times.sorted_ns.len().to_string(),
            fmt_ns(times.sum()),
            fmt_ns(times.percentile(50)),
            fmt_ns(times.percentile(90)),
            fmt_ns(times.percentile(99)),
            fmt_ns(times.max()),
        ]);
    }
    table.render(out);
}

fn sampler_health(out: &mut String, profile: &Profile) {
    let stats = &profile.stats;
    out.push_str("\nSampler\n");
    if !stats.engine.is_empty() {
        let _ = writeln!(
            out,
            "  engine   {}, {} idle ticks (a thread not running: no sample taken)",
            stats.engine, stats.idle_ticks
        );
    }
    let _ = writeln!(
        out,
        "  rate     {} Hz requested, {:.1} Hz achieved (per thread, over {} of CPU time)",
        stats.requested_hz,
        stats.achieved_hz(),
        fmt_ns(stats.cpu_ns)
    );
    if let Some(cap) = stats.cap_summary() {
        let _ = writeln!(out, "  cap      {cap}");
    }
    if stats.sampler_thread_cap_hz > 0 {
        let _ = writeln!(
            out,
            "  sampler  thread: {} of CPU time ({} of one core over the run), at most {} rounds a second",
            fmt_ns(stats.sampler_thread_cpu_ns),
            fmt_percent(
                stats.sampler_thread_cpu_ns as f64 * 100.0 / profile.duration_ns.max(1) as f64
            ),
            stats.sampler_thread_cap_hz
        );
    }
    let taken = stats.samples.saturating_add(stats.dropped);
    let dropped_share = if taken == 0 {
        0.0
    } else {
        stats.dropped as f64 * 100.0 / taken as f64
    };
    let _ = writeln!(
        out,
        "  samples  {} recorded, {} dropped ({})",
        stats.samples,
        stats.dropped,
        fmt_percent(dropped_share)
    );
    let quantiles = [50, 99, 100].map(|p| histogram_percentile(&stats.handler_ns, p));
    match quantiles {
        [Some(p50), Some(p99), Some(max)] => {
            let calls: u128 = stats.handler_ns.iter().map(|&(_, c)| u128::from(c)).sum();
            let _ = writeln!(
                out,
                "  handler  p50 {}, p99 {}, max {} (over {calls} signals)",
                fmt_ns(p50),
                fmt_ns(p99),
                fmt_ns(max)
            );
        }
        _ => out.push_str("  handler  (no handler times recorded)\n"),
    }
}

/// Says how many rows a table left out.
fn more(out: &mut String, total: usize, shown: usize, noun: &str) {
    if total > shown {
        let _ = writeln!(out, "  ... and {} more {noun}", total - shown);
    }
}

/// A share as `42.0%`.
pub(crate) fn fmt_percent(percent: f64) -> String {
    format!("{percent:.1}%")
}

/// A time since the start of the run, in milliseconds.
fn fmt_ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// A duration in the largest unit that keeps it at least 1 (the bounds
/// keep rounding from printing `1000.0 us`).
pub(crate) fn fmt_ns(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_949 => format!("{:.1} us", ns as f64 / 1e3),
        999_950..=999_994_999 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}
