//! Builds SSA for every function of every tj program in the tree (test
//! programs, examples, benchmarks), at its start and at each loop header
//! (an on-stack-replacement entry), and checks each result with the IR
//! verifier and a print-parse-print round trip. This is the SSA builder's
//! test over real bytecode.

use std::path::{Path, PathBuf};
use tierjit_tiers::bytecode::{FuncId, Module};
use tierjit_tiers::opt::build::build;
use tierjit_tiers::opt::ir::parse::parse_func;
use tierjit_tiers::opt::ir::print::func_to_string;
use tierjit_tiers::opt::ir::verify::verify;
use tierjit_tiers::opt::ir::Func;

fn tj_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests/programs", "examples", "benches", "benches/tj"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "tj") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The targets of backward branches of function `id`.
fn loop_headers(module: &Module, id: FuncId) -> Vec<u32> {
    let code = &module.func(id).code;
    let mut headers: Vec<u32> = (0..code.len())
        .filter_map(|pc| code[pc].target().filter(|&t| t as usize <= pc))
        .collect();
    headers.sort_unstable();
    headers.dedup();
    headers
}

fn check(ir: &Func, what: &str) {
    let text = func_to_string(ir);
    if let Err(e) = verify(ir) {
        panic!("{what}: {e}\n{text}");
    }
    let parsed = parse_func(&text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    assert_eq!(
        func_to_string(&parsed),
        text,
        "{what}: print(parse(text)) differs"
    );
    if let Err(e) = verify(&parsed) {
        panic!("{what}, parsed back: {e}\n{text}");
    }
}

/// Builds every function of `module` at its start and at each loop
/// header and checks each result; gives (functions, OSR entries).
fn check_module(module: &Module, name: &str) -> (usize, usize) {
    let mut osr_entries = 0;
    for i in 0..module.funcs.len() {
        let id = FuncId(i as u32);
        let what = format!("{name}: {}", module.func(id).name);
        let ir = build(module, id, None).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        check(&ir, &what);
        for pc in loop_headers(module, id) {
            let what = format!("{what}, OSR entry at pc {pc}");
            let ir = match build(module, id, Some(pc)) {
                Ok(ir) => ir,
                // Dead code (after a `return`) can hold a loop; nothing
                // enters it.
                Err(e) if e.0 == "the loop header is unreachable" => continue,
                Err(e) => panic!("{what}: {e:?}"),
            };
            assert_eq!(ir.osr_pc, Some(pc), "{what}");
            check(&ir, &what);
            osr_entries += 1;
        }
    }
    (module.funcs.len(), osr_entries)
}

#[test]
fn every_function_builds_verifies_and_round_trips() {
    let (mut programs, mut funcs, mut osr_entries) = (0, 0, 0);
    for path in tj_files() {
        let source = std::fs::read(&path).expect("read a tj file");
        let Ok(module) = tierjit::lang::compile(&source) else {
            continue;
        };
        let (f, o) = check_module(&module, &path.display().to_string());
        programs += 1;
        funcs += f;
        osr_entries += o;
    }
    eprintln!("{programs} programs, {funcs} functions, {osr_entries} OSR entries");
    assert!(programs > 50 && osr_entries > 20, "too few programs found");
}

#[test]
fn random_programs_build_verify_and_round_trip() {
    let config = tierjit::fuzz::gen::GenConfig::default();
    for seed in 0..300 {
        let source = tierjit::fuzz::gen::generate(seed, &config);
        let module = tierjit::fuzz::host::compile(source.as_bytes())
            .unwrap_or_else(|e| panic!("seed {seed} does not compile: {e:?}"));
        check_module(&module, &format!("random program {seed}"));
    }
}
