use super::format::{self, Heat};
use super::*;
use crate::runtime::{TierMode, Vm, VmOptions};
use tierjit_tiers::code::Tier;

/// Optimized, `hot` inlines `leaf` and calls `cold` (recursive, so never
/// inlined) directly.
const PROGRAM: &[u8] = b"
fn leaf(x: int) -> int { return x * 3 + 1; }
fn cold(x: int) -> int {
    if x > 1000000 {
        return cold(x - 1);
    }
    return x - 1;
}
fn hot(n: int) -> int {
    let s = 0;
    for i in 0..n {
        s = s + leaf(i) + cold(i);
    }
    return s;
}
fn main() -> int { return hot(1000) % 256; }
";

/// hot(1000) % 256: the sum of 4i for i below 1000 is 1998000.
const RESULT: i64 = 1998000 % 256;

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tierjit-code-cache-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(tier: TierMode, dir: &Path) -> VmOptions {
    VmOptions {
        tier,
        code_cache: Some(CodeCacheOptions {
            dir: dir.to_path_buf(),
            program: "test-program".into(),
        }),
        ..VmOptions::default()
    }
}

fn module() -> Module {
    crate::lang::compile(PROGRAM).expect("compiles")
}

/// Saves the cache of `PROGRAM` compiled eagerly for `tier`, with
/// `interpreted` sent back to the interpreter first (so that direct calls
/// of it go through a call stub); gives the file.
fn save(dir: &Path, tier: TierMode, interpreted: Option<&str>) -> PathBuf {
    let module = module();
    let vm = Vm::new(module.clone(), options(tier, dir)).expect("vm");
    if let Some(name) = interpreted {
        vm.uninstall(module.find(name).unwrap());
    }
    let path = vm.save_code_cache().expect("saved").expect("a file");
    vm.shutdown();
    path
}

