//! The baseline tier's macro-assembler: one method per operation on
//! frame registers, emitted through the shared x86-64 layer
//! ([`crate::x64`]).
//!
//! Needs: the context in `r15` and the frame in `rbx` (`abi.rs`). Frame
//! registers live in memory at `[rbx + 8*r]`; nothing stays in a machine
//! register between two bytecode instructions except what `Cached`
//! tracks within a straight run of instructions (the store to the frame
//! always happens). Scratch registers are `rax`, `rcx`, `rdx`, `rsi`,
//! `rdi`, `r8` and `xmm0`/`xmm1`. Guarantees: every operation has the
//! interpreter's semantics (the cases are spelled out per method); all
//! code is position independent.

use crate::abi::{self, Helper};
use crate::bytecode::Reg;
use crate::code::NoFrameRange;
use crate::x64::runtime::{ctx, CTX, FRAME};
use crate::x64::{Alu, Asm, Cond, DynamicLabel, Gpr, Mem, SseOp, Xmm};

use Gpr::{Rax, Rcx, Rdx, Rsi};

const XMM0: Xmm = Xmm(0);
const XMM1: Xmm = Xmm(1);

/// Bytes the prologue pushes below the return address (`rbp`, `rbx`,
/// `r15`): [`crate::code::CompiledCode::frame_size`].
pub const FRAME_SIZE: u32 = 24;

/// Frame register `r`: `[rbx + 8*r]`.
fn slot(r: Reg) -> Mem {
    Mem::base_disp(FRAME, 8 * r.0 as i32)
}

/// Integer operations with a memory operand.
#[derive(Clone, Copy, Debug)]
pub enum IntOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
}

/// Float operations with a memory operand.
#[derive(Clone, Copy, Debug)]
pub enum FloatOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// Integer conditions (signed).
#[derive(Clone, Copy, Debug)]
pub enum IntCond {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Float conditions, with IEEE semantics for NaN.
#[derive(Clone, Copy, Debug)]
pub enum FloatCond {
    /// `a == b` (false on NaN)
    Eq,
    /// `a != b` (true on NaN)
    Ne,
    /// `a < b` (false on NaN)
    Lt,
    /// `a <= b` (false on NaN)
    Le,
    /// `!(a < b)` (true on NaN)
    NotLt,
    /// `!(a <= b)` (true on NaN)
    NotLe,
}

/// Which frame register's current value a machine register still holds,
/// so the next instruction can use it without reloading it from the frame
/// (the store to the frame always happens; this only saves the load and
/// its store-to-load forwarding latency in dependency chains).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cached {
    Nothing,
    /// `rax` holds `R[r]`.
    Rax(Reg),
    /// `xmm0` holds `R[r]`.
    Xmm0(Reg),
}

/// The assembler for one function.
pub struct Masm {
    asm: Asm,
    cached: Cached,
}

impl Masm {
    /// An empty assembler; code is assembled for address 0 and is position
    /// independent. `expected_bytes` presizes the buffer.
    pub fn with_capacity(expected_bytes: usize) -> Masm {
        Masm {
            asm: Asm::new(expected_bytes),
            cached: Cached::Nothing,
        }
    }

    /// Forgets what machine registers hold: at branch targets and before
    /// any operation that does not keep track itself.
    pub fn forget(&mut self) {
        self.cached = Cached::Nothing;
    }

    fn load_rax(&mut self, r: Reg) {
        if self.cached != Cached::Rax(r) {
            self.asm.mov_rm(Rax, slot(r));
        }
    }

    fn load_xmm0(&mut self, r: Reg) {
        if self.cached != Cached::Xmm0(r) {
            self.asm.movsd_rm(XMM0, slot(r));
        }
    }

    /// The current offset in the code.
    pub fn offset(&self) -> usize {
        self.asm.offset()
    }

    /// A new label.
    pub fn label(&mut self) -> DynamicLabel {
        self.asm.label()
    }

    /// Binds `label` here.
    pub fn bind(&mut self, label: DynamicLabel) {
        self.asm.bind(label);
    }

    /// The finished code, or an error if a label was never bound, and
    /// where its frame is not set up ([`crate::code::CompiledCode::no_frame`]).
    pub fn finish(mut self) -> Result<(Vec<u8>, Vec<NoFrameRange>), String> {
        let no_frame = self.asm.take_no_frame();
        Ok((self.asm.finish()?, no_frame))
    }

