use super::*;
use crate::profile::{SamplerStats, Tier, TierEvent, TierEventKind};
use crate::testdata::{frame, rich, sample};

const MS: u64 = 1_000_000;

/// Ten 1 ms samples with known shares. Self: fib 70% (4 opt, 3
/// baseline), helper 20%, main 10%. Total: main 100%, fib 70% (counted
/// once in the recursive samples), helper 20%. Events: fib goes interp ->
/// baseline -> opt; main's loop gets optimized OSR code, which main's
/// interpreted activation enters.
fn known_shares() -> Profile {
    use Tier::*;
    let (main, fib, helper) = (0, 1, 2);
    let mut samples = Vec::new();
    let mut add = |n: usize, frames: Vec<_>| {
        for _ in 0..n {
            let time = samples.len() as u64 * MS;
            samples.push(sample(time, MS, frames.clone()));
        }
    };
    add(
        4,
        vec![
            frame(fib, Optimized, 5),
            frame(fib, Optimized, 6),
            frame(main, Interp, 2),
        ],
    );
    add(3, vec![frame(fib, Baseline, 7), frame(main, Interp, 3)]);
    add(2, vec![frame(helper, Interp, 10), frame(main, Interp, 4)]);
    add(1, vec![frame(main, Interp, 2)]);
    let compile = |time_ns, from, to, duration_ns, queue_ns| TierEvent {
        time_ns,
        func: fib,
        kind: TierEventKind::Compile {
            from,
            to,
            duration_ns,
            queue_ns,
        },
    };
    let event = |time_ns, kind| TierEvent {
        time_ns,
        func: fib,
        kind,
    };
    Profile {
        program: "fib.tj".into(),
        duration_ns: 12 * MS,
        functions: vec!["main".into(), "fib".into(), "helper".into()],
        samples,
        events: vec![
            compile(MS, Interp, Baseline, 200_000, 50_000),
            event(1_250_000, TierEventKind::Install { tier: Baseline }),
            compile(3 * MS, Baseline, Optimized, 2 * MS, 100_000),
            event(5_100_000, TierEventKind::Install { tier: Optimized }),
            event(6 * MS, TierEventKind::Retire { tier: Baseline }),
            TierEvent {
                time_ns: 7 * MS,
                func: main,
                kind: TierEventKind::OsrCompile {
                    pc: 9,
                    duration_ns: 300_000,
                    queue_ns: 20_000,
                },
            },
            TierEvent {
                time_ns: 7_400_000,
                func: main,
                kind: TierEventKind::OsrEntry {
                    pc: 9,
                    from: Interp,
                    to: Optimized,
                },
            },
        ],
        stats: SamplerStats {
            requested_hz: 1000,
            samples: 10,
            dropped: 0,
            threads: 1,
            cpu_ns: 10 * MS,
            handler_ns: vec![(500, 8), (1_000, 1), (4_000, 1)],
            engine: "sampler-thread".into(),
            idle_ticks: 7,
            sample_cost_ns: 8_000,
            cost_cap_hz: 12_500,
            sampler_thread_cap_hz: 4_000,
            share_percent: 10,
            sampler_thread_cpu_ns: 600_000,
        },
    }
}

const KNOWN_SHARES_REPORT: &str = "\
tierjit profile of fib.tj
  duration  12.00 ms (wall clock)
  samples   10 on 1 thread, 10.00 ms of CPU time

