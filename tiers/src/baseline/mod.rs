//! Tier 1: the baseline compiler, a single pass over verified bytecode.
//!
//! A pure function: bytecode in, position-independent x86-64 bytes and a pc
//! map out ([`CompiledCode`] of tier [`Tier::Baseline`]: every pc-map entry
//! names the function itself, `inline: 0`; no inlined frames, no direct
//! call sites; `frame_size` 24; no-frame ranges at the entry's and each
//! OSR entry's `push rbp; mov rbp, rsp`, at each `ret` and at each OSR
//! stub's tail jump); the runtime places the bytes in executable
//! memory and installs them in the method table. Each instruction becomes a
//! few machine instructions on frame registers in memory (see [`masm`],
//! which emits through the shared [`crate::x64`] assembler), so the frame
//! layout is exactly the interpreter's and the tiers can call each other
//! freely through the method table.
//!
//! Out-of-line code follows the body: one stub per trap site (it calls the
//! trap helper with the site's bytecode pc, then unwinds), the shared
//! unwind path, and the prologue's overflow exit. Backward branches poll the
//! interrupt flag, and so does every prologue. Loop headers test the
//! function's OSR flag: when the runtime sets it, an OSR stub asks for
//! optimized code entered at that header and, given some, leaves this
//! frame and jumps into it (docs/abi.md, "On-stack replacement entries").
//!
//! Semantics are the interpreter's, case by case: wrapping arithmetic,
//! `/` and `%` trapping on zero but not on `MIN / -1`, shift counts mod 64,
//! saturating `int()`, NaN-aware comparisons and `min`/`max`, bounds checks.

pub mod masm;

use crate::abi::{trap_code, Helper};
use crate::bytecode::{FuncId, Instr, Module};
use crate::code::{CompiledCode, PcMapEntry, Tier};
use crate::trap::Trap;
use crate::x64::DynamicLabel;
use masm::{FloatCond, FloatOp, IntCond, IntOp, IntUnary, Masm};

/// Why a function could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineError(pub String);

impl std::fmt::Display for BaselineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "baseline compilation failed: {}", self.0)
    }
}

impl std::error::Error for BaselineError {}

/// An out-of-line trap site.
struct TrapSite {
    label: DynamicLabel,
    pc: u32,
    /// `None`: the code is in `rdx` (a helper failed).
    code: Option<u32>,
}

/// An out-of-line OSR stub ([`Masm::osr_stub`]) for a loop header.
struct OsrStub {
    label: DynamicLabel,
    header: u32,
    /// Where the header's code continues when there is no optimized code.
    resume: DynamicLabel,
}

struct Compiler<'m> {
    module: &'m Module,
    func: FuncId,
    masm: Masm,
    /// The label of every pc that a branch targets.
    labels: Vec<Option<DynamicLabel>>,
    traps: Vec<TrapSite>,
    osr_stubs: Vec<OsrStub>,
    pc_map: Vec<PcMapEntry>,
    unwind: DynamicLabel,
    epilogue: DynamicLabel,
    pc: u32,
}