    // ---- frame, calls, helpers ----

    /// `push rbp; mov rbp, rsp; push rbx; push r15`, loads the context and
    /// frame registers, then checks the frame-depth, native-stack and
    /// register-stack limits (any failing one jumps to `overflow`) and
    /// counts the frame.
    pub fn prologue(&mut self, num_regs: u16, overflow: DynamicLabel) {
        let a = &mut self.asm;
        a.enter_frame();
        a.push(FRAME);
        a.push(CTX);
        a.mov_rr(CTX, Gpr::Rdi);
        a.mov_rr(FRAME, Rsi);
        a.mov_rm(Rax, ctx(abi::CTX_DEPTH));
        a.alu_rm(Alu::Cmp, Rax, ctx(abi::CTX_MAX_DEPTH));
        a.jcc(Cond::Ae, overflow);
        a.alu_rm(Alu::Cmp, Gpr::Rsp, ctx(abi::CTX_STACK_LIMIT));
        a.jcc(Cond::B, overflow);
        a.lea(Rax, Mem::base_disp(FRAME, 8 * num_regs as i32));
        a.alu_rm(Alu::Cmp, Rax, ctx(abi::CTX_REGS_END));
        a.jcc(Cond::A, overflow);
        a.alu_mi(Alu::Add, ctx(abi::CTX_DEPTH), 1);
    }

    /// Restores the caller's registers and returns.
    fn pop_frame_and_return(&mut self) {
        self.asm.pop(CTX);
        self.asm.pop(FRAME);
        self.asm.leave_frame_and_return();
    }

    /// Returns `rax` to the caller, uncounting the frame.
    pub fn epilogue(&mut self) {
        self.asm.alu_mi(Alu::Sub, ctx(abi::CTX_DEPTH), 1);
        self.pop_frame_and_return();
    }

    /// Returns 0 from a function whose prologue failed (frame not counted).
    pub fn epilogue_uncounted(&mut self) {
        self.asm.mov_ri(Rax, 0);
        self.pop_frame_and_return();
    }

    /// Jumps to `stop` if the interrupt flag is raised.
    pub fn poll(&mut self, stop: DynamicLabel) {
        self.asm.poll(stop);
    }

    /// At a loop header: jumps to `stub` if its OSR flag, the one at
    /// `flag` (`Module::code_offset` + the header's pc), is set
    /// (`MethodTable::set_osr_wanted`). Clobbers `rax`.
    pub fn osr_check(&mut self, flag: u32, stub: DynamicLabel) {
        self.asm.mov_rm(Rax, ctx(abi::CTX_OSR_FLAGS));
        self.asm.cmp_mi8(Mem::base_disp(Rax, flag as i32), 0);
        self.asm.jcc(Cond::Ne, stub);
    }

    /// The out-of-line half of [`Masm::osr_check`] for loop header
    /// `header`: asks the runtime for optimized code entered at that
    /// header; with none, continues at `resume`; with one, leaves this
    /// frame (uncounting it, as the epilogue does) and jumps into that
    /// entry with the `EntryFn` arguments of this activation, so the
    /// optimized frame takes this frame's place and returns to its caller.
    pub fn osr_stub(&mut self, func: u32, header: u32, resume: DynamicLabel) {
        let a = &mut self.asm;
        a.mov_ri(Rsi, i64::from(func));
        a.mov_ri(Rdx, i64::from(header));
        a.call_helper(Helper::OsrPoll);
        a.test_rr(Rax, Rax);
        a.jcc(Cond::E, resume);
        a.mov_rr(Gpr::Rdi, CTX);
        a.mov_rr(Rsi, FRAME);
        a.mov_ri(Rdx, i64::from(func));
        a.mov_ri(Rcx, 0);
        a.mov_ri(Gpr::R8, 0);
        a.alu_mi(Alu::Sub, ctx(abi::CTX_DEPTH), 1);
        a.pop(CTX);
        a.pop(FRAME);
        a.leave_frame_and_jump(Rax);
    }

    /// Calls function `func` through its method-table slot with its window
    /// at `base`; jumps to `unwind` if it left a runtime error pending;
    /// the result is in `rax`.
    pub fn call(&mut self, func: u32, base: Reg, unwind: DynamicLabel) {
        self.asm.lea(Rsi, slot(base));
        self.asm.call_method(func, unwind);
    }

