//! What every report shows, computed once from a [`Profile`]: per-function
//! self and total time split by tier, per-line time, compile-time
//! percentiles and handler-time percentiles.
//!
//! Time is the samples' CPU weight (`weight_ns`). If no sample carries any
//! weight (a profile whose sampler could not measure CPU time), every
//! sample weighs one unit instead, so shares are shares of samples.
//!
//! Attribution rules:
//! - self: the innermost frame's function, in that frame's tier;
//! - total: every function on the stack, once per sample even when it
//!   recurses, in the tier of its innermost occurrence;
//! - lines: the innermost frame's (function, line).

use std::collections::{HashMap, HashSet};

use crate::profile::{Profile, Sample, Tier, TierEventKind};

/// The tiers in column order; `Tier::code` indexes them.
pub(crate) const TIERS: [Tier; 4] = [Tier::Interp, Tier::Baseline, Tier::Optimized, Tier::Runtime];

/// Weight per tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TierSplit([u64; 4]);

impl TierSplit {
    fn add(&mut self, tier: Tier, weight: u64) {
        let slot = &mut self.0[tier.code() as usize];
        *slot = slot.saturating_add(weight);
    }

    /// The weight in `tier`.
    pub(crate) fn get(&self, tier: Tier) -> u64 {
        self.0[tier.code() as usize]
    }

    /// The weight in all tiers.
    pub(crate) fn sum(&self) -> u64 {
        self.0.iter().fold(0u64, |a, &b| a.saturating_add(b))
    }
}

/// One function's time.
#[derive(Clone, Debug, Default)]
pub(crate) struct FunctionRow {
    /// Function id.
    pub(crate) func: u32,
    /// Weight with the function innermost, by tier.
    pub(crate) self_weight: TierSplit,
    /// Weight with the function anywhere on the stack, by tier.
    pub(crate) total_weight: TierSplit,
    /// Samples with the function innermost.
    pub(crate) self_samples: u64,
    /// Samples with the function anywhere on the stack.
    pub(crate) total_samples: u64,
}

/// One source line's self time.
#[derive(Clone, Debug)]
pub(crate) struct LineRow {
    /// Function id.
    pub(crate) func: u32,
    /// Line, 0 if unknown.
    pub(crate) line: u32,
    /// Weight with this line innermost.
    pub(crate) weight: u64,
    /// Samples with this line innermost.
    pub(crate) samples: u64,
}

/// Compile times for one target tier, of whole functions or of code for
/// on-stack replacement at a loop header.
#[derive(Clone, Debug)]
pub(crate) struct CompileTimes {
    /// The tier compiled for.
    pub(crate) tier: Tier,
    /// Whether these are OSR compiles ([`TierEventKind::OsrCompile`]).
    pub(crate) osr: bool,
    /// Compile durations, sorted ascending (never empty).
    pub(crate) sorted_ns: Vec<u64>,
}

impl CompileTimes {
    /// The `p`th percentile (nearest rank).
    pub(crate) fn percentile(&self, p: u32) -> u64 {
        let n = self.sorted_ns.len() as u64;
        let rank = (u64::from(p) * n).div_ceil(100).max(1);
        self.sorted_ns[(rank - 1) as usize]
    }

    /// The longest compile.
    pub(crate) fn max(&self) -> u64 {
        self.sorted_ns.last().copied().unwrap_or(0)
    }

    /// All compiles together.
    pub(crate) fn sum(&self) -> u64 {
        self.sorted_ns
            .iter()
            .fold(0u64, |a, &b| a.saturating_add(b))
    }
}

/// Everything the reports show, computed once.
#[derive(Debug)]
pub(crate) struct Analysis {
    /// Weight of all samples (the 100% of every share).
    pub(crate) total: u64,
    /// Weight of samples with no tj frame.
    pub(crate) outside: u64,
    /// Whether weights are sample counts (no sample had a CPU weight).
    pub(crate) unit_weights: bool,
    /// Every function seen in a sample, by id.
    pub(crate) functions: Vec<FunctionRow>,
    /// Lines by weight, heaviest first.
    pub(crate) lines: Vec<LineRow>,
    /// Compile times per target tier, in tier order, then those of OSR
    /// compiles.
    pub(crate) compiles: Vec<CompileTimes>,
    /// Whether some frame ran in [`Tier::Runtime`] (shows its column).
    pub(crate) has_runtime_frames: bool,
}

