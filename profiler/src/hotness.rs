//! Decaying hotness: how much CPU time functions, loops, instructions and
//! call sites used recently.
//!
//! Every sample adds its weight (CPU nanoseconds) to its innermost
//! function, to the instruction it was at (function and bytecode pc: the
//! optimizer's block layout reads these) and, if it was inside a loop, to
//! that loop; and to the call sites on its stack, as time below them (the
//! inliner reads these). Every tick all counts decay exponentially with a
//! configurable half-life, so hotness measures recent CPU time, and code
//! that stopped running cools off. The tier policy reads it: samples
//! decide, there are no counters in code.
//!
//! Memory: one entry per function, loop, instruction or call site that a
//! sample landed in recently. A count is forgotten once it decays below a
//! nanosecond (a 1 ms sample takes 20 half-lives), so the maps hold at
//! most what the program's code has places, and in practice what the last
//! few seconds of samples touched.

use std::collections::HashMap;

/// A loop: its function and the pc of its header (the target of its
/// backward branch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoopKey {
    /// The function id.
    pub func: u32,
    /// The loop header's bytecode pc.
    pub header: u32,
}

/// An instruction: its function and its bytecode pc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PcKey {
    /// The function id.
    pub func: u32,
    /// The instruction's bytecode pc.
    pub pc: u32,
}

/// A call site: the calling function and the pc of its call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey {
    /// The calling function's id.
    pub func: u32,
    /// The call's bytecode pc.
    pub pc: u32,
}

/// Decaying CPU time per function, per loop, per instruction (the time at
/// it: each sample counts for the instruction of its innermost frame) and
/// per call site (the time below a call: every sample counts for each call
/// on its stack).
#[derive(Clone, Debug)]
pub struct Hotness {
    half_life_ns: u64,
    functions: HashMap<u32, f64>,
    loops: HashMap<LoopKey, f64>,
    pcs: HashMap<PcKey, f64>,
    calls: HashMap<CallKey, f64>,
}

impl Hotness {
    /// Counts that halve every `half_life_ns` nanoseconds.
    pub fn new(half_life_ns: u64) -> Hotness {
        Hotness {
            half_life_ns: half_life_ns.max(1),
            functions: HashMap::new(),
            loops: HashMap::new(),
            pcs: HashMap::new(),
            calls: HashMap::new(),
        }
    }

    /// Adds a sample of `weight_ns` CPU time spent below the call `call`.
    pub fn add_call(&mut self, call: CallKey, weight_ns: u64) {
        *self.calls.entry(call).or_insert(0.0) += weight_ns as f64;
    }

    /// Adds a sample of `weight_ns` CPU time at instruction `at` (inside
    /// `in_loop`): to its function, the instruction and the loop.
    pub fn add(&mut self, at: PcKey, in_loop: Option<LoopKey>, weight_ns: u64) {
        *self.functions.entry(at.func).or_insert(0.0) += weight_ns as f64;
        *self.pcs.entry(at).or_insert(0.0) += weight_ns as f64;
        if let Some(l) = in_loop {
            *self.loops.entry(l).or_insert(0.0) += weight_ns as f64;
        }
    }

    /// Lets `elapsed_ns` of time pass: every count decays; counts that fall
    /// below a nanosecond are forgotten.
    pub fn decay(&mut self, elapsed_ns: u64) {
        let factor = 0.5f64.powf(elapsed_ns as f64 / self.half_life_ns as f64);
        self.functions.retain(|_, v| {
            *v *= factor;
            *v >= 1.0
        });
        self.loops.retain(|_, v| {
            *v *= factor;
            *v >= 1.0
        });
        self.pcs.retain(|_, v| {
            *v *= factor;
            *v >= 1.0
        });
        self.calls.retain(|_, v| {
            *v *= factor;
            *v >= 1.0
        });
    }

    /// Recent CPU time of `func`, in (decayed) nanoseconds.
    pub fn function(&self, func: u32) -> f64 {
        self.functions.get(&func).copied().unwrap_or(0.0)
    }

    /// Recent CPU time of a loop.
    pub fn of_loop(&self, key: LoopKey) -> f64 {
        self.loops.get(&key).copied().unwrap_or(0.0)
    }

    /// Functions whose recent CPU time is at least `threshold_ns`, hottest
    /// first.
    pub fn hot_functions(&self, threshold_ns: f64) -> Vec<(u32, f64)> {
        hottest(&self.functions, threshold_ns)
    }

    /// Loops whose recent CPU time is at least `threshold_ns`, hottest first.
    pub fn hot_loops(&self, threshold_ns: f64) -> Vec<(LoopKey, f64)> {
        hottest(&self.loops, threshold_ns)
    }