#[test]
fn a_saved_file_loads_and_runs_with_nothing_compiled() {
    let dir = temp_dir("loads");
    let path = save(&dir, TierMode::Opt, None);
    let contents = check_file(&path, &module(), &options(TierMode::Auto, &dir))
        .unwrap()
        .unwrap();
    assert_eq!(contents.entries.len(), 4);
    assert!(contents.entries.iter().all(|e| e.tier == Tier::Opt));
    assert!(contents.stubs.is_empty(), "every callee is optimized");
    let vm = Vm::new(module(), options(TierMode::Auto, &dir)).unwrap();
    for f in 0..4 {
        assert_eq!(vm.current_tier(FuncId(f)), Tier::Opt);
    }
    assert_eq!(vm.run_main().unwrap(), Some(RESULT));
    let events = vm.events.lock().clone();
    assert!(events
        .iter()
        .all(|e| matches!(e.kind, TierEventKind::CacheLoad { .. })));
    // Nothing new: the file is not written again.
    assert_eq!(vm.save_code_cache().unwrap(), None);
    vm.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn calls_of_interpreted_functions_go_through_call_stubs() {
    let dir = temp_dir("stubs");
    let path = save(&dir, TierMode::Opt, Some("cold"));
    let module = module();
    let contents = check_file(&path, &module, &options(TierMode::Auto, &dir))
        .unwrap()
        .unwrap();
    let cold = module.find("cold").unwrap();
    assert_eq!(contents.stubs.len(), 1);
    assert_eq!(contents.stubs[0].0, cold);
    assert!(contents.entries.iter().all(|e| e.func != cold));
    let vm = Vm::new(module.clone(), options(TierMode::Auto, &dir)).unwrap();
    assert_eq!(vm.current_tier(cold), Tier::Interp);
    assert_eq!(vm.run_main().unwrap(), Some(RESULT));
    // A pc in the stub maps to the callee's pc 0.
    let stub_pc = (vm.code_map().ranges())
        .ranges()
        .into_iter()
        .find(|r| r.tier == Tier::Interp.as_u32() && r.func == cold.0)
        .map(|r| r.start)
        .expect("the stub is in the code map");
    let mut frames = Vec::new();
    assert_eq!(
        vm.code_map().frames(stub_pc + 3, &mut frames),
        Some(Tier::Interp)
    );
    assert_eq!(frames, [(cold, 0)]);
    vm.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_mixed_run_saves_baseline_and_optimized_code() {
    let dir = temp_dir("mixed");
    // Seed 3 leaves some functions interpreted, some in each tier.
    let path = save(&dir, TierMode::Mixed(3), None);
    let contents = check_file(&path, &module(), &options(TierMode::Auto, &dir))
        .unwrap()
        .unwrap();
    let vm = Vm::new(module(), options(TierMode::Auto, &dir)).unwrap();
    for e in &contents.entries {
        // Baseline code from the file is queued for the optimizer at once.
        let now = vm.current_tier(e.func);
        assert!(now == e.tier || now == Tier::Opt, "{now} for {e:?}");
    }
    assert_eq!(vm.run_main().unwrap(), Some(RESULT));
    vm.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_flipped_byte_and_every_truncation_is_refused() {
    let dir = temp_dir("damage");
    let path = save(&dir, TierMode::Opt, Some("cold"));
    let module = module();
    let key = key_for(&module, &options(TierMode::Auto, &dir));
    let good = std::fs::read(&path).unwrap();
    assert!(format::check(&good, &key, &module).is_ok());
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x41;
        assert!(
            format::check(&bad, &key, &module).is_err(),
            "a flip at {at} was accepted"
        );
        assert!(format::check(&good[..at], &key, &module).is_err());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Flips behind a checksum fixed up again reach the structural checks:
/// they must refuse or accept, never panic, and what they accept has
/// every call site pointing at its callee.
#[test]
fn flips_behind_a_fixed_checksum_never_panic() {
    let dir = temp_dir("fixed-checksum");
    let path = save(&dir, TierMode::Opt, Some("cold"));
    let module = module();
    let key = key_for(&module, &options(TierMode::Auto, &dir));
    let good = std::fs::read(&path).unwrap();
    let code_at = format::summary(&good).unwrap().code.0 as usize;
    let mut accepted = 0;
    for at in (32..good.len()).filter(|&a| a < code_at + 4096) {
        let mut bad = good.clone();
        bad[at] ^= 0x41;
        let sum = format::checksum_words(&bad, Some(24));
        bad[24..32].copy_from_slice(&sum.to_le_bytes());
        if format::check(&bad, &key, &module).is_ok() {
            accepted += 1;
        }
    }
    // Only bytes no check can see (machine code, padding, heat values)
    // may still pass.
    assert!(accepted < good.len(), "{accepted} flips accepted");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn another_build_or_program_is_refused() {
    let dir = temp_dir("keys");
    let path = save(&dir, TierMode::Opt, None);
    let module = module();
    let mut key = key_for(&module, &options(TierMode::Auto, &dir));
    let bytes = std::fs::read(&path).unwrap();
    key.build ^= 1;
    let err = format::check(&bytes, &key, &module).unwrap_err();
    assert!(err.contains("another build"), "{err}");
    key.build ^= 1;
    key.module ^= 1;
    let err = format::check(&bytes, &key, &module).unwrap_err();
    assert!(err.contains("another program"), "{err}");
    key.module ^= 1;
    // Code that needs a feature this processor does not have (a bit no
    // processor sets), even under the very key the loader expects.
    key.cpu |= 1 << 63;
    let needs_more = format::write(
        &key,
        "p",
        module.funcs.len() as u32,
        &[],
        &Heat::default(),
        1,
    );
    let err = format::check(&needs_more, &key, &module).unwrap_err();
    assert!(err.contains("CPU features"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_file_is_a_warning_and_a_cold_run() {
    let dir = temp_dir("warning");
    let path = save(&dir, TierMode::Opt, None);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let warnings = std::sync::Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let vm = Vm::new(
        module(),
        VmOptions {
            warnings: crate::runtime::warnings::Warnings::new(move |m| {
                seen.lock().push(m.to_string())
            }),
            ..options(TierMode::Auto, &dir)
        },
    )
    .unwrap();
    assert_eq!(vm.current_tier(FuncId(0)), Tier::Interp);
    assert_eq!(vm.run_main().unwrap(), Some(RESULT));
    vm.shutdown();
    let warnings = warnings.lock().clone();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("checksum") && warnings[0].ends_with("; running cold"),
        "{warnings:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn heat_round_trips_and_stale_entries_of_the_program_go() {
    let dir = temp_dir("heat");
    std::fs::create_dir_all(&dir).unwrap();
    let module = module();
    let key = key_for(&module, &VmOptions::default());
    let heat = Heat {
        funcs: vec![(FuncId(2), 5_000_000), (FuncId(0), 7)],
        loops: vec![(FuncId(2), 3, 4_000_000)],
        calls: vec![(FuncId(2), 5, 1_000_000)],
    };
    let bytes = format::write(&key, "p", module.funcs.len() as u32, &[], &heat, 1);
    let contents = format::check(&bytes, &key, &module).unwrap();
    assert_eq!(contents.heat, heat);
    assert_eq!(contents.summary.program, "p");
    // An entry of the same program under an older key goes when a new
    // one is written; another program's stays.
    let old = dir.join("0000000000000001.tjc");
    let other = dir.join("0000000000000002.tjc");
    std::fs::write(&old, format::write(&key, "test-program", 4, &[], &heat, 1)).unwrap();
    std::fs::write(&other, format::write(&key, "other", 4, &[], &heat, 1)).unwrap();
    save(&dir, TierMode::Baseline, None);
    assert!(!old.exists());
    assert!(other.exists());
    assert_eq!(entries(&dir).unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_saved_call_heat_fills_in_what_the_live_profile_lacks() {
    let dir = temp_dir("call-heat");
    let module = module();
    let options = options(TierMode::Auto, &dir);
    let key = key_for(&module, &options);
    let hot = module.find("hot").unwrap();
    let heat = Heat {
        funcs: Vec::new(),
        loops: Vec::new(),
        calls: vec![(hot, 5, 4_000_000), (hot, 9, 7_000_000)],
    };
    let bytes = format::write(
        &key,
        "test-program",
        module.funcs.len() as u32,
        &[],
        &heat,
        1,
    );
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(entry_path(&dir, &key), bytes).unwrap();
    let vm = Vm::new(module, options).unwrap();
    let mut live = HashMap::from([((hot, 9), 1_000)]);
    vm.add_saved_call_heat(&mut live);
    assert_eq!(
        live,
        HashMap::from([((hot, 5), 4_000_000), ((hot, 9), 1_000)])
    );
    vm.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn baseline_code_from_the_file_is_optimized_at_start_without_the_profile() {
    let dir = temp_dir("promote");
    save(&dir, TierMode::Baseline, None);
    let vm = Vm::new(module(), options(TierMode::Auto, &dir)).unwrap();
    assert_eq!(vm.run_main().unwrap(), Some(RESULT));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let all_optimized = || (0..4).all(|f| vm.current_tier(FuncId(f)) == Tier::Opt);
    while !all_optimized() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(all_optimized(), "every baseline function went on to opt");
    assert!((0..4).all(|f| vm.compiles_without_profile(FuncId(f))));
    let path = vm.save_code_cache().unwrap().expect("new code to save");
    let contents = check_file(&path, &module(), &options(TierMode::Auto, &dir))
        .unwrap()
        .unwrap();
    assert!(contents.entries.iter().all(|e| e.tier == Tier::Opt));
    vm.shutdown();
    // The next run has nothing to promote, and samples slowly from the
    // start.
    let vm = Vm::new(module(), options(TierMode::Auto, &dir)).unwrap();
    assert!(!(0..4).any(|f| vm.compiles_without_profile(FuncId(f))));
    assert!(vm.tiering.as_ref().unwrap().quiet_for(0));
    vm.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}