    /// Calls a helper (see [`Asm::call_helper`]).
    pub fn call_helper(&mut self, helper: Helper) {
        self.asm.call_helper(helper);
    }

    /// Jumps to `stub` if a fallible helper returned a trap code in `rdx`.
    pub fn check_helper_trap(&mut self, stub: DynamicLabel) {
        self.asm.check_helper_trap(stub);
    }

    /// A trap stub: calls the trap helper with a fixed code, then unwinds.
    pub fn trap_stub(&mut self, code: u32, func: u32, pc: u32, unwind: DynamicLabel) {
        self.asm.trap_stub(code, func, pc, unwind);
    }

    /// Calls the trap helper for an error that belongs to the caller of
    /// this (uncounted) frame; falls through.
    pub fn trap_stub_without_frame(&mut self, code: u32) {
        self.asm.trap_stub_without_frame(code);
    }

    /// A trap stub for a helper's failure: the code is in `rdx`.
    pub fn helper_trap_stub(&mut self, func: u32, pc: u32, unwind: DynamicLabel) {
        self.asm.helper_trap_stub(func, pc, unwind);
    }

    // ---- moves ----

    /// `rsi := R[r]`
    pub fn load_arg1(&mut self, r: Reg) {
        self.asm.mov_rm(Rsi, slot(r));
    }

    /// `rdx := R[r]`
    pub fn load_arg2(&mut self, r: Reg) {
        self.asm.mov_rm(Rdx, slot(r));
    }

    /// `esi := imm`
    pub fn load_arg1_imm(&mut self, imm: u32) {
        self.asm.mov_ri(Rsi, i64::from(imm));
    }

    /// `rdx := &R[r]`
    pub fn load_arg2_addr(&mut self, r: Reg) {
        self.asm.lea(Rdx, slot(r));
    }

    /// `R[d] := rax`
    pub fn store_result(&mut self, d: Reg) {
        self.asm.mov_mr(slot(d), Rax);
    }

    /// `R[d] := R[s]` (keeps track of what it leaves in registers)
    pub fn mov(&mut self, d: Reg, s: Reg) {
        if self.cached == Cached::Xmm0(s) {
            self.asm.movsd_mr(slot(d), XMM0);
            self.cached = Cached::Xmm0(d);
        } else {
            self.load_rax(s);
            self.store_result(d);
            self.cached = Cached::Rax(d);
        }
    }

    /// `R[d] := bits`
    pub fn load_bits(&mut self, d: Reg, bits: u64) {
        match i32::try_from(bits as i64) {
            Ok(imm) => self.asm.mov_mi(slot(d), imm),
            Err(_) => {
                self.asm.mov_ri(Rax, bits as i64);
                self.store_result(d);
            }
        }
    }

    /// `rax := R[r]` (the return value)
    pub fn load_return(&mut self, r: Reg) {
        self.asm.mov_rm(Rax, slot(r));
    }

    /// `jmp label`
    pub fn jump(&mut self, label: DynamicLabel) {
        self.asm.jmp(label);
    }

    // ---- integers ----

    /// `R[d] := R[a] op R[b]`, wrapping (keeps track of registers).
    pub fn int_op(&mut self, op: IntOp, d: Reg, a: Reg, b: Reg) {
        let commutes = !matches!(op, IntOp::Sub);
        let (a, b) = if commutes && self.cached == Cached::Rax(b) {
            (b, a)
        } else {
            (a, b)
        };
        self.load_rax(a);
        let b = slot(b);
        match op {
            IntOp::Add => self.asm.alu_rm(Alu::Add, Rax, b),
            IntOp::Sub => self.asm.alu_rm(Alu::Sub, Rax, b),
            IntOp::Mul => self.asm.imul_rm(Rax, b),
            IntOp::And => self.asm.alu_rm(Alu::And, Rax, b),
            IntOp::Or => self.asm.alu_rm(Alu::Or, Rax, b),
            IntOp::Xor => self.asm.alu_rm(Alu::Xor, Rax, b),
        }
        self.store_result(d);
        self.cached = Cached::Rax(d);
    }

    /// `R[d] := R[a] + imm`, wrapping.
    pub fn add_imm(&mut self, d: Reg, a: Reg, imm: i32) {
        if d == a {
            self.asm.alu_mi(Alu::Add, slot(d), imm);
        } else {
            self.asm.mov_rm(Rax, slot(a));
            self.asm.alu_ri(Alu::Add, Rax, imm);
            self.store_result(d);
        }
    }

