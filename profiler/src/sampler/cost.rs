//! What a sample costs the sampled thread, and the rate cap that follows
//! from it: sampling takes at most [`SHARE_PERCENT`] of a thread's time,
//! whatever rate was asked.
//!
//! Contract: [`CostMeter::record`] runs only in the SIGPROF handler of the
//! meter's own thread (one writer). It allocates nothing, takes no lock and
//! only loads and stores atomics, so it is async-signal-safe. Anyone may
//! read the estimate. A thread is then sampled at most once per
//! [`min_period_ns`] of its time.
//!
//! A sample costs the thread far more than its handler: the interrupt
//! that stops it, the signal's delivery, the handler, the return. The
//! handler measures all but the return (docs/profiler.md, "The cap",
//! compares it with what the thread really loses):
//!
//! - sampler-thread: from the middle of the sender's system call (the
//!   interrupt came about then) to the end of the handler, in wall-clock
//!   time; or the thread's CPU time from the sender's read of its clock to
//!   the end of the handler, if smaller: so a thread that was not running
//!   when the signal was sent is charged only for the delivery, not for
//!   the wait to run again.
//! - thread-timers: from the timer's expiry to the handler's start, plus
//!   the handler's CPU time; only when the thread ran all along since the
//!   last handler (else it started late for another reason).
//!
//! Preemption, the machine's load and the moment of the interrupt still
//! scatter the measurements: each window of [`WINDOW`] samples keeps the
//! mean of its middle half, and the estimate follows the windows smoothly.
//! A fixed [`UNSEEN_PERCENT`] more stands for what the handler cannot see.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The most of a thread's time that sampling may take, in percent.
pub const SHARE_PERCENT: u64 = 10;

/// The most of one core's time that the sampler thread may take, in
/// percent: with many threads it ticks less often.
pub const SAMPLER_THREAD_SHARE_PERCENT: u64 = 10;

/// What a sample is taken to cost before any is measured: about the
/// dearest engine's cost on this project's VM (docs/profiler.md).
pub const PRIOR_COST_NS: u64 = 20_000;

/// Samples per measurement window.
const WINDOW: usize = 8;

/// What the handler cannot see of a sample's cost, in percent of what it
/// sees: the return from the handler, and the caches and TLB that the
/// interrupt disturbed, which the interrupted code pays for afterwards.
/// `signal_cost` measured the real cost at 20-30% above the handler's
/// measure on this project's VM (docs/profiler.md, "The cap").
const UNSEEN_PERCENT: u64 = 25;

/// The shortest period, in the thread's time, between two samples that
/// keeps sampling under [`SHARE_PERCENT`] when one costs `cost_ns`.
pub fn min_period_ns(cost_ns: u64) -> u64 {
    cost_ns.saturating_mul(100) / SHARE_PERCENT
}

/// The period to sample at: the one asked for, or longer if a sample
/// would otherwise take more than [`SHARE_PERCENT`] of the time.
pub fn capped_period_ns(asked_ns: u64, cost_ns: u64) -> u64 {
    asked_ns.max(min_period_ns(cost_ns))
}

/// The rate a cost allows (the inverse of [`min_period_ns`]).
pub fn cap_hz(cost_ns: u64) -> u32 {
    (1_000_000_000 / min_period_ns(cost_ns).max(1)).min(u32::MAX as u64) as u32
}

/// The process-wide side of the meters of one sampler.
#[derive(Debug)]
pub struct CostTotals {
    /// The latest estimate of any thread, where a new thread's starts.
    latest_ns: AtomicU64,
    /// Sum and number of window results, for the report.
    sum_ns: AtomicU64,
    windows: AtomicU64,
}

impl Default for CostTotals {
    fn default() -> CostTotals {
        CostTotals {
            latest_ns: AtomicU64::new(PRIOR_COST_NS),
            sum_ns: AtomicU64::new(0),
            windows: AtomicU64::new(0),
        }
    }
}

impl CostTotals {
    /// The latest estimate of any thread ([`PRIOR_COST_NS`] before any).
    pub fn latest_ns(&self) -> u64 {
        self.latest_ns.load(Ordering::Relaxed)
    }

    /// The mean cost of a sample over every window measured, or None.
    pub fn mean_ns(&self) -> Option<u64> {
        let windows = self.windows.load(Ordering::Relaxed);
        (windows > 0).then(|| self.sum_ns.load(Ordering::Relaxed) / windows)
    }
}

/// One thread's estimate of what a sample costs it.
#[derive(Debug)]
pub struct CostMeter {
    /// Smoothed over windows, in nanoseconds.
    estimate_ns: AtomicU64,
    /// Whether `estimate_ns` was measured (else it is a prior).
    measured: AtomicU32,
    /// The current window's measurements, `filled` of them.
    window: [AtomicU64; WINDOW],
    filled: AtomicU32,
}

impl CostMeter {
    /// A meter that starts from `prior_ns`.
    pub fn new(prior_ns: u64) -> CostMeter {
        CostMeter {
            estimate_ns: AtomicU64::new(prior_ns),
            measured: AtomicU32::new(0),
            window: Default::default(),
            filled: AtomicU32::new(0),
        }
    }

