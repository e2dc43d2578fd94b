//! Folded stacks, the input of `flamegraph.pl` and inferno: one line per
//! distinct stack, outermost frame first, frames joined by `;`, then a
//! space and a count.
//!
//! A frame reads `name [tier]` (`fib [opt]`), so a function that ran in
//! two tiers shows as two frames. A sample with no tj frame is the single
//! frame `[outside tj]`. The count is the stack's CPU weight in
//! microseconds, rounded to nearest and at least 1 so that no sampled stack
//! disappears; when no sample has a weight, it is the number of samples.
//! Lines are sorted, so the output is deterministic.

use std::collections::BTreeMap;

use super::analysis::function_name;
use crate::profile::{Profile, Tier};

/// The frame standing for samples with no tj frame.
pub(crate) const OUTSIDE_TJ: &str = "[outside tj]";

/// The folded stacks of `profile`, one `stack count` line each.
pub(crate) fn render(profile: &Profile) -> String {
    let mut out = String::new();
    for (stack, count) in stack_counts(profile) {
        out.push_str(&stack);
        out.push(' ');
        out.push_str(&count.to_string());
        out.push('\n');
    }
    out
}

/// Each distinct folded stack with its count, sorted by stack.
pub(crate) fn stack_counts(profile: &Profile) -> BTreeMap<String, u64> {
    let unit_weights = profile.samples.iter().all(|s| s.weight_ns == 0);
    let mut weights: BTreeMap<String, u64> = BTreeMap::new();
    for sample in &profile.samples {
        let weight = if unit_weights { 1 } else { sample.weight_ns };
        let slot = weights
            .entry(fold(profile, sample.frames.iter().rev()))
            .or_default();
        *slot = slot.saturating_add(weight);
    }
    if !unit_weights {
        for count in weights.values_mut() {
            *count = (count.saturating_add(500) / 1_000).max(1);
        }
    }
    weights
}

fn fold<'a>(
    profile: &Profile,
    outermost_first: impl Iterator<Item = &'a crate::profile::Frame>,
) -> String {
    let labels: Vec<String> = outermost_first
        .map(|f| frame_label(profile, f.func, f.tier))
        .collect();
    if labels.is_empty() {
        OUTSIDE_TJ.to_string()
    } else {
        labels.join(";")
    }
}

/// `name [tier]`, with the characters that would break a folded line
/// (`;` and line breaks) replaced by `_`.
pub(crate) fn frame_label(profile: &Profile, func: u32, tier: Tier) -> String {
    let name: String = function_name(profile, func)
        .chars()
        .map(|c| {
            if matches!(c, ';' | '\n' | '\r') {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{name} [{}]", tier.name())
}
