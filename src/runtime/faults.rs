//! Faults injected on purpose, so that tests can show that a failure in the
//! JIT or in thread creation never changes a program's result
//! (`tierjit run --inject-fault KIND[:N]`, hidden from `--help`).
//!
//! Each fault names a step and how many times it succeeds first: with `N`
//! (default 0), the first `N` attempts succeed and every later one fails,
//! as the system or the compiler would fail it.

use std::sync::atomic::{AtomicU64, Ordering};

use super::os_thread::SpawnStep;

/// A step that can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A compiler (baseline or optimizing) returns an error.
    CompileError,
    /// A compiler panics.
    CompilePanic,
    /// Mapping a chunk of executable memory (`memfd_create` or `mmap`).
    CodeMap,
    /// Mapping a new thread's memory.
    SpawnMap,
    /// Protecting a new thread's guard page.
    SpawnGuard,
    /// `pthread_create`.
    SpawnCreate,
    /// A write of the perf map or the jitdump (as on a full disk).
    PerfWrite,
    /// A spawned thread panics as it starts (as a bug in the runtime
    /// would).
    ThreadPanic,
}

impl Fault {
    const ALL: [(Fault, &'static str); 8] = [
        (Fault::CompileError, "compile-error"),
        (Fault::CompilePanic, "compile-panic"),
        (Fault::CodeMap, "code-map"),
        (Fault::SpawnMap, "spawn-map"),
        (Fault::SpawnGuard, "spawn-guard"),
        (Fault::SpawnCreate, "spawn-create"),
        (Fault::PerfWrite, "perf-write"),
        (Fault::ThreadPanic, "thread-panic"),
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        Fault::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, n)| n)
    }
}

/// The faults of one run.
#[derive(Debug, Default)]
pub struct Faults {
    /// Each fault with the number of attempts that still succeed.
    planned: Vec<(Fault, AtomicU64)>,
}

impl Clone for Faults {
    fn clone(&self) -> Faults {
        Faults {
            planned: self
                .planned
                .iter()
                .map(|(f, n)| (*f, AtomicU64::new(n.load(Ordering::Relaxed))))
                .collect(),
        }
    }
}

impl Faults {
    /// Adds the fault `KIND[:N]`.
    pub fn add(&mut self, spec: &str) -> Result<(), String> {
        let (name, successes) = match spec.split_once(':') {
            Some((name, n)) => (
                name,
                n.parse::<u64>()
                    .map_err(|_| format!("bad count in fault `{spec}`"))?,
            ),
            None => (spec, 0),
        };
        let fault = Fault::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(f, _)| *f)
            .ok_or_else(|| {
                let names: Vec<_> = Fault::ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown fault `{name}` (one of: {})", names.join(", "))
            })?;
        self.planned.push((fault, AtomicU64::new(successes)));
        Ok(())
    }

    /// True if this attempt at `fault`'s step must fail.
    pub fn fails(&self, fault: Fault) -> bool {
        self.planned.iter().any(|(f, left)| {
            *f == fault
                && left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_err()
        })
    }

    /// How many attempts at `fault`'s step succeed before they fail, if it
    /// is planned (for a step counted elsewhere).
    pub fn successes(&self, fault: Fault) -> Option<u64> {
        self.planned
            .iter()
            .find(|(f, _)| *f == fault)
            .map(|(_, left)| left.load(Ordering::Relaxed))
    }

    /// The step at which this thread creation must fail, if any.
    pub fn spawn_step(&self) -> Option<SpawnStep> {
        [
            (Fault::SpawnMap, SpawnStep::Map),
            (Fault::SpawnGuard, SpawnStep::Guard),
            (Fault::SpawnCreate, SpawnStep::Create),
        ]
        .into_iter()
        .find(|&(fault, _)| self.fails(fault))
        .map(|(_, step)| step)
    }

    /// True if no fault is planned.
    pub fn is_empty(&self) -> bool {
        self.planned.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fails_after_its_successes() {
        let mut faults = Faults::default();
        faults.add("compile-error:2").unwrap();
        let seen: Vec<bool> = (0..4).map(|_| faults.fails(Fault::CompileError)).collect();
        assert_eq!(seen, [false, false, true, true]);
        assert!(!faults.fails(Fault::CodeMap));
    }

    #[test]
    fn bad_specs_are_errors() {
        let mut faults = Faults::default();
        assert!(faults
            .add("compile-eror")
            .unwrap_err()
            .contains("one of: compile-error"));
        assert!(faults.add("spawn-map:x").is_err());
        faults.add("spawn-create").unwrap();
        assert_eq!(faults.spawn_step(), Some(SpawnStep::Create));
    }
}
