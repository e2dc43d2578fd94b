//! SVG flame graphs through inferno, from the folded stacks
//! ([`super::folded`]), with every frame colored by its tier: interpreter
//! frames red, baseline yellow, optimized green, runtime grey. Shades vary
//! a little by function name so neighbouring frames stay distinguishable.

use std::io::{self, Write};

use inferno::flamegraph::color::{Color, PaletteMap};
use inferno::flamegraph::{from_lines, Options};

use super::folded::{frame_label, stack_counts, OUTSIDE_TJ};
use crate::profile::{Profile, Tier};

/// What the subtitle tells the reader about colors.
const LEGEND: &str = "red: interpreter, yellow: baseline, green: optimized, grey: runtime";

/// Writes `profile`'s flame graph as SVG.
pub(crate) fn render(profile: &Profile, out: &mut impl Write) -> io::Result<()> {
    let stacks = stack_counts(profile);
    let lines: Vec<String> = stacks
        .iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect();
    let mut palette = tier_palette(profile);
    let mut options = Options::default();
    options.title = format!("tierjit: {}", profile.program);
    options.subtitle = Some(LEGEND.to_string());
    options.count_name = if profile.samples.iter().all(|s| s.weight_ns == 0) {
        "samples".to_string()
    } else {
        "us".to_string()
    };
    options.palette_map = Some(&mut palette);
    from_lines(&mut options, lines.iter().map(String::as_str), out)
}

/// A color for every frame label the folded stacks can contain.
fn tier_palette(profile: &Profile) -> PaletteMap {
    let mut palette = PaletteMap::default();
    // inferno's root frame; no frame label can clash with it (labels end
    // in a `[tier]`).
    palette.insert(
        "all",
        Color {
            r: 200,
            g: 200,
            b: 200,
        },
    );
    palette.insert(OUTSIDE_TJ, tier_color(Tier::Runtime, OUTSIDE_TJ));
    for sample in &profile.samples {
        for frame in &sample.frames {
            let label = frame_label(profile, frame.func, frame.tier);
            if palette.get(&label).is_none() {
                let color = tier_color(frame.tier, &label);
                palette.insert(label, color);
            }
        }
    }
    palette
}

/// The tier's hue, shaded by a hash of `label`.
fn tier_color(tier: Tier, label: &str) -> Color {
    let shade = (fnv1a(label) % 40) as u8;
    let (r, g, b) = match tier {
        Tier::Interp => (215 + shade / 2, 70 + shade, 50),
        Tier::Baseline => (220 + shade / 2, 180 + shade, 60),
        Tier::Optimized => (70 + shade, 170 + shade, 70),
        Tier::Runtime => (150 + shade, 150 + shade, 150 + shade),
    };
    Color { r, g, b }
}

/// FNV-1a: a stable hash (std's `DefaultHasher` may change between Rust
/// versions, and colors should not).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
