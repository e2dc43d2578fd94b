//! Properties of generated code that the program corpus cannot show:
//! W^X while code runs, position independence, the method-table switch,
//! and no-frame tables that list exactly where frames are not set up.

use std::sync::Arc;
use tierjit::lang::compile;
use tierjit::runtime::{TierMode, Vm, VmOptions};
use tierjit::tiers::baseline;
use tierjit::tiers::bytecode::FuncId;
use tierjit::tiers::code::{CompiledCode, NoFrameKind, NoFrameRange, PcMapEntry, Tier};
use tierjit::tiers::opt;

fn vm(source: &str, tier: TierMode) -> Arc<Vm> {
    let module = compile(source.as_bytes()).expect("compiles");
    let options = VmOptions {
        tier,
        line_buffered: Some(false),
        ..VmOptions::default()
    };
    Vm::new(module, options).expect("verifies and compiles")
}

const SUM_OF_SQUARES: &str = "
fn sum(n: int) -> int {
    let s = 0;
    for i in 0..n { s = s + i * i % 7; }
    return s;
}
fn main() -> int {
    let total = 0;
    for round in 0..200 { total = total + sum(100000); }
    return total % 256;
}
";

/// The value `main` returns, computed independently.
fn expected_sum() -> i64 {
    let s: i64 = (0..100000i64).map(|i| i * i % 7).sum();
    (s * 200) % 256
}

#[test]
fn no_mapping_is_writable_and_executable_while_generated_code_runs() {
    let vm = vm(SUM_OF_SQUARES, TierMode::Baseline);
    let runner = {
        let vm = vm.clone();
        std::thread::spawn(move || vm.run_main())
    };
    let mut saw_code_view = false;
    while !runner.is_finished() {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for line in maps.lines() {
            let perms = line.split_whitespace().nth(1).unwrap_or("");
            assert!(
                !(perms.contains('w') && perms.contains('x')),
                "W^X broken: {line}"
            );
            saw_code_view |= line.contains("tierjit-code") && perms.starts_with("r-x");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(runner.join().unwrap().unwrap(), Some(expected_sum()));
    assert!(
        saw_code_view,
        "the executable view of code memory was never mapped"
    );
}

#[test]
fn a_copied_blob_runs_the_same_at_another_address() {
    let vm = vm(SUM_OF_SQUARES, TierMode::Interp);
    let sum = vm.module().find("sum").unwrap();
    let original = vm.compile(sum, Tier::Baseline).unwrap();
    assert_eq!(vm.run_main().unwrap(), Some(expected_sum()));

    // Copy the placed bytes (not a fresh compile) to a new blob elsewhere.
    let bytes = vm.blob_code(&original);
    let compiled = baseline::compile(vm.module(), sum).unwrap();
    assert_eq!(
        bytes, compiled.code,
        "placement wrote no fixups into the code"
    );
    let copy = vm
        .place(&CompiledCode {
            code: bytes,
            ..compiled
        })
        .unwrap();
    assert_ne!(copy.code_rx, original.code_rx);
    vm.install(sum, copy);
    assert_eq!(vm.run_main().unwrap(), Some(expected_sum()));
    assert_eq!(vm.code_map().find(copy.code_rx + 1).unwrap().func, sum.0);
    let mut frames = Vec::new();
    assert_eq!(
        vm.code_map().frames(copy.code_rx, &mut frames),
        Some(Tier::Baseline)
    );
    assert_eq!(frames, [(sum, 0)]);
}

#[test]
fn every_function_of_the_benchmarks_and_examples_compiles() {
    let dirs = ["benches/tj", "examples"];
    let mut count = 0;
    for dir in dirs {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "tj") {
                let module = compile(&std::fs::read(&path).unwrap()).unwrap();
                for i in 0..module.funcs.len() {
                    let code = baseline::compile(&module, FuncId(i as u32)).unwrap();
                    assert!(!code.code.is_empty());
                    assert_eq!(code.pc_map[0], PcMapEntry::root(0, 0));
                    count += 1;
                }
            }
        }
    }
    assert!(count > 10);
}

/// The no-frame table that `code` should have, from its instructions:
/// every `push rbp` and the `mov rbp, rsp` after it, every `ret` (which
/// must follow a `pop rbp`), every `jmp reg` (a tail jump into
/// optimized code, which must follow a `pop rbp` too).
fn no_frame_of_instructions(code: &[u8]) -> Vec<NoFrameRange> {
    use iced_x86::{Code, Decoder, DecoderOptions};
    let instructions: Vec<_> = Decoder::new(64, code, DecoderOptions::NONE)
        .into_iter()
        .collect();
    let mut expected = Vec::new();
    for (i, ins) in instructions.iter().enumerate() {
        let range = |kind| NoFrameRange {
            start: ins.ip() as u32,
            end: ins.next_ip() as u32,
            kind,
        };
        let before = i.checked_sub(1).map(|p| instructions[p].code());
        match ins.code() {
            Code::Push_r64 if ins.op0_register() == iced_x86::Register::RBP => {
                expected.push(range(NoFrameKind::ReturnAtSp));
            }
            Code::Mov_rm64_r64 | Code::Mov_r64_rm64
                if ins.op0_register() == iced_x86::Register::RBP
                    && ins.op1_register() == iced_x86::Register::RSP =>
            {
                assert_eq!(before, Some(Code::Push_r64), "mov rbp, rsp at {}", ins.ip());
                expected.push(range(NoFrameKind::ReturnAboveSavedRbp));
            }
            Code::Retnq => {
                assert_eq!(before, Some(Code::Pop_r64), "ret at {}", ins.ip());
                expected.push(range(NoFrameKind::ReturnAtSp));
            }
            Code::Jmp_rm64 if ins.op0_kind() == iced_x86::OpKind::Register => {
                assert_eq!(before, Some(Code::Pop_r64), "jmp reg at {}", ins.ip());
                expected.push(range(NoFrameKind::ReturnAtSp));
            }
            _ => {}
        }
    }
    expected
}

#[test]
fn no_frame_tables_list_every_frame_entry_and_exit() {
    let dirs = ["benches/tj", "examples", "tests/profiler"];
    let mut count = 0;
    for dir in dirs {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "tj") {
                continue;
            }
            let module = compile(&std::fs::read(&path).unwrap()).unwrap();
            for i in 0..module.funcs.len() {
                let func = FuncId(i as u32);
                let mut compiled = vec![baseline::compile(&module, func).unwrap()];
                compiled.extend(opt::compile(&module, func, &opt::Options::default()).ok());
                for code in compiled {
                    assert_eq!(
                        code.no_frame,
                        no_frame_of_instructions(&code.code),
                        "{} {:?} {}",
                        path.display(),
                        code.tier,
                        module.func(func).name
                    );
                    // The entry and (baseline) each OSR entry start without a frame.
                    assert_eq!(code.no_frame_at(0), Some(NoFrameKind::ReturnAtSp));
                    for &(_, offset) in &code.osr_entries {
                        assert_eq!(code.no_frame_at(offset), Some(NoFrameKind::ReturnAtSp));
                    }
                    count += 1;
                }
            }
        }
    }
    assert!(count > 20);
}
