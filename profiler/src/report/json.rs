//! The JSON report: the same analysis as the text report, every row of it
//! (no top-N cut), with times in nanoseconds and shares in percent.

use serde::Serialize;

use super::analysis::{function_name, histogram_percentile, Analysis, FunctionRow, TierSplit};
use crate::profile::{Profile, Tier, TierEvent, TierEventKind};

#[derive(Serialize)]
struct Report {
    program: String,
    duration_ns: u64,
    samples: usize,
    threads: u32,
    /// Whether weights are sample counts because no sample had a weight.
    unweighted: bool,
    total_weight_ns: u64,
    outside_tj_weight_ns: u64,
    /// By total time, heaviest first.
    functions: Vec<Function>,
    /// By self time, heaviest first.
    lines: Vec<Line>,
    /// In time order.
    timeline: Vec<Event>,
    compile_times: Vec<CompileTimes>,
    sampler: Sampler,
}

#[derive(Serialize)]
struct Function {
    id: u32,
    name: String,
    self_percent: f64,
    total_percent: f64,
    self_samples: u64,
    total_samples: u64,
    self_ns: ByTier,
    total_ns: ByTier,
}

#[derive(Serialize)]
struct ByTier {
    interp: u64,
    baseline: u64,
    opt: u64,
    runtime: u64,
    all: u64,
}

#[derive(Serialize)]
struct Line {
    function: String,
    /// 0 if unknown.
    line: u32,
    percent: f64,
    samples: u64,
    weight_ns: u64,
}