    /// `R[d] := R[a] / R[b]` (or `%` if `rem`), jumping to `div_zero` when
    /// `R[b] = 0`; `MIN / -1 = MIN` and `MIN % -1 = 0` without trapping.
    pub fn div(&mut self, rem: bool, d: Reg, a: Reg, b: Reg, div_zero: DynamicLabel) {
        let divide = self.asm.label();
        let done = self.asm.label();
        let m = &mut self.asm;
        m.mov_rm(Rcx, slot(b));
        m.test_rr(Rcx, Rcx);
        m.jcc(Cond::E, div_zero);
        m.mov_rm(Rax, slot(a));
        m.alu_ri(Alu::Cmp, Rcx, -1);
        m.jcc(Cond::Ne, divide);
        // x / -1 is -x (wrapping), x % -1 is 0: idiv would fault on MIN.
        m.neg(Rax);
        m.mov_ri(Rdx, 0);
        m.jmp(done);
        m.bind(divide);
        m.cqo();
        m.idiv(Rcx);
        m.bind(done);
        m.mov_mr(slot(d), if rem { Rdx } else { Rax });
    }

    /// `R[d] := R[a] << (R[b] mod 64)` or `>>` (arithmetic) if `right`.
    pub fn shift(&mut self, right: bool, d: Reg, a: Reg, b: Reg) {
        self.asm.mov_rm(Rcx, slot(b));
        self.asm.mov_rm(Rax, slot(a));
        if right {
            self.asm.sar_cl(Rax);
        } else {
            self.asm.shl_cl(Rax);
        }
        self.store_result(d);
    }

    /// `R[d] := -R[a]`, `!R[a]` (bitwise) or `|R[a]|`, wrapping.
    pub fn int_unary(&mut self, op: IntUnary, d: Reg, a: Reg) {
        let m = &mut self.asm;
        m.mov_rm(Rax, slot(a));
        match op {
            IntUnary::Neg => m.neg(Rax),
            IntUnary::Not => m.not(Rax),
            IntUnary::Abs => {
                m.mov_rr(Rcx, Rax);
                m.sar_ri(Rcx, 63);
                m.alu_rr(Alu::Xor, Rax, Rcx);
                m.alu_rr(Alu::Sub, Rax, Rcx);
            }
            IntUnary::FlipSign => m.btc_ri(Rax, 63),
            IntUnary::ClearSign => m.btr_ri(Rax, 63),
            IntUnary::NotBool => m.xor_r32i(Rax, 1),
        }
        self.store_result(d);
    }

    /// `R[d] := min(R[a], R[b])` or max.
    pub fn int_min_max(&mut self, max: bool, d: Reg, a: Reg, b: Reg) {
        self.asm.mov_rm(Rax, slot(a));
        self.asm.mov_rm(Rcx, slot(b));
        self.asm.alu_rr(Alu::Cmp, Rax, Rcx);
        self.asm.cmov(if max { Cond::L } else { Cond::G }, Rax, Rcx);
        self.store_result(d);
    }

    /// `R[d] := (R[a] cond R[b])` as 0 or 1.
    pub fn int_compare(&mut self, cond: IntCond, d: Reg, a: Reg, b: Reg) {
        self.asm.mov_rm(Rcx, slot(a));
        self.asm.mov_ri(Rax, 0);
        self.asm.alu_rm(Alu::Cmp, Rcx, slot(b));
        self.asm.setcc(cond.machine(), Rax);
        self.store_result(d);
    }

    /// `if R[a] cond R[b] goto target`
    pub fn branch_int(&mut self, cond: IntCond, a: Reg, b: Reg, target: DynamicLabel) {
        self.asm.mov_rm(Rax, slot(a));
        self.asm.alu_rm(Alu::Cmp, Rax, slot(b));
        self.asm.jcc(cond.machine(), target);
    }

    /// `if R[a] cond imm goto target`
    pub fn branch_int_imm(&mut self, cond: IntCond, a: Reg, imm: i32, target: DynamicLabel) {
        self.asm.alu_mi(Alu::Cmp, slot(a), imm);
        self.asm.jcc(cond.machine(), target);
    }