impl Analysis {
    /// Analyses `profile`.
    pub(crate) fn compute(profile: &Profile) -> Analysis {
        let unit_weights = profile.samples.iter().all(|s| s.weight_ns == 0);
        let weigh = |s: &Sample| if unit_weights { 1 } else { s.weight_ns };
        let mut analysis = Analysis {
            total: 0,
            outside: 0,
            unit_weights,
            functions: Vec::new(),
            lines: Vec::new(),
            compiles: compute_compile_times(profile),
            has_runtime_frames: false,
        };
        let mut functions = HashMap::new();
        let mut lines = HashMap::new();
        let mut on_stack = HashSet::new();
        for sample in &profile.samples {
            let weight = weigh(sample);
            analysis.total = analysis.total.saturating_add(weight);
            let Some(innermost) = sample.frames.first() else {
                analysis.outside = analysis.outside.saturating_add(weight);
                continue;
            };
            let row = function_row(&mut functions, innermost.func);
            row.self_weight.add(innermost.tier, weight);
            row.self_samples += 1;
            let line = lines
                .entry((innermost.func, innermost.line))
                .or_insert((0u64, 0u64));
            *line = (line.0.saturating_add(weight), line.1 + 1);
            on_stack.clear();
            for frame in &sample.frames {
                analysis.has_runtime_frames |= frame.tier == Tier::Runtime;
                if on_stack.insert(frame.func) {
                    let row = function_row(&mut functions, frame.func);
                    row.total_weight.add(frame.tier, weight);
                    row.total_samples += 1;
                }
            }
        }
        analysis.functions = functions.into_values().collect();
        analysis.functions.sort_by_key(|row| row.func);
        analysis.lines = sorted_lines(lines);
        analysis
    }

    /// `weight` as a percentage of all samples' weight.
    pub(crate) fn percent(&self, weight: u64) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            weight as f64 * 100.0 / self.total as f64
        }
    }

    /// Functions with self time, heaviest first (ties: heavier total, then
    /// lower id).
    pub(crate) fn by_self(&self) -> Vec<&FunctionRow> {
        let mut rows: Vec<_> = self
            .functions
            .iter()
            .filter(|r| r.self_samples > 0)
            .collect();
        rows.sort_by_key(|r| {
            (
                std::cmp::Reverse((r.self_weight.sum(), r.total_weight.sum())),
                r.func,
            )
        });
        rows
    }

    /// Functions by total time, heaviest first (ties: heavier self, then
    /// lower id).
    pub(crate) fn by_total(&self) -> Vec<&FunctionRow> {
        let mut rows: Vec<_> = self.functions.iter().collect();
        rows.sort_by_key(|r| {
            (
                std::cmp::Reverse((r.total_weight.sum(), r.self_weight.sum())),
                r.func,
            )
        });
        rows
    }
}

fn function_row(rows: &mut HashMap<u32, FunctionRow>, func: u32) -> &mut FunctionRow {
    rows.entry(func).or_insert_with(|| FunctionRow {
        func,
        ..FunctionRow::default()
    })
}

fn sorted_lines(lines: HashMap<(u32, u32), (u64, u64)>) -> Vec<LineRow> {
    let mut rows: Vec<LineRow> = lines
        .into_iter()
        .map(|((func, line), (weight, samples))| LineRow {
            func,
            line,
            weight,
            samples,
        })
        .collect();
    rows.sort_by_key(|r| (std::cmp::Reverse(r.weight), r.func, r.line));
    rows
}

fn compute_compile_times(profile: &Profile) -> Vec<CompileTimes> {
    let times = |tier: Tier, osr: bool| {
        let mut sorted_ns: Vec<u64> = profile
            .events
            .iter()
            .filter_map(|e| match e.kind {
                TierEventKind::Compile {
                    to, duration_ns, ..
                } if to == tier && !osr => Some(duration_ns),
                // OSR code is optimized code.
                TierEventKind::OsrCompile { duration_ns, .. } if tier == Tier::Optimized && osr => {
                    Some(duration_ns)
                }
                _ => None,
            })
            .collect();
        sorted_ns.sort_unstable();
        (!sorted_ns.is_empty()).then_some(CompileTimes {
            tier,
            osr,
            sorted_ns,
        })
    };
    TIERS
        .iter()
        .filter_map(|&tier| times(tier, false))
        .chain(times(Tier::Optimized, true))
        .collect()
}

/// The `p`th percentile (nearest rank) of a `(value, count)` histogram, or
/// `None` if it counts nothing. Buckets may come in any order.
pub(crate) fn histogram_percentile(buckets: &[(u64, u64)], p: u32) -> Option<u64> {
    let mut sorted = buckets.to_vec();
    sorted.sort_unstable();
    let count: u128 = sorted.iter().map(|&(_, c)| u128::from(c)).sum();
    if count == 0 {
        return None;
    }
    let rank = (u128::from(p) * count).div_ceil(100).max(1);
    let mut seen = 0u128;
    sorted.into_iter().find_map(|(value, c)| {
        seen += u128::from(c);
        (seen >= rank).then_some(value)
    })
}

/// The name of function `func`, or a placeholder for an id the profile
/// does not name.
pub(crate) fn function_name(profile: &Profile, func: u32) -> String {
    match profile.functions.get(func as usize) {
        Some(name) => name.clone(),
        None => format!("<function {func}>"),
    }
}