#[derive(Serialize)]
struct Event {
    time_ns: u64,
    function: String,
    #[serde(flatten)]
    kind: EventKind,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum EventKind {
    Compile {
        from: &'static str,
        to: &'static str,
        duration_ns: u64,
        queue_ns: u64,
    },
    Install {
        tier: &'static str,
    },
    Retire {
        tier: &'static str,
    },
    /// Optimized code for entry at one loop header.
    OsrCompile {
        pc: u32,
        to: &'static str,
        duration_ns: u64,
        queue_ns: u64,
    },
    /// The first move of an activation into code at a loop header, per
    /// (function, pc, from, to).
    OsrEntry {
        pc: u32,
        from: &'static str,
        to: &'static str,
    },
    /// A compile that failed; the function stays in `from`.
    CompileFailed {
        from: &'static str,
        to: &'static str,
    },
    /// Code installed from the code cache.
    CacheLoad {
        tier: &'static str,
    },
}

#[derive(Serialize)]
struct CompileTimes {
    tier: &'static str,
    /// Compiles of code for entry at a loop header (on-stack replacement).
    osr: bool,
    compiles: usize,
    total_ns: u64,
    p50_ns: u64,
    p90_ns: u64,
    p99_ns: u64,
    max_ns: u64,
}

#[derive(Serialize)]
struct Sampler {
    /// "" for profiles written before the engine was recorded.
    engine: String,
    idle_ticks: u64,
    requested_hz: u32,
    achieved_hz: f64,
    /// The lower of the two caps below; 0 for profiles written before
    /// they were recorded (as are the next four).
    cap_hz: u32,
    cost_cap_hz: u32,
    sampler_thread_cap_hz: u32,
    sample_cost_ns: u64,
    share_percent: u32,
    sampler_thread_cpu_ns: u64,
    samples: u64,
    dropped: u64,
    threads: u32,
    cpu_ns: u64,
    handler_p50_ns: Option<u64>,
    handler_p99_ns: Option<u64>,
    handler_max_ns: Option<u64>,
    /// `[nanoseconds, count]` pairs.
    handler_histogram: Vec<(u64, u64)>,
}

/// Renders the JSON report, pretty-printed.
pub(crate) fn render(profile: &Profile) -> String {
    let analysis = Analysis::compute(profile);
    let report = Report {
        program: profile.program.clone(),
        duration_ns: profile.duration_ns,
        samples: profile.samples.len(),
        threads: profile.stats.threads,
        unweighted: analysis.unit_weights,
        total_weight_ns: analysis.total,
        outside_tj_weight_ns: analysis.outside,
        functions: analysis
            .by_total()
            .into_iter()
            .map(|r| function(profile, &analysis, r))
            .collect(),
        lines: analysis
            .lines
            .iter()
            .map(|r| Line {
                function: function_name(profile, r.func),
                line: r.line,
                percent: analysis.percent(r.weight),
                samples: r.samples,
                weight_ns: r.weight,
            })
            .collect(),
        timeline: timeline(profile),
        compile_times: analysis
            .compiles
            .iter()
            .map(|c| CompileTimes {
                tier: c.tier.name(),
                osr: c.osr,
                compiles: c.sorted_ns.len(),
                total_ns: c.sum(),
                p50_ns: c.percentile(50),
                p90_ns: c.percentile(90),
                p99_ns: c.percentile(99),
                max_ns: c.max(),
            })
            .collect(),
        sampler: sampler(profile),
    };
    // Serializing plain structs of numbers and strings cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

fn function(profile: &Profile, analysis: &Analysis, row: &FunctionRow) -> Function {
    Function {
        id: row.func,
        name: function_name(profile, row.func),
        self_percent: analysis.percent(row.self_weight.sum()),
        total_percent: analysis.percent(row.total_weight.sum()),
        self_samples: row.self_samples,
        total_samples: row.total_samples,
        self_ns: by_tier(row.self_weight),
        total_ns: by_tier(row.total_weight),
    }
}

fn by_tier(split: TierSplit) -> ByTier {
    use crate::profile::Tier::*;
    ByTier {
        interp: split.get(Interp),
        baseline: split.get(Baseline),
        opt: split.get(Optimized),
        runtime: split.get(Runtime),
        all: split.sum(),
    }
}

fn timeline(profile: &Profile) -> Vec<Event> {
    let mut events: Vec<&TierEvent> = profile.events.iter().collect();
    events.sort_by_key(|e| e.time_ns);
    events
        .into_iter()
        .map(|e| Event {
            time_ns: e.time_ns,
            function: function_name(profile, e.func),
            kind: match e.kind {
                TierEventKind::Compile {
                    from,
                    to,
                    duration_ns,
                    queue_ns,
                } => EventKind::Compile {
                    from: from.name(),
                    to: to.name(),
                    duration_ns,
                    queue_ns,
                },
                TierEventKind::Install { tier } => EventKind::Install { tier: tier.name() },
                TierEventKind::Retire { tier } => EventKind::Retire { tier: tier.name() },
                TierEventKind::OsrCompile {
                    pc,
                    duration_ns,
                    queue_ns,
                } => EventKind::OsrCompile {
                    pc,
                    to: Tier::Optimized.name(),
                    duration_ns,
                    queue_ns,
                },
                TierEventKind::OsrEntry { pc, from, to } => EventKind::OsrEntry {
                    pc,
                    from: from.name(),
                    to: to.name(),
                },
                TierEventKind::CompileFailed { from, to } => EventKind::CompileFailed {
                    from: from.name(),
                    to: to.name(),
                },
                TierEventKind::CacheLoad { tier } => EventKind::CacheLoad { tier: tier.name() },
            },
        })
        .collect()
}

fn sampler(profile: &Profile) -> Sampler {
    let stats = &profile.stats;
    Sampler {
        engine: stats.engine.clone(),
        idle_ticks: stats.idle_ticks,
        requested_hz: stats.requested_hz,
        achieved_hz: stats.achieved_hz(),
        cap_hz: stats.cap_hz(),
        cost_cap_hz: stats.cost_cap_hz,
        sampler_thread_cap_hz: stats.sampler_thread_cap_hz,
        sample_cost_ns: stats.sample_cost_ns,
        share_percent: stats.share_percent,
        sampler_thread_cpu_ns: stats.sampler_thread_cpu_ns,
        samples: stats.samples,
        dropped: stats.dropped,
        threads: stats.threads,
        cpu_ns: stats.cpu_ns,
        handler_p50_ns: histogram_percentile(&stats.handler_ns, 50),
        handler_p99_ns: histogram_percentile(&stats.handler_ns, 99),
        handler_max_ns: histogram_percentile(&stats.handler_ns, 100),
        handler_histogram: stats.handler_ns.clone(),
    }
}
