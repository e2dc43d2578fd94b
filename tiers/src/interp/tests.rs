//! Interpreter tests on hand-built bytecode, with a minimal host.

use super::*;
use crate::builtins::program_arg;
use crate::bytecode::builder::FunctionBuilder;
use crate::bytecode::verify::verify_module;
use crate::bytecode::{Function, Reg};
use crate::exec::{Limits, MethodTable};
use crate::heap::Heap;
use crate::Type;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

struct TestHost {
    module: Module,
    methods: MethodTable,
    heap: Heap,
    printed: Mutex<Vec<u8>>,
}

impl Host for TestHost {
    fn module(&self) -> &Module {
        &self.module
    }
    fn method_table(&self) -> &MethodTable {
        &self.methods
    }
    fn heap(&self) -> &Heap {
        &self.heap
    }
    fn args(&self) -> &[String] {
        &[]
    }
    fn line_buffered(&self) -> bool {
        true
    }
    fn write_output(&self, lines: &mut Vec<u8>) {
        self.printed.lock().append(lines);
    }
    fn spawn(&self, _: FuncId, _: Vec<u64>) -> Result<i64, Trap> {
        Err(Trap::OutOfMemory)
    }
    fn join(&self, _: i64, _: i64) -> Result<i64, Trap> {
        Err(Trap::BadThreadHandle)
    }
    fn native_frames(&self, _: usize, _: &mut Vec<(FuncId, u32)>) -> bool {
        false
    }
    fn osr_entry(&self, _: FuncId, _: u32, _: usize, _: &AtomicUsize) -> Option<usize> {
        None
    }
}

fn host(funcs: Vec<Function>) -> Arc<TestHost> {
    let module = Module {
        funcs,
        ..Module::default()
    };
    verify_module(&module).unwrap();
    Arc::new(TestHost {
        methods: MethodTable::new(&module, interpreter_entry),
        module,
        heap: Heap::new(1 << 20),
        printed: Mutex::new(Vec::new()),
    })
}

fn thread(host: &Arc<TestHost>, limits: Limits) -> ThreadState {
    ThreadState::new(
        host.clone(),
        0,
        limits,
        crate::stacks::ThreadStacks::new(limits).unwrap(),
        Arc::new(AtomicBool::new(false)),
        Default::default(),
    )
}

/// fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2), as the front end lowers it.
fn fib() -> Function {
    let mut b = FunctionBuilder::new("fib", vec![Type::Int], Some(Type::Int));
    b.reserve_regs(4);
    let recurse = b.new_label();
    b.emit(Instr::LoadInt {
        dst: Reg(1),
        imm: 2,
    });
    b.emit_branch(
        Instr::JumpLeInt {
            a: Reg(1),
            b: Reg(0),
            target: 0,
        },
        recurse,
    );
    b.emit(Instr::Return { src: Reg(0) });
    b.bind(recurse);
    b.emit(Instr::AddIntImm {
        dst: Reg(2),
        a: Reg(0),
        imm: -1,
    });
    b.emit(Instr::Call {
        dst: Reg(1),
        func: FuncId(0),
        base: Reg(2),
    });
    b.emit(Instr::AddIntImm {
        dst: Reg(2),
        a: Reg(0),
        imm: -2,
    });
    b.emit(Instr::Call {
        dst: Reg(2),
        func: FuncId(0),
        base: Reg(2),
    });
    b.emit(Instr::AddInt {
        dst: Reg(1),
        a: Reg(1),
        b: Reg(2),
    });
    b.emit(Instr::Return { src: Reg(1) });
    b.finish().unwrap()
}

#[test]
fn recursive_calls_return_through_frames() {
    let host = host(vec![fib()]);
    let mut ts = thread(&host, Limits::default());
    assert_eq!(call(&mut ts, FuncId(0), &[20]).unwrap(), Some(6765));
    assert!(ts.frames.is_empty());
}

