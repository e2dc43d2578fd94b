//! The profile: what a profiled run recorded, resolved to functions, tiers
//! and lines, ready to be written to a file and reported on.
//!
//! The sampler records raw addresses and frame records; the runtime
//! resolves them (it knows bytecode and code blobs) into this model. The
//! file format ([`crate::format`]) and the report ([`crate::report`]) work
//! on this model only.

/// The tier a frame was running in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Tier 0.
    Interp,
    /// Tier 1.
    Baseline,
    /// Tier 2.
    Optimized,
    /// Not tj code: the runtime, a helper, the kernel boundary.
    Runtime,
}

impl Tier {
    /// The name used in reports and files.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Interp => "interp",
            Tier::Baseline => "baseline",
            Tier::Optimized => "opt",
            Tier::Runtime => "runtime",
        }
    }

    /// The tier as a small number (file format).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The tier with code `c`.
    pub fn from_code(c: u8) -> Option<Tier> {
        [Tier::Interp, Tier::Baseline, Tier::Optimized, Tier::Runtime]
            .get(c as usize)
            .copied()
    }
}

/// One frame of a sampled stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Function id (index into [`Profile::functions`]).
    pub func: u32,
    /// The tier the frame ran in.
    pub tier: Tier,
    /// The source line (of the instruction running, or of the call for a
    /// caller); 0 if unknown.
    pub line: u32,
}

/// One sample: a thread's stack at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Which thread (0 = main, then spawn handles).
    pub thread: u32,
    /// When, in nanoseconds since the run started.
    pub time_ns: u64,
    /// How much CPU time this sample stands for, in nanoseconds.
    pub weight_ns: u64,
    /// The stack, innermost frame first. Empty if the thread was outside tj
    /// code (in the runtime) and no tj frame could be found.
    pub frames: Vec<Frame>,
}

/// What happened to a function's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierEventKind {
    /// A compile finished: from which tier to which, how long it took and
    /// how long the request waited in the queue first.
    Compile {
        /// The tier the function ran in before.
        from: Tier,
        /// The tier compiled for.
        to: Tier,
        /// Compile time.
        duration_ns: u64,
        /// Time between the request and the start of the compile.
        queue_ns: u64,
    },
    /// New code was installed in the method table.
    Install {
        /// Its tier.
        tier: Tier,
    },
    /// Old code was freed after no thread was found inside it.
    Retire {
        /// Its tier.
        tier: Tier,
    },
    /// An optimizing compile for entry by on-stack replacement at one
    /// loop header finished (optimized OSR code, installed in no slot).
    OsrCompile {
        /// The loop header's bytecode pc.
        pc: u32,
        /// Compile time.
        duration_ns: u64,
        /// Time between the request and the start of the compile.
        queue_ns: u64,
    },
    /// A running activation moved into compiled code at a loop header
    /// (on-stack replacement). Recorded for the first such move per
    /// (function, loop header, from tier, to tier) only.
    OsrEntry {
        /// The loop header's bytecode pc.
        pc: u32,
        /// The tier the activation ran in.
        from: Tier,
        /// The tier of the code it moved into.
        to: Tier,
    },
    /// A compile failed (the compiler's error or panic, or code memory
    /// that could not be had): the function stays in `from`.
    CompileFailed {
        /// The tier the function runs in, and stays in.
        from: Tier,
        /// The tier compiled for.
        to: Tier,
    },
    /// Code saved by an earlier run was loaded from the code cache and
    /// installed (no compile).
    CacheLoad {
        /// Its tier.
        tier: Tier,
    },
}

/// A tier event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierEvent {
    /// When, in nanoseconds since the run started.
    pub time_ns: u64,
    /// Which function.
    pub func: u32,
    /// What happened.
    pub kind: TierEventKind,
}