/// Compiles function `func` of a verified module.
pub fn compile(module: &Module, func: FuncId) -> Result<CompiledCode, BaselineError> {
    const _: () = assert!(crate::heap::ELEMENTS_OFFSET == 8, "masm assumes 8");
    let f = module.func(func);
    // About 36 bytes of machine code per instruction, plus stubs.
    let mut masm = Masm::with_capacity(f.code.len() * 40 + 256);
    let mut is_target = vec![false; f.code.len()];
    for instr in &f.code {
        if let Some(t) = instr.target() {
            is_target[t as usize] = true;
        }
    }
    // Labels only where branches land (a label costs the assembler a table
    // entry and a relocation pass).
    let labels = is_target.iter().map(|&t| t.then(|| masm.label())).collect();
    let unwind = masm.label();
    let epilogue = masm.label();
    let mut c = Compiler {
        module,
        func,
        masm,
        labels,
        traps: Vec::new(),
        osr_stubs: Vec::new(),
        pc_map: Vec::with_capacity(f.code.len() + 8),
        unwind,
        epilogue,
        pc: 0,
    };
    let overflow = c.masm.label();
    let entry_poll = c.masm.label();
    c.pc_map.push(PcMapEntry::root(0, 0));
    c.masm.prologue(f.num_regs, overflow);
    c.masm.poll(entry_poll);
    c.traps.push(TrapSite {
        label: entry_poll,
        pc: 0,
        code: Some(trap_code::of(Trap::Terminated)),
    });
    let mut loop_headers: Vec<u32> = f
        .code
        .iter()
        .enumerate()
        .filter_map(|(pc, i)| i.target().filter(|&t| t as usize <= pc))
        .collect();
    loop_headers.sort_unstable();
    loop_headers.dedup();
    let flags_at = module.code_offset(func) as u32;
    let mut is_header = vec![false; f.code.len()];
    for &h in &loop_headers {
        is_header[h as usize] = true;
    }
    for (pc, instr) in f.code.iter().enumerate() {
        c.pc = pc as u32;
        if is_target[pc] || !keeps_track(instr) {
            c.masm.forget();
        }
        if let Some(label) = c.labels[pc] {
            c.masm.bind(label);
        }
        c.pc_map
            .push(PcMapEntry::root(c.masm.offset() as u32, pc as u32));
        if is_header[pc] {
            // Every entry into the loop, first or repeated, passes here:
            // when the runtime asks, the activation moves into optimized
            // code for this header (tiering: docs/tiering.md).
            let stub = c.masm.label();
            let resume = c.masm.label();
            c.masm.osr_check(flags_at + pc as u32, stub);
            c.masm.bind(resume);
            c.osr_stubs.push(OsrStub {
                label: stub,
                header: pc as u32,
                resume,
            });
        }
        c.instr(instr);
    }
    let osr_entries = c.osr_entries(&loop_headers, f.num_regs, overflow);
    c.out_of_line(overflow);
    let (code, no_frame) = c.masm.finish().map_err(BaselineError)?;
    // Where an instruction emitted no code, the next one's code is its own:
    // keep the last entry for each offset.
    c.pc_map.dedup_by(|later, earlier| {
        if later.offset == earlier.offset {
            *earlier = *later;
            true
        } else {
            false
        }
    });
    Ok(CompiledCode {
        func,
        tier: Tier::Baseline,
        code,
        pc_map: c.pc_map,
        inlines: Vec::new(),
        osr_entries,
        call_sites: Vec::new(),
        frame_size: masm::FRAME_SIZE,
        no_frame,
    })
}

/// True for the instructions whose masm operation keeps track of what it
/// leaves in machine registers; every other one starts from nothing.
fn keeps_track(instr: &Instr) -> bool {
    matches!(
        instr,
        Instr::Mov { .. }
            | Instr::AddInt { .. }
            | Instr::SubInt { .. }
            | Instr::MulInt { .. }
            | Instr::AndInt { .. }
            | Instr::OrInt { .. }
            | Instr::XorInt { .. }
            | Instr::AddFloat { .. }
            | Instr::SubFloat { .. }
            | Instr::MulFloat { .. }
            | Instr::DivFloat { .. }
            | Instr::SqrtFloat { .. }
            | Instr::LoadIntElem { .. }
            | Instr::LoadFloatElem { .. }
    )
}