    /// Recent CPU time at every instruction a sample's innermost frame was
    /// at (nanoseconds), in no order.
    pub fn pcs(&self) -> impl Iterator<Item = (PcKey, f64)> + '_ {
        self.pcs.iter().map(|(&k, &v)| (k, v))
    }

    /// Recent CPU time below every call site (nanoseconds), in no order.
    pub fn calls(&self) -> impl Iterator<Item = (CallKey, f64)> + '_ {
        self.calls.iter().map(|(&k, &v)| (k, v))
    }

    /// Recent CPU time below each call site of `func` (nanoseconds).
    pub fn calls_of(&self, func: u32) -> Vec<(CallKey, f64)> {
        let mut calls: Vec<(CallKey, f64)> = self
            .calls
            .iter()
            .filter(|(k, _)| k.func == func)
            .map(|(&k, &v)| (k, v))
            .collect();
        calls.sort_by_key(|&(k, _)| k);
        calls
    }
}

/// The entries of `counts` at or above `threshold`, hottest first (ties by
/// key, so the order is deterministic).
fn hottest<K: Copy + Ord>(counts: &HashMap<K, f64>, threshold: f64) -> Vec<(K, f64)> {
    let mut hot: Vec<(K, f64)> = counts
        .iter()
        .filter(|(_, &v)| v >= threshold)
        .map(|(&k, &v)| (k, v))
        .collect();
    hot.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hot
}

/// The loops of a function, from its backward branches: `(header, last)`
/// pcs, so a pc is in the loop when `header <= pc <= last`.
pub fn innermost_loop(loops: &[(u32, u32)], pc: u32) -> Option<u32> {
    loops
        .iter()
        .filter(|&&(header, last)| header <= pc && pc <= last)
        .min_by_key(|&&(header, last)| last - header)
        .map(|&(header, _)| header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_halve_every_half_life() {
        let mut h = Hotness::new(100);
        let l = LoopKey { func: 1, header: 4 };
        h.add(PcKey { func: 1, pc: 5 }, Some(l), 1000);
        h.add(PcKey { func: 1, pc: 0 }, None, 1000);
        h.add(PcKey { func: 2, pc: 0 }, None, 500);
        assert_eq!(h.function(1), 2000.0);
        assert_eq!(h.of_loop(l), 1000.0);
        h.decay(100);
        assert!((h.function(1) - 1000.0).abs() < 1e-6);
        assert_eq!(
            h.hot_functions(300.0),
            vec![(1, 1000.0), (2, 250.0)]
                .into_iter()
                .filter(|x| x.1 >= 300.0)
                .collect::<Vec<_>>()
        );
        h.decay(10_000);
        assert_eq!(h.function(1), 0.0);
        assert!(h.hot_loops(0.0).is_empty());
    }

    #[test]
    fn instructions_add_up_per_pc_and_are_forgotten_when_cold() {
        let mut h = Hotness::new(100);
        let at = |func, pc| PcKey { func, pc };
        h.add(at(1, 5), None, 1000);
        h.add(at(1, 5), None, 1000);
        h.add(at(1, 7), None, 300);
        h.add(at(2, 5), None, 7);
        let sorted = |h: &Hotness| {
            let mut pcs: Vec<(PcKey, f64)> = h.pcs().collect();
            pcs.sort_by_key(|&(k, _)| k);
            pcs
        };
        assert_eq!(
            sorted(&h),
            vec![(at(1, 5), 2000.0), (at(1, 7), 300.0), (at(2, 5), 7.0)]
        );
        assert_eq!(h.function(1), 2300.0);
        // Three half-lives: 7 ns falls below one and is forgotten.
        h.decay(300);
        assert_eq!(sorted(&h), vec![(at(1, 5), 250.0), (at(1, 7), 37.5)]);
    }

    #[test]
    fn call_sites_add_up_per_caller_and_decay() {
        let mut h = Hotness::new(100);
        let a = CallKey { func: 1, pc: 3 };
        let b = CallKey { func: 1, pc: 9 };
        h.add_call(a, 1000);
        h.add_call(a, 1000);
        h.add_call(b, 400);
        h.add_call(CallKey { func: 2, pc: 3 }, 50);
        assert_eq!(h.calls_of(1), vec![(a, 2000.0), (b, 400.0)]);
        h.decay(100);
        assert_eq!(h.calls_of(1), vec![(a, 1000.0), (b, 200.0)]);
        h.decay(10_000);
        assert!(h.calls_of(1).is_empty());
    }

    #[test]
    fn the_innermost_loop_contains_the_pc() {
        let loops = [(2, 20), (5, 10), (12, 18)];
        assert_eq!(innermost_loop(&loops, 7), Some(5));
        assert_eq!(innermost_loop(&loops, 11), Some(2));
        assert_eq!(innermost_loop(&loops, 12), Some(12));
        assert_eq!(innermost_loop(&loops, 21), None);
    }
}