#[test]
fn deep_recursion_is_a_stack_overflow_not_a_crash() {
    let host = host(vec![fib()]);
    let limits = Limits {
        max_frames: 50,
        register_slots: 1 << 16,
    };
    let mut ts = thread(&host, limits);
    assert_eq!(call(&mut ts, FuncId(0), &[30]).unwrap(), Some(832040));
    // fib(100) recurses 100 deep on its first path.
    let e = call(&mut ts, FuncId(0), &[100]).unwrap_err();
    assert_eq!(e.trap, Trap::StackOverflow);
    assert_eq!(e.frames.len(), 50);
    assert!(ts.frames.is_empty());
}

#[test]
fn traps_carry_the_pc_of_every_frame() {
    // f(a) = 10 / a, called from g at pc 1.
    let mut f = FunctionBuilder::new("f", vec![Type::Int], Some(Type::Int));
    f.reserve_regs(2);
    f.emit(Instr::LoadInt {
        dst: Reg(1),
        imm: 10,
    });
    f.emit(Instr::DivInt {
        dst: Reg(1),
        a: Reg(1),
        b: Reg(0),
    });
    f.emit(Instr::Return { src: Reg(1) });
    let mut g = FunctionBuilder::new("g", vec![], Some(Type::Int));
    g.reserve_regs(1);
    g.emit(Instr::LoadInt {
        dst: Reg(0),
        imm: 0,
    });
    g.emit(Instr::Call {
        dst: Reg(0),
        func: FuncId(0),
        base: Reg(0),
    });
    g.emit(Instr::Return { src: Reg(0) });
    let host = host(vec![f.finish().unwrap(), g.finish().unwrap()]);
    let mut ts = thread(&host, Limits::default());
    let e = call(&mut ts, FuncId(1), &[]).unwrap_err();
    assert_eq!(e.trap, Trap::DivisionByZero);
    assert_eq!(e.frames, vec![(FuncId(0), 1), (FuncId(1), 1)]);
}

unsafe extern "sysv64" fn native_triple(
    _: *mut ThreadState,
    frame: *mut u64,
    _: u32,
    _: usize,
    _: usize,
) -> u64 {
    // SAFETY: the interpreter passes the callee's window, which holds the
    // one int argument.
    unsafe { (*frame).wrapping_mul(3) }
}

#[test]
fn calls_go_through_the_method_table_slot() {
    let host = host(vec![fib()]);
    let mut ts = thread(&host, Limits::default());
    host.methods.install(FuncId(0), native_triple);
    // Entering from the host goes through the slot too.
    assert_eq!(call(&mut ts, FuncId(0), &[5]).unwrap(), Some(15));
    host.methods.install(FuncId(0), interpreter_entry);
    assert_eq!(call(&mut ts, FuncId(0), &[5]).unwrap(), Some(5));
}

#[test]
fn float_min_max_follow_ieee_minimum_maximum() {
    assert!(float_min(f64::NAN, 1.0).is_nan());
    assert!(float_max(1.0, f64::NAN).is_nan());
    assert!(float_min(0.0, -0.0).is_sign_negative());
    assert!(float_min(-0.0, 0.0).is_sign_negative());
    assert!(float_max(-0.0, 0.0).is_sign_positive());
    assert!(float_max(0.0, -0.0).is_sign_positive());
    assert_eq!(float_min(1.0, 2.0), 1.0);
    assert_eq!(float_max(1.0, 2.0), 2.0);
}