/// How well the sampler did.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SamplerStats {
    /// Samples per second asked for, per thread.
    pub requested_hz: u32,
    /// Samples recorded.
    pub samples: u64,
    /// Samples dropped because a ring was full.
    pub dropped: u64,
    /// Threads that were sampled.
    pub threads: u32,
    /// CPU time of the sampled threads, in nanoseconds (so the achieved
    /// rate is samples / cpu time).
    pub cpu_ns: u64,
    /// Time spent in the signal handler: `(nanoseconds, count)` pairs,
    /// sorted by nanoseconds (a histogram).
    pub handler_ns: Vec<(u64, u64)>,
    /// Who sent the signals: "sampler-thread" or "thread-timers" ("" in
    /// version 1 files).
    pub engine: String,
    /// Ticks that found a thread not running (no sample, no signal with
    /// the sampler-thread engine).
    pub idle_ticks: u64,
    /// What one sample cost a sampled thread, as the handlers measured it
    /// (0: not measured, or a file before version 4).
    pub sample_cost_ns: u64,
    /// The most samples per second of a thread's time that kept sampling
    /// under `share_percent` of it at that cost (0 in files before
    /// version 4).
    pub cost_cap_hz: u32,
    /// The most rounds per second the sampler thread allowed itself, to
    /// stay under `share_percent` of a core (0: thread timers, or a file
    /// before version 4).
    pub sampler_thread_cap_hz: u32,
    /// The share of a thread's time (and of a core, for the sampler
    /// thread) that sampling keeps under, in percent.
    pub share_percent: u32,
    /// CPU time of the sampler thread, in nanoseconds.
    pub sampler_thread_cpu_ns: u64,
}

impl SamplerStats {
    /// Samples per second of CPU time actually taken.
    pub fn achieved_hz(&self) -> f64 {
        if self.cpu_ns == 0 {
            0.0
        } else {
            (self.samples + self.dropped) as f64 * 1e9 / self.cpu_ns as f64
        }
    }

    /// The most samples per second of a busy thread's time that sampling
    /// allowed itself: the lower of the two caps (0 if not recorded).
    pub fn cap_hz(&self) -> u32 {
        match self.sampler_thread_cap_hz {
            0 => self.cost_cap_hz,
            rounds => self.cost_cap_hz.min(rounds),
        }
    }

    /// Whether the rate asked for was above the cap.
    pub fn capped(&self) -> bool {
        self.cap_hz() > 0 && self.requested_hz > self.cap_hz()
    }

    /// The cap in words, e.g. "capped at 3500 Hz to keep sampling under
    /// 10% of thread time: a sample costs 28.6 us", or None for files
    /// before version 4.
    pub fn cap_summary(&self) -> Option<String> {
        let cap = self.cap_hz();
        if cap == 0 {
            return None;
        }
        let share = self.share_percent;
        let cost = match self.sample_cost_ns {
            0 => "a sample's cost not measured".to_string(),
            ns => format!("a sample costs {:.1} us", ns as f64 / 1e3),
        };
        let by_sampler_thread =
            self.sampler_thread_cap_hz != 0 && self.sampler_thread_cap_hz < self.cost_cap_hz;
        Some(match (self.capped(), by_sampler_thread) {
            (true, false) => {
                format!("capped at {cap} Hz to keep sampling under {share}% of thread time: {cost}")
            }
            (true, true) => format!(
                "capped at {cap} Hz per busy thread to keep the sampler thread under {share}% of a core; {cost}"
            ),
            (false, _) => format!(
                "the rate asked is under the cap of {cap} Hz: {cost}, and sampling stays under {share}% of thread time"
            ),
        })
    }
}

/// A whole profiled run.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Profile {
    /// The program's path as given on the command line.
    pub program: String,
    /// Wall-clock duration of the run in nanoseconds.
    pub duration_ns: u64,
    /// Function names, indexed by function id.
    pub functions: Vec<String>,
    /// The samples, in the order taken per thread.
    pub samples: Vec<Sample>,
    /// Tier events in time order.
    pub events: Vec<TierEvent>,
    /// Sampler health.
    pub stats: SamplerStats,
}