    /// `if R[c] == expect goto target` for a bool register.
    pub fn branch_bool(&mut self, c: Reg, expect: bool, target: DynamicLabel) {
        self.asm.alu_mi(Alu::Cmp, slot(c), 0);
        self.asm
            .jcc(if expect { Cond::Ne } else { Cond::E }, target);
    }

    // ---- floats ----

    /// `R[d] := R[a] op R[b]` (keeps track of registers; IEEE `+` and `*`
    /// commute exactly, so either operand may be the one in `xmm0`).
    pub fn float_op(&mut self, op: FloatOp, d: Reg, a: Reg, b: Reg) {
        let commutes = matches!(op, FloatOp::Add | FloatOp::Mul);
        let (a, b) = if commutes && self.cached == Cached::Xmm0(b) {
            (b, a)
        } else {
            (a, b)
        };
        self.load_xmm0(a);
        let op = match op {
            FloatOp::Add => SseOp::Add,
            FloatOp::Sub => SseOp::Sub,
            FloatOp::Mul => SseOp::Mul,
            FloatOp::Div => SseOp::Div,
        };
        self.asm.sse_rm(op, XMM0, slot(b));
        self.asm.movsd_mr(slot(d), XMM0);
        self.cached = Cached::Xmm0(d);
    }

    /// `R[d] := sqrt(R[a])` (keeps track of registers)
    pub fn sqrt(&mut self, d: Reg, a: Reg) {
        if self.cached == Cached::Xmm0(a) {
            self.asm.sse_rr(SseOp::Sqrt, XMM0, XMM0);
        } else {
            self.asm.sse_rm(SseOp::Sqrt, XMM0, slot(a));
        }
        self.asm.movsd_mr(slot(d), XMM0);
        self.cached = Cached::Xmm0(d);
    }

    /// `R[d] := minimum(R[a], R[b])` or maximum, IEEE 754-2019: NaN if
    /// either is NaN; `-0.0 < 0.0`.
    pub fn float_min_max(&mut self, max: bool, d: Reg, a: Reg, b: Reg) {
        self.asm.movsd_rm(XMM0, slot(a));
        self.asm.movsd_rm(XMM1, slot(b));
        self.asm.float_min_max(max, XMM0, XMM1);
        self.asm.movsd_mr(slot(d), XMM0);
    }

    /// `R[d] := float(R[a])`
    pub fn int_to_float(&mut self, d: Reg, a: Reg) {
        self.asm.xorps_rr(XMM0, XMM0);
        self.asm.cvtsi2sd_rm(XMM0, slot(a));
        self.asm.movsd_mr(slot(d), XMM0);
    }

    /// `R[d] := int(R[a])`: truncating, saturating, NaN to 0 (Rust's `as`).
    pub fn float_to_int(&mut self, d: Reg, a: Reg) {
        self.asm.movsd_rm(XMM0, slot(a));
        self.asm.float_to_int(Rax, XMM0, Rcx, XMM1);
        self.store_result(d);
    }

    fn float_flags(&mut self, cond: FloatCond, a: Reg, b: Reg) {
        // For < and <= compare b with a, so "above" means a < b and NaN
        // (CF = 1) reads as false.
        let (first, second) = match cond {
            FloatCond::Lt | FloatCond::Le | FloatCond::NotLt | FloatCond::NotLe => (b, a),
            FloatCond::Eq | FloatCond::Ne => (a, b),
        };
        self.asm.movsd_rm(XMM0, slot(first));
        self.asm.ucomisd_rm(XMM0, slot(second));
    }

    /// `R[d] := (R[a] cond R[b])` as 0 or 1.
    pub fn float_compare(&mut self, cond: FloatCond, d: Reg, a: Reg, b: Reg) {
        self.float_flags(cond, a, b);
        let m = &mut self.asm;
        match cond {
            FloatCond::Lt => m.setcc(Cond::A, Rax),
            FloatCond::Le => m.setcc(Cond::Ae, Rax),
            FloatCond::NotLt => m.setcc(Cond::Be, Rax),
            FloatCond::NotLe => m.setcc(Cond::B, Rax),
            FloatCond::Eq => {
                m.setcc(Cond::E, Rax);
                m.setcc(Cond::Np, Rcx);
                m.alu_rr(Alu::And, Rax, Rcx);
            }
            FloatCond::Ne => {
                m.setcc(Cond::Ne, Rax);
                m.setcc(Cond::P, Rcx);
                m.alu_rr(Alu::Or, Rax, Rcx);
            }
        }
        m.movzx_r8(Rax, Rax);
        self.store_result(d);
    }

