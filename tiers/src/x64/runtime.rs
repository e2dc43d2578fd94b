//! The instruction sequences by which any generated code meets the
//! runtime (docs/abi.md): frame entry and exit, helper calls, method-table
//! calls, the interrupt poll, the pending-error check and the trap stubs.
//!
//! Needs: the context in [`CTX`] (`r15`) and the frame pointer chain kept
//! (`rbp` is the current native frame). Guarantees: every pc where the
//! frame is not set up (between the entry and `mov rbp, rsp`, and at the
//! `ret` after `pop rbp`) is in the assembler's no-frame table, as long as
//! frames are entered and left only through [`Asm::enter_frame`] and
//! [`Asm::leave_frame_and_return`]; a helper call names
//! its call site in the context while the helper runs (stack walkers can
//! find the generated code below the helper's Rust frames); every call
//! clobbers only the SysV caller-saved registers; trap stubs pass the
//! trap helper what `abi::Helper::Trap` documents.

use super::{Alu, Asm, Cond, DynamicLabel, Gpr, Mem, SseOp, Xmm};
use crate::abi::{self, Helper};
use crate::code::{NoFrameKind, NoFrameRange};

/// The context register (`*mut ThreadState`), pinned in all generated code.
pub const CTX: Gpr = Gpr::R15;

/// The frame register: register 0 of the current tj frame.
pub const FRAME: Gpr = Gpr::Rbx;

/// `[r15 + offset]`: a field of the context.
pub fn ctx(offset: i32) -> Mem {
    Mem::base_disp(CTX, offset)
}

impl Asm {
    /// `d := minimum(d, b)` or maximum, IEEE 754-2019 as LANGUAGE.md
    /// wants: NaN if either is NaN (`minsd`/`maxsd` alone give the second
    /// operand), and `-0.0 < 0.0`.
    pub fn float_min_max(&mut self, max: bool, d: Xmm, b: Xmm) {
        let (nan, differ, done) = (self.label(), self.label(), self.label());
        self.ucomisd_rr(d, b);
        self.jcc(Cond::P, nan);
        self.jcc(Cond::Ne, differ);
        // Equal: the values differ at most in the sign of zero; OR keeps
        // -0.0 (minimum), AND keeps 0.0 (maximum).
        if max {
            self.andpd_rr(d, b);
        } else {
            self.orpd_rr(d, b);
        }
        self.jmp(done);
        self.bind(nan);
        self.sse_rr(SseOp::Add, d, b);
        self.jmp(done);
        self.bind(differ);
        self.sse_rr(if max { SseOp::Max } else { SseOp::Min }, d, b);
        self.bind(done);
    }

    /// `d := int(a)`: truncating, saturating, NaN to 0 (Rust's `as`);
    /// clobbers `scratch` and `fscratch`.
    pub fn float_to_int(&mut self, d: Gpr, a: Xmm, scratch: Gpr, fscratch: Xmm) {
        let (nan, done) = (self.label(), self.label());
        self.cvttsd2si_rr(d, a);
        self.mov_ri(scratch, i64::MIN);
        self.alu_rr(Alu::Cmp, d, scratch);
        self.jcc(Cond::Ne, done);
        // cvttsd2si gave its "indefinite" value: NaN, out of range, or
        // exactly MIN.
        self.ucomisd_rr(a, a);
        self.jcc(Cond::P, nan);
        self.xorpd_rr(fscratch, fscratch);
        self.ucomisd_rr(a, fscratch);
        self.jcc(Cond::B, done);
        self.not(d);
        self.jmp(done);
        self.bind(nan);
        self.alu_rr(Alu::Xor, d, d);
        self.bind(done);
    }

    /// `push rbp; mov rbp, rsp`, recording the two instructions as
    /// no-frame ranges: the return address is at `[rsp]`, then at
    /// `[rsp + 8]`.
    pub fn enter_frame(&mut self) {
        let start = self.offset() as u32;
        self.push(Gpr::Rbp);
        let pushed = self.offset() as u32;
        self.mov_rr(Gpr::Rbp, Gpr::Rsp);
        self.add_no_frame(start, pushed, NoFrameKind::ReturnAtSp);
        self.add_no_frame(
            pushed,
            self.offset() as u32,
            NoFrameKind::ReturnAboveSavedRbp,
        );
    }

    /// `pop rbp; ret` with `rsp` pointing at the saved `rbp`, recording
    /// the `ret` as a no-frame range (the return address is at `[rsp]`).
    pub fn leave_frame_and_return(&mut self) {
        self.pop(Gpr::Rbp);
        let at_ret = self.offset() as u32;
        self.ret();
        self.add_no_frame(at_ret, self.offset() as u32, NoFrameKind::ReturnAtSp);
    }

