//! Synthetic profiles shared by the format and report tests.

use crate::profile::{Frame, Profile, Sample, SamplerStats, Tier, TierEvent, TierEventKind};

/// A frame of function `func` at `line` in `tier`.
pub fn frame(func: u32, tier: Tier, line: u32) -> Frame {
    Frame { func, tier, line }
}

/// A sample on thread 0 at `time_ns` weighing `weight_ns`.
pub fn sample(time_ns: u64, weight_ns: u64, frames: Vec<Frame>) -> Sample {
    Sample {
        thread: 0,
        time_ns,
        weight_ns,
        frames,
    }
}

/// A profile using every feature of the model: two threads, every tier,
/// recursion, an empty stack, every event kind, extreme values and a
/// non-ASCII name.
pub fn rich() -> Profile {
    use Tier::*;
    let mut samples = vec![
        sample(
            1_000,
            1_000_000,
            vec![
                frame(2, Optimized, 4),
                frame(2, Baseline, 5),
                frame(0, Interp, 10),
            ],
        ),
        sample(
            2_000,
            999_999,
            vec![frame(1, Interp, 0), frame(0, Interp, 11)],
        ),
        sample(3_000, 0, vec![]),
        sample(u64::MAX, u64::MAX, vec![frame(3, Runtime, u32::MAX)]),
    ];
    samples[1].thread = 1;
    samples[3].thread = u32::MAX;
    Profile {
        program: "examples/fib.tj".to_string(),
        duration_ns: 2_500_000_000,
        functions: vec![
            "main".into(),
            "helper".into(),
            "fib".into(),
            "naïve_λ".into(),
        ],
        samples,
        events: vec![
            TierEvent {
                time_ns: 500,
                func: 2,
                kind: TierEventKind::Compile {
                    from: Interp,
                    to: Baseline,
                    duration_ns: 120_000,
                    queue_ns: 3_000,
                },
            },
            TierEvent {
                time_ns: 600,
                func: 2,
                kind: TierEventKind::Install { tier: Baseline },
            },
            TierEvent {
                time_ns: 900,
                func: 2,
                kind: TierEventKind::Retire { tier: Interp },
            },
            TierEvent {
                time_ns: 1_000,
                func: 0,
                kind: TierEventKind::OsrCompile {
                    pc: 12,
                    duration_ns: 450_000,
                    queue_ns: 7_000,
                },
            },
            TierEvent {
                time_ns: 1_100,
                func: 0,
                kind: TierEventKind::OsrEntry {
                    pc: 12,
                    from: Baseline,
                    to: Optimized,
                },
            },
            TierEvent {
                time_ns: 1_150,
                func: 1,
                kind: TierEventKind::CompileFailed {
                    from: Interp,
                    to: Optimized,
                },
            },
            TierEvent {
                time_ns: 1_160,
                func: 2,
                kind: TierEventKind::CacheLoad { tier: Optimized },
            },
            TierEvent {
                time_ns: u64::MAX - 1,
                func: 3,
                kind: TierEventKind::OsrEntry {
                    pc: u32::MAX,
                    from: Interp,
                    to: Runtime,
                },
            },
            TierEvent {
                time_ns: u64::MAX,
                func: 3,
                kind: TierEventKind::Compile {
                    from: Runtime,
                    to: Optimized,
                    duration_ns: u64::MAX,
                    queue_ns: 0,
                },
            },
        ],
        stats: SamplerStats {
            requested_hz: 997,
            samples: 4,
            dropped: 1,
            threads: 2,
            cpu_ns: 2_000_000_000,
            handler_ns: vec![(800, 10), (1_600, 3), (u64::MAX, 1)],
            engine: "thread-timers".into(),
            idle_ticks: 42,
            sample_cost_ns: 28_600,
            cost_cap_hz: 3_496,
            sampler_thread_cap_hz: 0,
            share_percent: 10,
            sampler_thread_cpu_ns: u64::MAX,
        },
    }
}