    /// The estimated cost of one sample, in nanoseconds.
    pub fn estimate_ns(&self) -> u64 {
        self.estimate_ns.load(Ordering::Relaxed)
    }

    /// The shortest period between two samples of this thread that keeps
    /// sampling under [`SHARE_PERCENT`] of its time.
    pub fn min_period_ns(&self) -> u64 {
        min_period_ns(self.estimate_ns())
    }

    /// Adds one sample's measured cost. Handler only (one writer per
    /// meter); async-signal-safe.
    pub fn record(&self, cost_ns: u64, totals: &CostTotals) {
        let filled = self.filled.load(Ordering::Relaxed) as usize;
        self.window[filled].store(cost_ns, Ordering::Relaxed);
        if filled + 1 < WINDOW {
            self.filled.store(filled as u32 + 1, Ordering::Relaxed);
            return;
        }
        self.filled.store(0, Ordering::Relaxed);
        let mut costs = [0u64; WINDOW];
        for (cost, slot) in costs.iter_mut().zip(&self.window) {
            *cost = slot.load(Ordering::Relaxed);
        }
        let seen = middle_mean(&mut costs);
        let window = seen + seen * UNSEEN_PERCENT / 100;
        let estimate = if self.measured.swap(1, Ordering::Relaxed) == 0 {
            window
        } else {
            (3 * self.estimate_ns() + window) / 4
        };
        self.estimate_ns.store(estimate, Ordering::Relaxed);
        totals.latest_ns.store(estimate, Ordering::Relaxed);
        totals.sum_ns.fetch_add(window, Ordering::Relaxed);
        totals.windows.fetch_add(1, Ordering::Relaxed);
    }
}

/// The mean of the middle half of `costs` (sorted in place; an insertion
/// sort, for it runs in a signal handler on eight numbers).
fn middle_mean(costs: &mut [u64; WINDOW]) -> u64 {
    for i in 1..WINDOW {
        let mut j = i;
        while j > 0 && costs[j - 1] > costs[j] {
            costs.swap(j - 1, j);
            j -= 1;
        }
    }
    let middle = &costs[WINDOW / 4..WINDOW - WINDOW / 4];
    middle.iter().sum::<u64>() / middle.len() as u64
}

/// The sampler thread's own cost: the CPU time of a whole cycle (a round
/// over the threads, and the sleep and wake-up around it), so that it
/// ticks no more often than keeps it under
/// [`SAMPLER_THREAD_SHARE_PERCENT`] of a core.
#[derive(Debug, Default)]
pub struct CycleCost {
    /// Rises quickly with dearer cycles (at most fourfold a cycle: one
    /// slow cycle, say the thread's first, does not stop it for long),
    /// falls slowly.
    estimate_ns: u64,
}

impl CycleCost {
    /// Adds the CPU time of one cycle.
    pub fn record(&mut self, cycle_ns: u64) {
        let cycle_ns = if self.estimate_ns == 0 {
            cycle_ns
        } else {
            cycle_ns.min(4 * self.estimate_ns)
        };
        self.estimate_ns = cycle_ns.max((3 * self.estimate_ns + cycle_ns) / 4);
    }

    /// The shortest period between rounds within the budget.
    pub fn min_period_ns(&self) -> u64 {
        self.estimate_ns.saturating_mul(100) / SAMPLER_THREAD_SHARE_PERCENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_follows_the_middle_of_each_window() {
        let totals = CostTotals::default();
        let meter = CostMeter::new(PRIOR_COST_NS);
        assert_eq!(meter.estimate_ns(), PRIOR_COST_NS);
        // A preempted thread's outliers on both sides do not count.
        // The middle half's mean is 8,500 ns, and a quarter more is not
        // seen.
        for cost in [8_000, 9_000, 1_000, 500_000, 8_000, 9_000, 2_000, 90_000] {
            meter.record(cost, &totals);
        }
        assert_eq!(meter.estimate_ns(), 10_625);
        assert_eq!(totals.latest_ns(), 10_625);
        for _ in 0..WINDOW {
            meter.record(4_000, &totals);
        }
        assert_eq!(meter.estimate_ns(), (3 * 10_625 + 5_000) / 4);
        assert_eq!(totals.mean_ns(), Some((10_625 + 5_000) / 2));
    }

    #[test]
    fn the_cap_keeps_the_share() {
        assert_eq!(min_period_ns(8_000), 80_000);
        assert_eq!(cap_hz(8_000), 12_500);
        assert_eq!(capped_period_ns(10_000, 8_000), 80_000);
        assert_eq!(capped_period_ns(1_000_000, 8_000), 1_000_000);
    }

    #[test]
    fn the_sampler_thread_budget_rises_at_once_and_falls_slowly() {
        let mut cycle = CycleCost::default();
        cycle.record(10_000);
        assert_eq!(cycle.min_period_ns(), 100_000);
        cycle.record(2_000);
        assert_eq!(cycle.min_period_ns(), 80_000);
        cycle.record(1_000_000);
        assert_eq!(cycle.min_period_ns(), 320_000);
        cycle.record(1_000_000);
        assert_eq!(cycle.min_period_ns(), 1_280_000);
    }
}
