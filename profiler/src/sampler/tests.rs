use super::*;
use crate::codemap::CodeMap;

fn spin_for(ms: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed().as_millis() < ms as u128 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    x
}

fn thread_cpu_ns() -> u64 {
    now(libc::CLOCK_THREAD_CPUTIME_ID).unwrap()
}

const ENGINES: [Engine; 2] = [Engine::SamplerThread, Engine::ThreadTimers];

#[test]
fn a_busy_thread_is_sampled_at_about_the_requested_rate() {
    for engine in ENGINES {
        for hz in [1000, 10_000] {
            let sampler = Sampler::start(SamplerConfig {
                hz,
                ring_capacity: 1 << 14,
                engine,
            })
            .unwrap();
            // From before registering: the first sample's weight
            // counts from there (allocating the ring takes a while).
            let cpu0 = thread_cpu_ns();
            let reg = sampler
                .register_current_thread(Arc::new(CodeMap::new(4)), InterpFrames::NONE)
                .unwrap();
            std::hint::black_box(spin_for(300));
            let cpu = thread_cpu_ns() - cpu0;
            let ring = reg.ring();
            drop(reg);
            let (mut samples, mut weight) = (0u64, 0u64);
            ring.drain(|s| {
                samples += 1;
                weight += s.weight_ns;
            });
            let achieved = samples as f64 * 1e9 / cpu as f64;
            // Shared 2-core machines lose ticks; ask only for the order
            // of magnitude here (the benches measure the real rate).
            assert!(
                achieved > hz as f64 * 0.3,
                "{engine:?}: {hz} Hz asked, {achieved:.0} Hz achieved"
            );
            assert!(
                weight <= cpu + 5_000_000,
                "{engine:?}: weights {weight} add up to at most the CPU time {cpu}"
            );
            assert!(
                weight >= cpu / 2,
                "{engine:?}: weights {weight} cover most of the CPU time {cpu}"
            );
        }
    }
}

#[test]
fn a_blocked_thread_gives_idle_ticks_not_samples() {
    for engine in ENGINES {
        let sampler = Sampler::start(SamplerConfig {
            hz: 2000,
            ring_capacity: 1024,
            engine,
        })
        .unwrap();
        let reg = sampler
            .register_current_thread(Arc::new(CodeMap::new(1)), InterpFrames::NONE)
            .unwrap();
        // nanosleep returns early on a signal; keep sleeping for 100 ms.
        let until = std::time::Instant::now() + std::time::Duration::from_millis(100);
        while std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let idle = reg.idle_ticks().load(Ordering::Relaxed);
        let ring = reg.ring();
        drop(reg);
        let mut samples = 0;
        ring.drain(|_| samples += 1);
        assert!(idle > 20, "{engine:?}: idle ticks: {idle}");
        assert!(
            samples < idle,
            "{engine:?}: samples {samples} while blocked, idle {idle}"
        );
    }
}

#[test]
fn the_sampler_thread_samples_each_busy_thread_and_stops_on_drop() {
    let sampler = Arc::new(
        Sampler::start(SamplerConfig {
            hz: 1000,
            ring_capacity: 4096,
            engine: Engine::SamplerThread,
        })
        .unwrap(),
    );
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let sampler = sampler.clone();
            std::thread::spawn(move || {
                let reg = sampler
                    .register_current_thread(Arc::new(CodeMap::new(1)), InterpFrames::NONE)
                    .unwrap();
                std::hint::black_box(spin_for(200));
                let ring = reg.ring();
                drop(reg);
                let mut samples = 0;
                ring.drain(|_| samples += 1);
                samples
            })
        })
        .collect();
    for worker in workers {
        let samples = worker.join().unwrap();
        // 200 ms at 1 kHz, three threads on two shared cores.
        assert!(samples >= 10, "a busy thread got only {samples} samples");
    }
    let sampler = Arc::into_inner(sampler).expect("workers are done");
    let started = std::time::Instant::now();
    drop(sampler);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn stray_sigprof_is_not_a_sample() {
    let sampler = Sampler::start(SamplerConfig {
        hz: 1,
        ring_capacity: 64,
        engine: Engine::SamplerThread,
    })
    .unwrap();
    let reg = sampler
        .register_current_thread(Arc::new(CodeMap::new(1)), InterpFrames::NONE)
        .unwrap();
    for _ in 0..5 {
        // SAFETY: sends SIGPROF (handled, restartable) to this thread.
        unsafe {
            libc::pthread_kill(libc::pthread_self(), libc::SIGPROF);
        }
    }
    let ring = reg.ring();
    drop(reg);
    let mut samples = 0;
    ring.drain(|_| samples += 1);
    assert_eq!(samples, 0);
}
