//! Costs that must stay linear in what a program asks for.

mod common;
use std::time::{Duration, Instant};

#[test]
fn joining_a_chain_of_threads_takes_linear_time() {
    // 0.3 s here for 3,000 threads; 35 s when every thread's end woke
    // every waiting joiner. The bound only catches that (quadratic) cost
    // on a loaded machine, it measures nothing.
    let started = Instant::now();
    let (status, stdout, stderr) = common::run(&[
        "run",
        "--tier",
        "interp",
        "tests/limits/join_chain.tj",
        "3000",
    ]);
    let took = started.elapsed();
    assert_eq!((status, stdout.as_str()), (0, "3000\n"), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