Top functions by self time
  (tier columns: how the function's self time splits by tier)
  self %  total %  interp %  baseline %  opt %  samples  function
   70.0%    70.0%      0.0%       42.9%  57.1%        7  fib
   20.0%    20.0%    100.0%        0.0%   0.0%        2  helper
   10.0%   100.0%    100.0%        0.0%   0.0%        1  main

Top functions by total time
  (tier columns: how the function's total time splits by tier)
  self %  total %  interp %  baseline %  opt %  samples  function
   10.0%   100.0%    100.0%        0.0%   0.0%       10  main
   70.0%    70.0%      0.0%       42.9%  57.1%        7  fib
   20.0%    20.0%    100.0%        0.0%   0.0%        2  helper

Hottest lines (self time)
  self %  samples  line
   40.0%        4  fib:5
   30.0%        3  fib:7
   20.0%        2  helper:10
   10.0%        1  main:2

Tier timeline
      time  function  event                                    compile    queued
  1.000 ms  fib       compile interp -> baseline              200.0 us   50.0 us
  1.250 ms  fib       install baseline
  3.000 ms  fib       compile baseline -> opt                  2.00 ms  100.0 us
  5.100 ms  fib       install opt
  6.000 ms  fib       retire baseline
  7.000 ms  main      osr compile opt (loop at pc 9)          300.0 us   20.0 us
  7.400 ms  main      osr entry interp -> opt (loop at pc 9)

Compile times by target tier
  tier       compiles     total       p50       p90       p99       max
  baseline          1  200.0 us  200.0 us  200.0 us  200.0 us  200.0 us
  opt               1   2.00 ms   2.00 ms   2.00 ms   2.00 ms   2.00 ms
  opt (osr)         1  300.0 us  300.0 us  300.0 us  300.0 us  300.0 us

Sampler
  engine   sampler-thread, 7 idle ticks (a thread not running: no sample taken)
  rate     1000 Hz requested, 1000.0 Hz achieved (per thread, over 10.00 ms of CPU time)
  cap      the rate asked is under the cap of 4000 Hz: a sample costs 8.0 us, and sampling stays under 10% of thread time
  sampler  thread: 600.0 us of CPU time (5.0% of one core over the run), at most 4000 rounds a second
  samples  10 recorded, 0 dropped (0.0%)
  handler  p50 500 ns, p99 4.0 us, max 4.0 us (over 10 signals)
";

#[test]
fn text_report_shows_known_shares() {
    let report = text(&known_shares(), &ReportOptions::default());
    if report != KNOWN_SHARES_REPORT {
        panic!("text report differs; got:\n{report}");
    }
}

#[test]
fn empty_sections_say_so_in_one_line() {
    let report = text(&Profile::default(), &ReportOptions::default());
    for line in [
        "Top functions by self time\n  (no samples in tj code)\n",
        "Top functions by total time\n  (no samples in tj code)\n",
        "Hottest lines (self time)\n  (no samples in tj code)\n",
        "Tier timeline\n  (no tier events: nothing was compiled)\n",
        "Compile times by target tier\n  (no compiles)\n",
        "  handler  (no handler times recorded)\n",
    ] {
        assert!(report.contains(line), "missing {line:?} in:\n{report}");
    }
}

#[test]
fn top_limits_rows_and_says_how_many_are_left() {
    let options = ReportOptions {
        top: 1,
        lines: 2,
        timeline: 3,
    };
    let report = text(&known_shares(), &options);
    assert_eq!(report.matches("  ... and 2 more functions\n").count(), 2);
    assert!(report.contains("  ... and 2 more lines\n"));
    assert!(report.contains("  ... and 4 more events\n"));
}

#[test]
fn unweighted_samples_count_one_each() {
    let mut profile = known_shares();
    for s in &mut profile.samples {
        s.weight_ns = 0;
    }
    let report = text(&profile, &ReportOptions::default());
    assert!(report.contains("10 on 1 thread, unweighted: shares are shares of samples"));
    assert!(report.contains("   70.0%    70.0%      0.0%       42.9%  57.1%        7  fib\n"));
    assert!(folded(&profile).contains("main [interp];fib [baseline] 3\n"));
}

#[test]
fn weights_not_counts_decide_shares() {
    let mut profile = known_shares();
    // The lone `main` sample now weighs as much as the other nine.
    profile.samples[9].weight_ns = 9 * MS;
    let report = text(&profile, &ReportOptions::default());
    assert!(
        report.contains("   50.0%   100.0%    100.0%        0.0%   0.0%        1  main\n"),
        "{report}"
    );
}

#[test]
fn runtime_column_appears_only_with_runtime_frames_and_outside_share_shows() {
    let mut profile = rich();
    profile.samples[3].weight_ns = 1_000_000;
    profile.samples[2].weight_ns = 1_000_000;
    let report = text(&profile, &ReportOptions::default());
    assert!(report.contains("runtime %"));
    assert!(
        report.contains("  outside tj code (no tj frame on the stack): 25.0%\n"),
        "{report}"
    );
    assert!(!text(&known_shares(), &ReportOptions::default()).contains("runtime %"));
}

#[test]
fn dangling_function_ids_are_named_not_panicked_on() {
    let mut profile = known_shares();
    profile.functions.truncate(1);
    let report = text(&profile, &ReportOptions::default());
    assert!(report.contains("<function 1>"));
    assert!(folded(&profile).contains("main [interp];<function 1> [opt];<function 1> [opt] 4000\n"));
    let _ = json(&profile);
}

#[test]
fn folded_stacks_are_exact() {
    assert_eq!(
        folded(&known_shares()),
        "main [interp] 1000\n\
         main [interp];fib [baseline] 3000\n\
         main [interp];fib [opt];fib [opt] 4000\n\
         main [interp];helper [interp] 2000\n"
    );
}

#[test]
fn folded_keeps_tiny_stacks_and_marks_empty_ones() {
    let profile = Profile {
        functions: vec!["a;b".into()],
        samples: vec![
            sample(0, 10, vec![frame(0, Tier::Interp, 1)]),
            sample(1, 2_600, vec![]),
        ],
        ..Profile::default()
    };
    assert_eq!(folded(&profile), "[outside tj] 3\na_b [interp] 1\n");
}

#[test]
fn json_parses_and_holds_the_analysis() {
    let text = json(&known_shares());
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(value["program"], "fib.tj");
    assert_eq!(value["total_weight_ns"], 10 * MS);
    let functions = value["functions"].as_array().unwrap();
    assert_eq!(functions[0]["name"], "main");
    assert_eq!(functions[0]["total_percent"], 100.0);
    assert_eq!(functions[1]["name"], "fib");
    assert_eq!(functions[1]["self_ns"]["opt"], 4 * MS);
    assert_eq!(functions[1]["self_ns"]["baseline"], 3 * MS);
    assert_eq!(functions[1]["total_samples"], 7);
    assert_eq!(value["lines"][0]["function"], "fib");
    assert_eq!(value["lines"][0]["line"], 5);
    assert_eq!(value["lines"][0]["percent"], 40.0);
    let timeline = value["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 7);
    assert_eq!(timeline[2]["kind"], "compile");
    assert_eq!(timeline[2]["to"], "opt");
    assert_eq!(timeline[4]["kind"], "retire");
    assert_eq!(
        timeline[5],
        serde_json::json!({"time_ns": 7 * MS, "function": "main", "kind": "osr_compile",
            "pc": 9, "to": "opt", "duration_ns": 300_000, "queue_ns": 20_000})
    );
    assert_eq!(
        timeline[6],
        serde_json::json!({"time_ns": 7_400_000, "function": "main", "kind": "osr_entry",
            "pc": 9, "from": "interp", "to": "opt"})
    );
    assert_eq!(value["compile_times"][1]["tier"], "opt");
    assert_eq!(value["compile_times"][1]["osr"], false);
    assert_eq!(value["compile_times"][1]["p50_ns"], 2 * MS);
    assert_eq!(value["compile_times"][2]["tier"], "opt");
    assert_eq!(value["compile_times"][2]["osr"], true);
    assert_eq!(value["compile_times"][2]["compiles"], 1);
    assert_eq!(value["sampler"]["handler_p99_ns"], 4_000);
    assert_eq!(value["sampler"]["achieved_hz"], 1000.0);
    assert_eq!(value["sampler"]["engine"], "sampler-thread");
    assert_eq!(value["sampler"]["idle_ticks"], 7);
    assert_eq!(value["sampler"]["cap_hz"], 4_000);
    assert_eq!(value["sampler"]["cost_cap_hz"], 12_500);
    assert_eq!(value["sampler"]["sample_cost_ns"], 8_000);
}

#[test]
fn a_capped_rate_is_explained_in_the_header_and_the_sampler_section() {
    let mut profile = known_shares();
    profile.stats.requested_hz = 100_000;
    let report = text(&profile, &ReportOptions::default());
    let header = report.split("\n\n").next().unwrap();
    assert!(
        header.ends_with(
            "\n  rate      1000 Hz achieved of 100000 Hz asked: capped at 4000 Hz per busy \
             thread to keep the sampler thread under 10% of a core; a sample costs 8.0 us"
        ),
        "{header}"
    );
    profile.stats.sampler_thread_cap_hz = 0;
    let report = text(&profile, &ReportOptions::default());
    assert!(
        report.contains(
            "\n  cap      capped at 12500 Hz to keep sampling under 10% of thread time: \
             a sample costs 8.0 us\n"
        ),
        "{report}"
    );
    assert!(!report.contains("  sampler  thread"), "{report}");
    // Files from before the caps say nothing about them.
    profile.stats.cost_cap_hz = 0;
    let report = text(&profile, &ReportOptions::default());
    assert!(!report.contains("  cap      "), "{report}");
}

#[test]
fn json_of_an_empty_profile_parses() {
    let value: serde_json::Value = serde_json::from_str(&json(&Profile::default())).unwrap();
    assert_eq!(value["functions"].as_array().unwrap().len(), 0);
    assert_eq!(value["sampler"]["handler_p50_ns"], serde_json::Value::Null);
}

#[test]
fn flamegraph_colors_frames_by_tier() {
    let mut svg = Vec::new();
    flamegraph(&known_shares(), &mut svg).expect("flame graph");
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<?xml"), "{}", &svg[..80.min(svg.len())]);
    assert!(svg.contains("tierjit: fib.tj"));
    assert!(svg.contains("fib [opt]") && svg.contains("fib [baseline]"));
    assert!(svg.contains("red: interpreter"));
}

#[test]
fn flamegraph_of_an_empty_profile_does_not_panic() {
    let mut svg = Vec::new();
    let _ = flamegraph(&Profile::default(), &mut svg);
}

#[test]
fn rich_profile_renders_everywhere() {
    let profile = rich();
    let _ = text(&profile, &ReportOptions::default());
    let _ = folded(&profile);
    let _: serde_json::Value = serde_json::from_str(&json(&profile)).unwrap();
    let mut svg = Vec::new();
    flamegraph(&profile, &mut svg).unwrap();
}