    /// `pop rbp; jmp target` with `rsp` pointing at the saved `rbp`: a
    /// tail jump into other code that takes this frame's place (its
    /// return address is this frame's). The `jmp` is a no-frame range
    /// like a `ret`.
    pub fn leave_frame_and_jump(&mut self, target: Gpr) {
        self.pop(Gpr::Rbp);
        let at_jump = self.offset() as u32;
        self.jmp_reg(target);
        self.add_no_frame(at_jump, self.offset() as u32, NoFrameKind::ReturnAtSp);
    }

    /// The no-frame ranges recorded so far, in offset order (they are
    /// emitted in order, so sorted and disjoint): what
    /// [`crate::code::CompiledCode::no_frame`] holds.
    pub fn take_no_frame(&mut self) -> Vec<NoFrameRange> {
        std::mem::take(&mut self.no_frame)
    }

    fn add_no_frame(&mut self, start: u32, end: u32, kind: NoFrameKind) {
        self.no_frame.push(NoFrameRange { start, end, kind });
    }

    /// Calls a helper with the context in `rdi` and whatever arguments the
    /// caller put in `rsi`, `rdx`, ... While the helper runs, the context
    /// names this call site and frame (`helper_pc`, `helper_fp`).
    pub fn call_helper(&mut self, helper: Helper) {
        let after = self.label();
        self.lea_label(Gpr::Rax, after);
        self.mov_mr(ctx(abi::CTX_HELPER_PC), Gpr::Rax);
        self.mov_mr(ctx(abi::CTX_HELPER_FP), Gpr::Rbp);
        self.mov_rr(Gpr::Rdi, CTX);
        self.mov_rm(Gpr::Rax, ctx(abi::CTX_HELPERS));
        self.call_mem(Mem::base_disp(Gpr::Rax, 8 * helper as i32));
        self.bind(after);
        self.mov_mi(ctx(abi::CTX_HELPER_PC), 0);
    }

    /// Calls function `func` through its method-table slot, the callee's
    /// frame already in `rsi`; jumps to `unwind` if it left a runtime
    /// error pending; the result is in `rax`.
    pub fn call_method(&mut self, func: u32, unwind: DynamicLabel) {
        let after = self.label();
        self.mov_rr(Gpr::Rdi, CTX);
        self.mov_ri(Gpr::Rdx, i64::from(func));
        self.lea_label(Gpr::Rcx, after);
        self.mov_rr(Gpr::R8, Gpr::Rbp);
        self.mov_rm(Gpr::Rax, ctx(abi::CTX_METHODS));
        self.call_mem(Mem::indexed(Gpr::Rax, Gpr::Rdx, 8, 0));
        self.bind(after);
        self.check_pending(unwind);
    }

    /// After a call: jumps to `unwind` if a runtime error is pending.
    pub fn check_pending(&mut self, unwind: DynamicLabel) {
        self.alu_mi(Alu::Cmp, ctx(abi::CTX_PENDING), 0);
        self.jcc(Cond::Ne, unwind);
    }

    /// Jumps to `stop` if the interrupt flag is raised (clobbers `rax`).
    pub fn poll(&mut self, stop: DynamicLabel) {
        self.mov_rm(Gpr::Rax, ctx(abi::CTX_INTERRUPT));
        self.cmp_mi8(Mem::base_disp(Gpr::Rax, 0), 0);
        self.jcc(Cond::Ne, stop);
    }

    /// Jumps to `stub` if a fallible helper returned a trap code in `rdx`.
    pub fn check_helper_trap(&mut self, stub: DynamicLabel) {
        self.test_rr(Gpr::Rdx, Gpr::Rdx);
        self.jcc(Cond::Ne, stub);
    }

    /// A trap stub: calls the trap helper with a fixed code for the site
    /// (`func`, `pc`), then jumps to `unwind`.
    pub fn trap_stub(&mut self, code: u32, func: u32, pc: u32, unwind: DynamicLabel) {
        self.mov_ri(Gpr::Rsi, i64::from(code));
        self.trap_site_call(func, pc);
        self.jmp(unwind);
    }

    /// A trap stub for a helper's failure (its code in `rdx`), then jumps
    /// to `unwind`.
    pub fn helper_trap_stub(&mut self, func: u32, pc: u32, unwind: DynamicLabel) {
        self.mov_rr(Gpr::Rsi, Gpr::Rdx);
        self.trap_site_call(func, pc);
        self.jmp(unwind);
    }

    /// Calls the trap helper for an error that belongs to the caller of
    /// this (uncounted) frame; falls through.
    pub fn trap_stub_without_frame(&mut self, code: u32) {
        self.mov_ri(Gpr::Rsi, i64::from(code));
        self.trap_site_call(u32::MAX, 0);
    }

    /// `trap(ctx, esi, func, pc, rbp)`.
    fn trap_site_call(&mut self, func: u32, pc: u32) {
        self.mov_ri(Gpr::Rdx, i64::from(func));
        self.mov_ri(Gpr::Rcx, i64::from(pc));
        self.mov_rr(Gpr::R8, Gpr::Rbp);
        self.call_helper(Helper::Trap);
    }
}