#[test]
fn program_args_parse_like_rust() {
    let args: Vec<String> = ["+5", "-0", "x", "9223372036854775808"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(program_arg(&args, 0), Ok(5));
    assert_eq!(program_arg(&args, 1), Ok(0));
    assert_eq!(program_arg(&args, 2), Err(Trap::BadArgument));
    assert_eq!(program_arg(&args, 3), Err(Trap::BadArgument));
    assert_eq!(program_arg(&args, 4), Err(Trap::BadArgument));
    assert_eq!(program_arg(&args, -1), Err(Trap::BadArgument));
}

#[test]
fn interpreter_entry_keeps_its_native_caller_reachable_and_restores_the_site() {
    let host = host(vec![fib()]);
    let mut ts = thread(&host, Limits::default());
    // An outer site (as if a helper were running further out).
    ts.ctx.helper_pc = 0x1111;
    ts.ctx.helper_fp = 0x2222;
    ts.regs[0] = 10;
    let frame = ts.regs.as_mut_ptr();
    // SAFETY: `ts` is this thread's state and `frame` its register stack,
    // holding fib's one argument; the fake caller addresses are only
    // recorded, never followed (nothing walks this thread's stack here).
    let result = unsafe { interpreter_entry(&mut ts, frame, 0, 0xaaa0, 0xbbb0) };
    assert_eq!(result, 55);
    assert!(ts.frames.is_empty());
    assert_eq!((ts.ctx.helper_pc, ts.ctx.helper_fp), (0x1111, 0x2222));
}

#[test]
fn dropping_a_record_with_a_native_caller_names_the_caller_first() {
    let host = host(vec![fib()]);
    let mut ts = thread(&host, Limits::default());
    let linked = FrameRecord {
        native_fp: 0xf0,
        native_ret: 0xe0,
        ..FrameRecord::new(FuncId(0), 0, NO_RESULT)
    };
    ts.push_frame(linked, 4).unwrap();
    ts.push_frame(FrameRecord::new(FuncId(0), 4, NO_RESULT), 4)
        .unwrap();
    // An interpreted callee's record links to nothing: popping it leaves
    // the context alone.
    ts.pop_frame().unwrap();
    assert_eq!(ts.ctx.helper_pc, 0);
    ts.pop_frame().unwrap();
    assert_eq!((ts.ctx.helper_pc, ts.ctx.helper_fp), (0xe0, 0xf0));
    // Truncating through a linked record does the same.
    ts.ctx.helper_pc = 0;
    ts.push_frame(linked, 4).unwrap();
    ts.push_frame(FrameRecord::new(FuncId(0), 4, NO_RESULT), 4)
        .unwrap();
    ts.truncate_frames(0);
    assert_eq!((ts.ctx.helper_pc, ts.ctx.helper_fp), (0xe0, 0xf0));
    assert_eq!(ts.ctx.depth, 0);
}

#[test]
fn interpreter_entry_keeps_a_frame_as_its_table_says() {
    use iced_x86::{Code, Decoder, DecoderOptions, Register};
    let range = interpreter_entry_range();
    // SAFETY: the wrapper's instructions, in this binary's mapped code; the
    // table's last entry ends at its last byte (checked below).
    let code = unsafe { std::slice::from_raw_parts(range.start as *const u8, range.len()) };
    let instructions: Vec<_> = Decoder::new(64, code, DecoderOptions::NONE)
        .into_iter()
        .collect();
    let mut expected = Vec::new();
    for (i, ins) in instructions.iter().enumerate() {
        let at = |kind| NoFrameRange {
            start: ins.ip() as u32,
            end: ins.next_ip() as u32,
            kind,
        };
        let before = i.checked_sub(1).map(|p| instructions[p].code());
        let writes_rbp = ins.op_count() > 0 && ins.op0_register() == Register::RBP;
        match ins.code() {
            Code::Push_r64 if ins.op0_register() == Register::RBP => {
                assert_eq!(i, 0, "push rbp only first");
                expected.push(at(NoFrameKind::ReturnAtSp));
            }
            Code::Mov_rm64_r64 | Code::Mov_r64_rm64 if writes_rbp => {
                assert_eq!(ins.op1_register(), Register::RSP);
                assert_eq!(before, Some(Code::Push_r64));
                expected.push(at(NoFrameKind::ReturnAboveSavedRbp));
            }
            Code::Pop_r64 if writes_rbp => {
                assert_eq!(i + 2, instructions.len(), "pop rbp only just before ret");
            }
            Code::Retnq => {
                assert_eq!(before, Some(Code::Pop_r64));
                assert_eq!(ins.next_ip() as usize, code.len(), "ret is the last byte");
                expected.push(at(NoFrameKind::ReturnAtSp));
            }
            _ => assert!(!writes_rbp, "{ins} changes rbp"),
        }
    }
    assert_eq!(expected, INTERPRETER_ENTRY_NO_FRAME);
}
