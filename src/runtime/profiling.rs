//! Profiling a run: sampler registration per thread, the aggregator, and
//! the finished [`Profile`].
//!
//! Each thread that runs tj code registers with the sampler for as long as
//! it runs, describing its interpreted frame records to it. The aggregator
//! thread drains every thread's ring every few milliseconds and resolves the
//! raw frames (native pcs and interpreted records) into (function, tier,
//! line) while the code they point into is still mapped.

use super::Vm;
use parking_lot::Mutex;
use std::mem::offset_of;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tierjit_profiler::profile::{Frame, Profile, Sample, SamplerStats, Tier};
use tierjit_profiler::ring::{RawSample, Ring, FRAME_INTERP, FRAME_NATIVE, FRAME_PAYLOAD};
use tierjit_profiler::sampler::{self, Registration, SamplerConfig};
use tierjit_profiler::stackwalk::{InterpFrames, RecordLayout};
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::exec::{FrameRecord, ThreadState};

/// How often the aggregator drains the rings.
const DRAIN_EVERY: Duration = Duration::from_millis(10);

struct ThreadRing {
    thread: u32,
    ring: Arc<Ring>,
    idle: Arc<AtomicU64>,
}

#[derive(Default)]
struct Collected {
    samples: Vec<Sample>,
    cpu_ns: u64,
    handler_ns: Vec<u64>,
}

/// The profiling state of one Vm.
pub struct Profiling {
    config: SamplerConfig,
    start_ns: u64,
    threads: Mutex<Vec<ThreadRing>>,
    collected: Mutex<Collected>,
    stop: AtomicBool,
    aggregator: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn monotonic_ns() -> u64 {
    tierjit_tiers::builtins::now_ns() as u64
}

/// Where the profiler finds a thread's interpreted frames.
fn interp_frames(ts: &ThreadState) -> InterpFrames {
    let (records, len) = ts.frames.raw_parts();
    InterpFrames {
        records: records as *const u8,
        len,
        layout: RecordLayout {
            stride: std::mem::size_of::<FrameRecord>(),
            func: offset_of!(FrameRecord, func),
            pc: offset_of!(FrameRecord, pc),
            native_fp: offset_of!(FrameRecord, native_fp),
            native_ret: offset_of!(FrameRecord, native_ret),
        },
    }
}

impl Profiling {
    /// Profiling at `hz` samples per second of CPU time, per thread.
    pub fn new(hz: u32) -> Profiling {
        Profiling {
            config: SamplerConfig {
                hz,
                ring_capacity: (hz as usize / 10).clamp(256, 1 << 14),
            },
            start_ns: monotonic_ns(),
            threads: Mutex::new(Vec::new()),
            collected: Mutex::new(Collected::default()),
            stop: AtomicBool::new(false),
            aggregator: Mutex::new(None),
        }
    }

    /// Starts the aggregator thread (it holds only a weak reference).
    pub fn start(&self, vm: Weak<Vm>) {
        let handle = std::thread::Builder::new()
            .name("tj-profile".into())
            .spawn(move || loop {
                let Some(vm) = vm.upgrade() else { return };
                let profiling = vm.profiling.as_ref().expect("started with profiling");
                if profiling.stop.load(Ordering::Acquire) {
                    return;
                }
                profiling.drain(&vm);
                drop(vm);
                std::thread::sleep(DRAIN_EVERY);
            });
        *self.aggregator.lock() = handle.ok();
    }

    /// Samples the calling thread (handle `thread`) while the returned
    /// registration lives. `ts` must not move meanwhile.
    pub fn register(&self, vm: &Vm, thread: i64, ts: &ThreadState) -> Option<Registration> {
        let registration =
            sampler::register_current_thread(self.config, vm.code_map.ranges(), interp_frames(ts))
                .ok()?;
        self.threads.lock().push(ThreadRing {
            thread: thread as u32,
            ring: registration.ring(),
            idle: registration.idle_ticks(),
        });
        Some(registration)
    }

    /// Moves every recorded sample out of the rings, resolved.
    fn drain(&self, vm: &Vm) {
        let threads: Vec<(u32, Arc<Ring>)> = self
            .threads
            .lock()
            .iter()
            .map(|t| (t.thread, t.ring.clone()))
            .collect();
        let mut collected = self.collected.lock();
        for (thread, ring) in threads {
            ring.drain(|raw| {
                let sample = self.resolve(vm, thread, raw);
                collected.cpu_ns += raw.weight_ns;
                collected.handler_ns.push(raw.handler_ns as u64);
                collected.samples.push(sample);
            });
        }
    }

    fn resolve(&self, vm: &Vm, thread: u32, raw: &RawSample) -> Sample {
        let frames = raw
            .frames()
            .iter()
            .filter_map(|&word| resolve_frame(vm, word))
            .collect();
        Sample {
            thread,
            time_ns: raw.time_ns.saturating_sub(self.start_ns),
            weight_ns: raw.weight_ns,
            frames,
        }
    }

    /// Stops sampling and gives the profile of the run so far.
    pub fn finish(&self, vm: &Vm, program: &str) -> Profile {
        self.stop.store(true, Ordering::Release);
        if let Some(aggregator) = self.aggregator.lock().take() {
            let _ = aggregator.join();
        }
        self.drain(vm);
        let threads = self.threads.lock();
        let dropped = threads.iter().map(|t| t.ring.dropped()).sum();
        let idle: u64 = threads.iter().map(|t| t.idle.load(Ordering::Relaxed)).sum();
        let _ = idle;
        let collected = std::mem::take(&mut *self.collected.lock());
        let mut histogram =
            hdrhistogram::Histogram::<u64>::new(3).expect("3 significant figures is valid");
        for &ns in &collected.handler_ns {
            let _ = histogram.record(ns.max(1));
        }
        let handler_ns = histogram
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        Profile {
            program: program.to_string(),
            duration_ns: monotonic_ns().saturating_sub(self.start_ns),
            functions: vm.module().funcs.iter().map(|f| f.name.clone()).collect(),
            stats: SamplerStats {
                requested_hz: self.config.hz,
                samples: collected.samples.len() as u64,
                dropped,
                threads: threads.len() as u32,
                cpu_ns: collected.cpu_ns,
                handler_ns,
            },
            samples: collected.samples,
            events: Vec::new(),
        }
    }
}

/// The (function, tier, line) of one frame word of a raw sample.
fn resolve_frame(vm: &Vm, word: u64) -> Option<Frame> {
    let payload = word & FRAME_PAYLOAD;
    let (func, tier, pc) = match word & !FRAME_PAYLOAD {
        FRAME_NATIVE => {
            let pc = payload as usize;
            let range = vm.code_map.find(pc)?;
            let (func, bytecode_pc) = vm.code_map.frame(pc)?;
            let tier = if range.tier >= 2 {
                Tier::Optimized
            } else {
                Tier::Baseline
            };
            (func, tier, bytecode_pc)
        }
        FRAME_INTERP => (FuncId((payload >> 32) as u32), Tier::Interp, payload as u32),
        _ => return None,
    };
    let function = vm.module().funcs.get(func.index())?;
    Some(Frame {
        func: func.0,
        tier,
        line: function.lines.line(pc),
    })
}