    /// `if R[a] cond R[b] goto target`
    pub fn branch_float(&mut self, cond: FloatCond, a: Reg, b: Reg, target: DynamicLabel) {
        self.float_flags(cond, a, b);
        let m = &mut self.asm;
        match cond {
            FloatCond::Lt => m.jcc(Cond::A, target),
            FloatCond::Le => m.jcc(Cond::Ae, target),
            FloatCond::NotLt => m.jcc(Cond::Be, target),
            FloatCond::NotLe => m.jcc(Cond::B, target),
            FloatCond::Eq => {
                let skip = m.label();
                m.jcc(Cond::P, skip);
                m.jcc(Cond::E, target);
                m.bind(skip);
            }
            FloatCond::Ne => {
                m.jcc(Cond::P, target);
                m.jcc(Cond::Ne, target);
            }
        }
    }

    // ---- arrays ----

    /// `R[d] := len(R[arr])`
    pub fn array_len(&mut self, d: Reg, arr: Reg) {
        self.asm.mov_rm(Rax, slot(arr));
        self.asm.mov_rm(Rax, Mem::base_disp(Rax, 0));
        self.store_result(d);
    }

    /// `rax := R[arr]`, `rcx := R[idx]`, jumping to `oob` unless
    /// `0 <= idx < len` (one unsigned compare).
    fn bounds_check(&mut self, arr: Reg, idx: Reg, oob: DynamicLabel) {
        self.asm.mov_rm(Rax, slot(arr));
        self.asm.mov_rm(Rcx, slot(idx));
        self.asm.alu_rm(Alu::Cmp, Rcx, Mem::base_disp(Rax, 0));
        self.asm.jcc(Cond::Ae, oob);
    }

    /// `R[d] := R[arr][R[idx]]` (keeps track of registers: a float
    /// element is also left in `xmm0`)
    pub fn load_element(&mut self, d: Reg, arr: Reg, idx: Reg, float: bool, oob: DynamicLabel) {
        self.bounds_check(arr, idx, oob);
        if float {
            self.asm.movsd_rm(XMM0, element());
            self.asm.movsd_mr(slot(d), XMM0);
            self.cached = Cached::Xmm0(d);
        } else {
            self.asm.mov_rm(Rax, element());
            self.store_result(d);
            self.cached = Cached::Rax(d);
        }
    }

    /// `R[arr][R[idx]] := R[val]`
    pub fn store_element(&mut self, arr: Reg, idx: Reg, val: Reg, oob: DynamicLabel) {
        self.bounds_check(arr, idx, oob);
        self.asm.mov_rm(Rdx, slot(val));
        self.asm.mov_mr(element(), Rdx);
    }

    /// `R[d] := R[arr][R[idx]]; R[arr][R[idx]] += R[val]`, atomically.
    pub fn atomic_add(&mut self, d: Reg, arr: Reg, idx: Reg, val: Reg, oob: DynamicLabel) {
        self.bounds_check(arr, idx, oob);
        self.asm.mov_rm(Rdx, slot(val));
        self.asm.lock_xadd(element(), Rdx);
        self.asm.mov_mr(slot(d), Rdx);
    }
}

/// Element `rcx` of the array at `rax`: `[rax + rcx*8 + 8]` (the length
/// comes first, `heap::ELEMENTS_OFFSET`).
fn element() -> Mem {
    Mem::indexed(Rax, Rcx, 8, crate::heap::ELEMENTS_OFFSET as i32)
}

impl IntCond {
    /// The machine condition after `cmp a, b`.
    fn machine(self) -> Cond {
        match self {
            IntCond::Eq => Cond::E,
            IntCond::Ne => Cond::Ne,
            IntCond::Lt => Cond::L,
            IntCond::Le => Cond::Le,
            IntCond::Gt => Cond::G,
            IntCond::Ge => Cond::Ge,
        }
    }
}

/// One-operand integer (and bit-pattern) operations.
#[derive(Clone, Copy, Debug)]
pub enum IntUnary {
    /// `-x`, wrapping.
    Neg,
    /// `~x`.
    Not,
    /// `|x|`, wrapping.
    Abs,
    /// Flips bit 63 (float negation).
    FlipSign,
    /// Clears bit 63 (float absolute value).
    ClearSign,
    /// `!b` for a bool (0 or 1).
    NotBool,
}