impl Compiler<'_> {
    /// A new trap stub for the current pc raising `trap`.
    fn trap(&mut self, trap: Trap) -> DynamicLabel {
        let label = self.masm.label();
        self.traps.push(TrapSite {
            label,
            pc: self.pc,
            code: Some(trap_code::of(trap)),
        });
        label
    }

    /// A new trap stub for the current pc taking the code a helper returned.
    fn helper_trap(&mut self) -> DynamicLabel {
        let label = self.masm.label();
        self.traps.push(TrapSite {
            label,
            pc: self.pc,
            code: None,
        });
        label
    }

    /// The label of `target`, polling first if the branch goes backward.
    fn target(&mut self, target: u32) -> DynamicLabel {
        if target <= self.pc {
            let stop = self.trap(Trap::Terminated);
            self.masm.poll(stop);
        }
        self.labels[target as usize].expect("every branch target has a label")
    }

    /// Calls a fallible helper (arguments already loaded) and stores its
    /// value in `dst`, or traps with its code.
    fn fallible_helper(&mut self, helper: Helper, dst: crate::bytecode::Reg) {
        self.masm.call_helper(helper);
        let stub = self.helper_trap();
        self.masm.check_helper_trap(stub);
        self.masm.store_result(dst);
    }

    fn instr(&mut self, instr: &Instr) {
        let m = &mut self.masm;
        let f = self.module.func(self.func);
        match *instr {
            Instr::Mov { dst, src } => m.mov(dst, src),
            Instr::LoadInt { dst, imm } => m.load_bits(dst, imm as i64 as u64),
            Instr::LoadConstInt { dst, k } | Instr::LoadConstFloat { dst, k } => {
                m.load_bits(dst, f.consts[k as usize])
            }
            Instr::LoadBool { dst, imm } => m.load_bits(dst, (imm != 0) as u64),

            Instr::AddInt { dst, a, b } => m.int_op(IntOp::Add, dst, a, b),
            Instr::AddIntImm { dst, a, imm } => m.add_imm(dst, a, imm),
            Instr::SubInt { dst, a, b } => m.int_op(IntOp::Sub, dst, a, b),
            Instr::MulInt { dst, a, b } => m.int_op(IntOp::Mul, dst, a, b),
            Instr::DivInt { dst, a, b } | Instr::RemInt { dst, a, b } => {
                let rem = matches!(instr, Instr::RemInt { .. });
                let stub = self.trap(Trap::DivisionByZero);
                self.masm.div(rem, dst, a, b, stub);
            }
            Instr::AndInt { dst, a, b } => m.int_op(IntOp::And, dst, a, b),
            Instr::OrInt { dst, a, b } => m.int_op(IntOp::Or, dst, a, b),
            Instr::XorInt { dst, a, b } => m.int_op(IntOp::Xor, dst, a, b),
            Instr::ShlInt { dst, a, b } => m.shift(false, dst, a, b),
            Instr::ShrInt { dst, a, b } => m.shift(true, dst, a, b),
            Instr::NegInt { dst, a } => m.int_unary(IntUnary::Neg, dst, a),
            Instr::NotInt { dst, a } => m.int_unary(IntUnary::Not, dst, a),
            Instr::AbsInt { dst, a } => m.int_unary(IntUnary::Abs, dst, a),
            Instr::MinInt { dst, a, b } => m.int_min_max(false, dst, a, b),
            Instr::MaxInt { dst, a, b } => m.int_min_max(true, dst, a, b),

            Instr::AddFloat { dst, a, b } => m.float_op(FloatOp::Add, dst, a, b),
            Instr::SubFloat { dst, a, b } => m.float_op(FloatOp::Sub, dst, a, b),
            Instr::MulFloat { dst, a, b } => m.float_op(FloatOp::Mul, dst, a, b),
            Instr::DivFloat { dst, a, b } => m.float_op(FloatOp::Div, dst, a, b),
            Instr::NegFloat { dst, a } => m.int_unary(IntUnary::FlipSign, dst, a),
            Instr::AbsFloat { dst, a } => m.int_unary(IntUnary::ClearSign, dst, a),
            Instr::SqrtFloat { dst, a } => m.sqrt(dst, a),
            Instr::MinFloat { dst, a, b } => m.float_min_max(false, dst, a, b),
            Instr::MaxFloat { dst, a, b } => m.float_min_max(true, dst, a, b),
            Instr::IntToFloat { dst, a } => m.int_to_float(dst, a),
            Instr::FloatToInt { dst, a } => m.float_to_int(dst, a),

            Instr::EqInt { dst, a, b } | Instr::EqBool { dst, a, b } => {
                m.int_compare(IntCond::Eq, dst, a, b)
            }
            Instr::NeInt { dst, a, b } | Instr::NeBool { dst, a, b } => {
                m.int_compare(IntCond::Ne, dst, a, b)
            }
            Instr::LtInt { dst, a, b } => m.int_compare(IntCond::Lt, dst, a, b),
            Instr::LeInt { dst, a, b } => m.int_compare(IntCond::Le, dst, a, b),
            Instr::EqFloat { dst, a, b } => m.float_compare(FloatCond::Eq, dst, a, b),
            Instr::NeFloat { dst, a, b } => m.float_compare(FloatCond::Ne, dst, a, b),
            Instr::LtFloat { dst, a, b } => m.float_compare(FloatCond::Lt, dst, a, b),
            Instr::LeFloat { dst, a, b } => m.float_compare(FloatCond::Le, dst, a, b),
            Instr::NotBool { dst, a } => m.int_unary(IntUnary::NotBool, dst, a),

            Instr::Jump { target } => {
                let t = self.target(target);
                self.masm.jump(t);
            }
            Instr::JumpIfTrue { cond, target } | Instr::JumpIfFalse { cond, target } => {
                let expect = matches!(instr, Instr::JumpIfTrue { .. });
                let t = self.target(target);
                self.masm.branch_bool(cond, expect, t);
            }
            Instr::JumpEqInt { a, b, target } => self.branch_int(IntCond::Eq, a, b, target),
            Instr::JumpNeInt { a, b, target } => self.branch_int(IntCond::Ne, a, b, target),
            Instr::JumpLtInt { a, b, target } => self.branch_int(IntCond::Lt, a, b, target),
            Instr::JumpLeInt { a, b, target } => self.branch_int(IntCond::Le, a, b, target),
            Instr::JumpEqFloat { a, b, target } => self.branch_float(FloatCond::Eq, a, b, target),
            Instr::JumpNeFloat { a, b, target } => self.branch_float(FloatCond::Ne, a, b, target),
            Instr::JumpLtFloat { a, b, target } => self.branch_float(FloatCond::Lt, a, b, target),
            Instr::JumpLeFloat { a, b, target } => self.branch_float(FloatCond::Le, a, b, target),
            Instr::JumpNotLtFloat { a, b, target } => {
                self.branch_float(FloatCond::NotLt, a, b, target)
            }
            Instr::JumpNotLeFloat { a, b, target } => {
                self.branch_float(FloatCond::NotLe, a, b, target)
            }
            Instr::JumpEqIntImm { a, imm, target } => self.branch_imm(IntCond::Eq, a, imm, target),
            Instr::JumpNeIntImm { a, imm, target } => self.branch_imm(IntCond::Ne, a, imm, target),
            Instr::JumpLtIntImm { a, imm, target } => self.branch_imm(IntCond::Lt, a, imm, target),
            Instr::JumpLeIntImm { a, imm, target } => self.branch_imm(IntCond::Le, a, imm, target),
            Instr::JumpGtIntImm { a, imm, target } => self.branch_imm(IntCond::Gt, a, imm, target),
            Instr::JumpGeIntImm { a, imm, target } => self.branch_imm(IntCond::Ge, a, imm, target),

            Instr::NewIntArray { dst, init, len } | Instr::NewFloatArray { dst, init, len } => {
                m.load_arg1(len);
                m.load_arg2(init);
                self.fallible_helper(Helper::NewArray, dst);
            }
            Instr::ArrayLen { dst, arr } => m.array_len(dst, arr),
            Instr::LoadIntElem { dst, arr, idx } | Instr::LoadFloatElem { dst, arr, idx } => {
                let float = matches!(instr, Instr::LoadFloatElem { .. });
                let oob = self.trap(Trap::IndexOutOfBounds);
                self.masm.load_element(dst, arr, idx, float, oob);
            }
            Instr::StoreIntElem { arr, idx, val } | Instr::StoreFloatElem { arr, idx, val } => {
                let oob = self.trap(Trap::IndexOutOfBounds);
                self.masm.store_element(arr, idx, val, oob);
            }
            Instr::AtomicAdd { dst, arr, idx, val } => {
                let oob = self.trap(Trap::IndexOutOfBounds);
                self.masm.atomic_add(dst, arr, idx, val, oob);
            }

            Instr::Call { dst, func, base } => {
                let unwind = self.unwind;
                self.masm.call(func.0, base, unwind);
                self.masm.store_result(dst);
            }
            Instr::CallVoid { func, base } => {
                let unwind = self.unwind;
                self.masm.call(func.0, base, unwind);
            }
            Instr::Return { src } => {
                let epilogue = self.epilogue;
                self.masm.load_return(src);
                self.masm.jump(epilogue);
            }
            Instr::ReturnVoid {} => {
                let epilogue = self.epilogue;
                self.masm.load_return(crate::bytecode::Reg(0));
                self.masm.jump(epilogue);
            }
            Instr::Spawn { dst, func, base } => {
                m.load_arg1_imm(func.0);
                m.load_arg2_addr(base);
                self.fallible_helper(Helper::Spawn, dst);
            }
            Instr::CallHost { dst, host, base } => {
                m.load_arg1_imm(host.0);
                m.load_arg2_addr(base);
                self.fallible_helper(Helper::CallHost, dst);
            }
            Instr::CallHostVoid { host, base } => {
                m.load_arg1_imm(host.0);
                m.load_arg2_addr(base);
                m.call_helper(Helper::CallHost);
                let stub = self.helper_trap();
                self.masm.check_helper_trap(stub);
            }
            Instr::Join { dst, handle } => {
                m.load_arg1(handle);
                self.fallible_helper(Helper::Join, dst);
            }

            Instr::PrintInt { src } => {
                m.load_arg1(src);
                m.call_helper(Helper::PrintInt);
            }
            Instr::PrintFloat { src } => {
                m.load_arg1(src);
                m.call_helper(Helper::PrintFloat);
            }
            Instr::PrintBool { src } => {
                m.load_arg1(src);
                m.call_helper(Helper::PrintBool);
            }
            Instr::PrintStr { s } => {
                m.load_arg1_imm(s);
                m.call_helper(Helper::PrintStr);
            }
            Instr::Arg { dst, idx } => {
                m.load_arg1(idx);
                self.fallible_helper(Helper::Arg, dst);
            }
            Instr::Argc { dst } => {
                m.call_helper(Helper::Argc);
                m.store_result(dst);
            }
            Instr::NowNs { dst } => {
                m.call_helper(Helper::NowNs);
                m.store_result(dst);
            }
        }
    }

    fn branch_int(
        &mut self,
        cond: IntCond,
        a: crate::bytecode::Reg,
        b: crate::bytecode::Reg,
        target: u32,
    ) {
        let t = self.target(target);
        self.masm.branch_int(cond, a, b, t);
    }

    fn branch_imm(&mut self, cond: IntCond, a: crate::bytecode::Reg, imm: i32, target: u32) {
        let t = self.target(target);
        self.masm.branch_int_imm(cond, a, imm, t);
    }

    fn branch_float(
        &mut self,
        cond: FloatCond,
        a: crate::bytecode::Reg,
        b: crate::bytecode::Reg,
        target: u32,
    ) {
        let t = self.target(target);
        self.masm.branch_float(cond, a, b, t);
    }

    /// One entry per loop header: the prologue, then a jump to the header.
    fn osr_entries(
        &mut self,
        headers: &[u32],
        num_regs: u16,
        overflow: DynamicLabel,
    ) -> Vec<(u32, u32)> {
        let mut entries = Vec::with_capacity(headers.len());
        for &pc in headers {
            let offset = self.masm.offset() as u32;
            self.pc_map.push(PcMapEntry::root(offset, pc));
            self.masm.forget();
            self.masm.prologue(num_regs, overflow);
            let header = self.labels[pc as usize].expect("loop headers are branch targets");
            self.masm.jump(header);
            entries.push((pc, offset));
        }
        entries
    }

    /// The code after the body: the epilogue, the OSR stubs, the trap
    /// stubs, the unwind path and the prologue's overflow exit.
    fn out_of_line(&mut self, overflow: DynamicLabel) {
        let end_pc = self.module.func(self.func).code.len() as u32;
        self.masm.bind(self.epilogue);
        self.pc_map.push(PcMapEntry::root(
            self.masm.offset() as u32,
            end_pc.saturating_sub(1),
        ));
        self.masm.epilogue();
        let func = self.func.0;
        for stub in std::mem::take(&mut self.osr_stubs) {
            self.masm.bind(stub.label);
            self.pc_map
                .push(PcMapEntry::root(self.masm.offset() as u32, stub.header));
            self.masm.osr_stub(func, stub.header, stub.resume);
        }
        for site in std::mem::take(&mut self.traps) {
            self.masm.bind(site.label);
            self.pc_map
                .push(PcMapEntry::root(self.masm.offset() as u32, site.pc));
            match site.code {
                Some(code) => self.masm.trap_stub(code, func, site.pc, self.unwind),
                None => self.masm.helper_trap_stub(func, site.pc, self.unwind),
            }
        }
        // Unwinding: a runtime error is pending; return at once.
        self.masm.bind(self.unwind);
        self.masm.epilogue();
        // The prologue found no room for this frame: the error belongs to
        // the caller, whose frame the trap helper finds from ours.
        self.masm.bind(overflow);
        self.pc_map
            .push(PcMapEntry::root(self.masm.offset() as u32, 0));
        self.masm
            .trap_stub_without_frame(trap_code::of(Trap::StackOverflow));
        self.masm.epilogue_uncounted();
    }
}
