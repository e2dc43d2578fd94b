//! Emission: allocated [`VCode`] to x86-64 through the shared low-level
//! assembler ([`crate::x64`]).
//!
//! Needs: `vcode` lowered from `f` and `regs`, regalloc2's allocation of
//! it. Gives: position-independent code following the ABI every tier
//! shares (`docs/abi.md`): `r15` holds the context and `rbx` the tj frame;
//! the `rbp` chain is kept; calls of other functions are direct `call
//! rel32`s that the runtime points at the callee's code when it places the
//! code and whenever that code changes (through the method table instead
//! with `Options::slot_calls`); helpers are called through the helper
//! table; a runtime error calls the trap helper and unwinds by returning.
//!
//! Frame (growing down from the return address):
//!
//! ```text
//! [rbp + 8]   return address
//! [rbp]       caller's rbp
//! [rbp - 8]   rbx, then r15, then each of r12-r14 the code uses
//! ...         spill slots, 8 bytes each; rsp is 16-aligned at calls
//! ```
//!
//! Block order is the IR's layout; a block that only splits a critical
//! edge is placed right after the branch it splits, or left out when the
//! allocator put no moves in it (the branch then goes straight to its
//! target). Branches to the next block fall through.

use super::ir::{FloatCC, Func, IntCC, Loc};
use super::vcode::{BranchKind, FloatOp, HelperArg, MInst, Unary, VCode, FSCRATCH, SCRATCH};
use crate::abi::{self, trap_code, TRAP_FRAMES_FROM_PC};
use crate::bytecode::FuncId;
use crate::code::{CallSite, CompiledCode, InlineFrame, PcMapEntry, Tier};
use crate::trap::Trap;
use crate::x64::{Alu, Asm, Cond, Gpr, Mem, SseOp, Xmm};
use dynasmrt::DynamicLabel;
use regalloc2::{Allocation, Block as RBlock, Edit, Inst as RInst, InstOrEdit, Output, RegClass};

/// General-purpose register number `n` (hardware encoding).
pub fn gpr_of(n: usize) -> Gpr {
    Gpr::ALL[n & 15]
}

const CTX: Gpr = Gpr::R15;
const FRAME: Gpr = Gpr::Rbx;

fn ctx(disp: i32) -> Mem {
    Mem::base_disp(CTX, disp)
}

fn frame_slot(reg: u32) -> Mem {
    Mem::base_disp(FRAME, 8 * reg as i32)
}

fn element(arr: Gpr, idx: Gpr) -> Mem {
    Mem::indexed(arr, idx, 8, crate::heap::ELEMENTS_OFFSET as i32)
}

fn int_cond(cc: IntCC) -> Cond {
    match cc {
        IntCC::Eq => Cond::E,
        IntCC::Ne => Cond::Ne,
        IntCC::Lt => Cond::L,
        IntCC::Le => Cond::Le,
        IntCC::Gt => Cond::G,
        IntCC::Ge => Cond::Ge,
    }
}

struct Emitter<'a> {
    f: &'a Func,
    vcode: &'a VCode,
    regs: &'a Output,
    asm: Asm,
    /// Label of each VCode block (after threading empty split blocks).
    labels: Vec<DynamicLabel>,
    /// Label of each trap site's stub.
    trap_labels: Vec<DynamicLabel>,
    unwind: DynamicLabel,
    overflow: DynamicLabel,
    pc_map: Vec<PcMapEntry>,
    last_loc: Option<Loc>,
    /// Callee-saved registers pushed after `rbx` and `r15`.
    saved: Vec<Gpr>,
    /// Bytes of spill slots (with alignment padding).
    spill_bytes: i32,
    /// The prologue's poll stub and its location.
    entry_stop: Option<(DynamicLabel, Loc)>,
    /// Call with `call rel32` (recorded in `call_sites`) rather than
    /// through the method table.
    direct_calls: bool,
    call_sites: Vec<CallSite>,
}

/// Emits allocated code for `f`; calls are direct (`call rel32`, each
/// listed in [`CompiledCode::call_sites`] for the runtime to point at the
/// callee's code) if `direct_calls`, else through the method table.
pub fn emit(
    f: &Func,
    vcode: &VCode,
    regs: &Output,
    direct_calls: bool,
) -> Result<CompiledCode, String> {
    let mut asm = Asm::new(vcode.insts.len() * 12 + 256);
    let labels = (0..vcode.blocks.len()).map(|_| asm.label()).collect();
    let trap_labels = (0..vcode.traps.len()).map(|_| asm.label()).collect();
    let unwind = asm.label();
    let overflow = asm.label();
    let saved = used_callee_saved(regs);
    let nsaved = 2 + saved.len() as i32;
    let spill_bytes =
        (8 * (nsaved as usize + regs.num_spillslots)).next_multiple_of(16) as i32 - 8 * nsaved;
    let mut e = Emitter {
        f,
        vcode,
        regs,
        asm,
        labels,
        trap_labels,
        unwind,
        overflow,
        pc_map: Vec::new(),
        last_loc: None,
        saved,
        spill_bytes,
        entry_stop: None,
        direct_calls,
        call_sites: Vec::new(),
    };
    e.thread_empty_splits();
    let order: Vec<usize> = e
        .block_order()
        .into_iter()
        .filter(|&b| !e.is_empty_split(b))
        .collect();
    let headers = e.loop_headers(&order);
    e.prologue();
    for (n, &b) in order.iter().enumerate() {
        let next = order.get(n + 1).copied();
        if headers[b] {
            e.asm.align(LOOP_ALIGN);
        }
        e.block(b, next);
    }
    e.out_of_line();
    let no_frame = e.asm.take_no_frame();
    let code = e.asm.finish()?;
    let mut pc_map = e.pc_map;
    // Where code for one location emitted nothing, the next entry owns
    // the offset: keep the last entry for each offset.
    pc_map.dedup_by(|later, earlier| {
        if later.offset == earlier.offset {
            *earlier = *later;
            true
        } else {
            false
        }
    });
    let frame_size = 8 * (2 + nsaved as u32) + e.spill_bytes as u32;
    Ok(CompiledCode {
        func: f.id,
        tier: Tier::Opt,
        code,
        pc_map,
        inlines: f
            .inlines
            .iter()
            .map(|i| InlineFrame {
                func: i.func,
                parent: i.parent,
                call_pc: i.call_pc,
            })
            .collect(),
        osr_entries: f.osr_pc.map(|pc| vec![(pc, 0)]).unwrap_or_default(),
        call_sites: e.call_sites,
        frame_size,
        no_frame,
    })
}

/// Loop headers start at a multiple of this many bytes of the code (a
/// blob's code is 16-byte aligned in code memory).
const LOOP_ALIGN: usize = 16;

/// The callee-saved registers the allocation uses, in push order.
fn used_callee_saved(regs: &Output) -> Vec<Gpr> {
    let mut used = [false; 16];
    let mut note = |a: Allocation| {
        if let Some(r) = a.as_reg() {
            if r.class() == RegClass::Int {
                used[r.hw_enc()] = true;
            }
        }
    };
    regs.allocs.iter().copied().for_each(&mut note);
    for (_, edit) in &regs.edits {
        let Edit::Move { from, to } = edit;
        note(*from);
        note(*to);
    }
    [Gpr::R12, Gpr::R13, Gpr::R14]
        .into_iter()
        .filter(|&r| used[r as usize])
        .collect()
}

impl Emitter<'_> {
    /// IR blocks in layout order, each split block right after the block
    /// whose branch it splits.
    fn block_order(&self) -> Vec<usize> {
        let n = self.vcode.blocks.len();
        let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut order = Vec::with_capacity(n);
        for (i, b) in self.vcode.blocks.iter().enumerate() {
            if let Some(from) = b.split_from {
                after[from as usize].push(i);
            }
        }
        for &b in &self.vcode.emit_order {
            order.push(b as usize);
            order.extend(after[b as usize].iter().copied());
        }
        order
    }

    /// Per block: true if a block at or after it in `order` (the
    /// emission order) jumps to it, through empty split blocks: the
    /// headers of loops as laid out.
    fn loop_headers(&self, order: &[usize]) -> Vec<bool> {
        let n = self.vcode.blocks.len();
        let mut pos = vec![usize::MAX; n];
        for (i, &b) in order.iter().enumerate() {
            pos[b] = i;
        }
        let mut headers = vec![false; n];
        for &b in order {
            for s in &self.vcode.blocks[b].succs {
                let mut s = s.index();
                while self.is_empty_split(s) {
                    s = self.vcode.blocks[s].succs[0].index();
                }
                if pos[s] <= pos[b] {
                    headers[s] = true;
                }
            }
        }
        headers
    }

    /// True if the allocator put nothing in split block `b` (only its
    /// jump is there).
    fn is_empty_split(&self, b: usize) -> bool {
        let block = &self.vcode.blocks[b];
        block.split_from.is_some()
            && self
                .regs
                .block_insts_and_edits(self.vcode, RBlock::new(b))
                .all(|x| matches!(x, InstOrEdit::Inst(_)))
    }

    /// Branches into an empty split block go straight to its target.
    fn thread_empty_splits(&mut self) {
        for b in 0..self.vcode.blocks.len() {
            if self.is_empty_split(b) {
                let target = self.vcode.blocks[b].succs[0].index();
                self.labels[b] = self.labels[target];
            }
        }
    }

    fn at(&mut self, loc: Loc) {
        if self.last_loc != Some(loc) {
            self.pc_map.push(PcMapEntry {
                offset: self.asm.offset() as u32,
                pc: loc.pc,
                inline: loc.inline,
            });
            self.last_loc = Some(loc);
        }
    }

    fn spill_slot(&self, slot: usize) -> Mem {
        let below = 8 * (2 + self.saved.len() as i32) + 8 * (slot as i32 + 1);
        Mem::base_disp(Gpr::Rbp, -below)
    }

    fn prologue(&mut self) {
        let entry_loc = Loc {
            inline: 0,
            pc: self.f.osr_pc.unwrap_or(0),
        };
        self.at(entry_loc);
        let a = &mut self.asm;
        a.enter_frame();
        a.push(FRAME);
        a.push(CTX);
        for &r in &self.saved {
            a.push(r);
        }
        if self.spill_bytes > 0 {
            a.alu_ri(Alu::Sub, Gpr::Rsp, self.spill_bytes);
        }
        a.mov_rr(CTX, Gpr::Rdi);
        a.mov_rr(FRAME, Gpr::Rsi);
        // The frame-depth, native-stack and register-stack limits, as in
        // every tier's prologue.
        a.mov_rm(Gpr::Rax, ctx(abi::CTX_DEPTH));
        a.alu_rm(Alu::Cmp, Gpr::Rax, ctx(abi::CTX_MAX_DEPTH));
        a.jcc(Cond::Ae, self.overflow);
        a.alu_rm(Alu::Cmp, Gpr::Rsp, ctx(abi::CTX_STACK_LIMIT));
        a.jcc(Cond::B, self.overflow);
        a.lea(Gpr::Rax, frame_slot(self.f.num_regs));
        a.alu_rm(Alu::Cmp, Gpr::Rax, ctx(abi::CTX_REGS_END));
        a.jcc(Cond::A, self.overflow);
        a.alu_mi(Alu::Add, ctx(abi::CTX_DEPTH), 1);
        let stop = self.asm.label();
        self.poll(stop);
        self.entry_stop = Some((stop, entry_loc));
    }

    fn poll(&mut self, stop: DynamicLabel) {
        let a = &mut self.asm;
        a.mov_rm(SCRATCH, ctx(abi::CTX_INTERRUPT));
        a.cmp_mi8(Mem::base_disp(SCRATCH, 0), 0);
        a.jcc(Cond::Ne, stop);
    }

    fn block(&mut self, b: usize, next: Option<usize>) {
        let label = self.labels[b];
        self.asm.bind(label);
        let items: Vec<InstOrEdit> = self
            .regs
            .block_insts_and_edits(self.vcode, RBlock::new(b))
            .collect();
        for item in items {
            match item {
                InstOrEdit::Edit(&Edit::Move { from, to }) => self.edit_move(from, to),
                InstOrEdit::Inst(i) => {
                    self.at(self.vcode.locs[i.index()]);
                    self.inst(b, i, next);
                }
            }
        }
    }

    fn edit_move(&mut self, from: Allocation, to: Allocation) {
        if from == to {
            return;
        }
        match (from.as_reg(), to.as_reg()) {
            (Some(f), Some(t)) => match f.class() {
                RegClass::Float => self
                    .asm
                    .movaps_rr(Xmm(t.hw_enc() as u8), Xmm(f.hw_enc() as u8)),
                _ => self.asm.mov_rr(gpr_of(t.hw_enc()), gpr_of(f.hw_enc())),
            },
            (Some(f), None) => {
                let slot = self.spill_slot(to.as_stack().expect("a stack slot").index());
                match f.class() {
                    RegClass::Float => self.asm.movsd_mr(slot, Xmm(f.hw_enc() as u8)),
                    _ => self.asm.mov_mr(slot, gpr_of(f.hw_enc())),
                }
            }
            (None, Some(t)) => {
                let slot = self.spill_slot(from.as_stack().expect("a stack slot").index());
                match t.class() {
                    RegClass::Float => self.asm.movsd_rm(Xmm(t.hw_enc() as u8), slot),
                    _ => self.asm.mov_rm(gpr_of(t.hw_enc()), slot),
                }
            }
            (None, None) => unreachable!("regalloc2 makes no stack-to-stack moves"),
        }
    }

    /// The allocation of operand `n` of instruction `i`, as a register.
    fn g(&self, i: RInst, n: usize) -> Gpr {
        let r = self.regs.inst_allocs(i)[n]
            .as_reg()
            .expect("operands are constrained to registers");
        gpr_of(r.hw_enc())
    }

    fn x(&self, i: RInst, n: usize) -> Xmm {
        let r = self.regs.inst_allocs(i)[n]
            .as_reg()
            .expect("operands are constrained to registers");
        Xmm(r.hw_enc() as u8)
    }

    fn inst(&mut self, block: usize, i: RInst, next: Option<usize>) {
        let (vcode, regs) = (self.vcode, self.regs);
        let inst = &vcode.insts[i.index()];
        let reg = |n: usize| {
            regs.inst_allocs(i)[n]
                .as_reg()
                .expect("operands are constrained to registers")
                .hw_enc()
        };
        let g = |n: usize| gpr_of(reg(n));
        let x = |n: usize| Xmm(reg(n) as u8);
        match *inst {
            MInst::LoadParam { reg, float } => {
                if float {
                    self.asm.movsd_rm(x(0), frame_slot(reg))
                } else {
                    self.asm.mov_rm(g(0), frame_slot(reg))
                }
            }
            MInst::Const { bits, float } => {
                if !float {
                    self.asm.mov_ri(g(0), bits as i64);
                } else if bits == 0 {
                    self.asm.xorps_rr(x(0), x(0));
                } else {
                    self.asm.mov_ri(SCRATCH, bits as i64);
                    self.asm.movq_xr(x(0), SCRATCH);
                }
            }
            // The allocator may give a copy the register of its source.
            MInst::Move { float } => {
                if float {
                    if x(1) != x(0) {
                        self.asm.movaps_rr(x(1), x(0))
                    }
                } else if g(1) != g(0) {
                    self.asm.mov_rr(g(1), g(0))
                }
            }
            MInst::Alu(op) => self.asm.alu_rr(op, g(2), g(1)),
            MInst::AluImm(op, imm) => self.asm.alu_ri(op, g(1), imm),
            MInst::Imul => self.asm.imul_rr(g(2), g(1)),
            MInst::Add3 => {
                let (a, b, d) = (g(0), g(1), g(2));
                if d == a {
                    self.asm.alu_rr(Alu::Add, d, b);
                } else if d == b {
                    self.asm.alu_rr(Alu::Add, d, a);
                } else {
                    self.asm.lea(d, Mem::indexed(a, b, 1, 0));
                }
            }
            MInst::AddImm3(imm) => {
                let (a, d) = (g(0), g(1));
                if d == a {
                    self.asm.alu_ri(Alu::Add, d, imm);
                } else {
                    self.asm.lea(d, Mem::base_disp(a, imm));
                }
            }
            MInst::ImulImm(imm) => self.asm.imul_rri(g(1), g(0), imm),
            MInst::Div { rem: _, trap } => {
                let stub = self.trap_labels[trap as usize];
                let (divide, done) = (self.asm.label(), self.asm.label());
                let a = &mut self.asm;
                a.test_rr(Gpr::Rcx, Gpr::Rcx);
                a.jcc(Cond::E, stub);
                a.alu_ri(Alu::Cmp, Gpr::Rcx, -1);
                a.jcc(Cond::Ne, divide);
                // x / -1 is -x (wrapping) and x % -1 is 0: idiv would
                // fault on MIN.
                a.neg(Gpr::Rax);
                a.alu_rr(Alu::Xor, Gpr::Rdx, Gpr::Rdx);
                a.jmp(done);
                a.bind(divide);
                a.cqo();
                a.idiv(Gpr::Rcx);
                a.bind(done);
            }
            MInst::Shift { right } => {
                if right {
                    self.asm.sar_cl(g(2))
                } else {
                    self.asm.shl_cl(g(2))
                }
            }
            MInst::ShiftImm { right, amount } => {
                if amount != 0 {
                    if right {
                        self.asm.sar_ri(g(1), amount)
                    } else {
                        self.asm.shl_ri(g(1), amount)
                    }
                }
            }
            MInst::Unary(op) => {
                let d = g(1);
                match op {
                    Unary::Neg => self.asm.neg(d),
                    Unary::Not => self.asm.not(d),
                    Unary::NotBool => self.asm.alu_ri(Alu::Xor, d, 1),
                }
            }
            MInst::Abs => {
                let (d, t) = (g(1), g(2));
                let a = &mut self.asm;
                a.mov_rr(t, d);
                a.sar_ri(t, 63);
                a.alu_rr(Alu::Xor, d, t);
                a.alu_rr(Alu::Sub, d, t);
            }
            MInst::MinMax { max } => {
                let (d, b) = (g(2), g(1));
                self.asm.alu_rr(Alu::Cmp, d, b);
                self.asm.cmov(if max { Cond::L } else { Cond::G }, d, b);
            }
            MInst::Cmp(cc) => {
                let (a, b, d) = (g(0), g(1), g(2));
                self.asm.alu_rr(Alu::Cmp, a, b);
                self.asm.setcc(int_cond(cc), d);
                self.asm.movzx_r8(d, d);
            }
            MInst::CmpImm(cc, imm) => {
                let (a, d) = (g(0), g(1));
                self.asm.alu_ri(Alu::Cmp, a, imm);
                self.asm.setcc(int_cond(cc), d);
                self.asm.movzx_r8(d, d);
            }
            MInst::Fop(op) => {
                let (d, b) = (x(2), x(1));
                match op {
                    FloatOp::Add => self.asm.sse_rr(SseOp::Add, d, b),
                    FloatOp::Sub => self.asm.sse_rr(SseOp::Sub, d, b),
                    FloatOp::Mul => self.asm.sse_rr(SseOp::Mul, d, b),
                    FloatOp::Div => self.asm.sse_rr(SseOp::Div, d, b),
                }
            }
            MInst::Fsqrt => self.asm.sse_rr(SseOp::Sqrt, x(1), x(0)),
            MInst::FminMax { max } => self.asm.float_min_max(max, x(2), x(1)),
            MInst::Fneg | MInst::Fabs => {
                let d = x(1);
                self.asm.movq_rx(SCRATCH, d);
                if matches!(inst, MInst::Fneg) {
                    self.asm.btc_ri(SCRATCH, 63);
                } else {
                    self.asm.btr_ri(SCRATCH, 63);
                }
                self.asm.movq_xr(d, SCRATCH);
            }
            MInst::ItoF => {
                let (a, d) = (g(0), x(1));
                self.asm.xorps_rr(d, d);
                self.asm.cvtsi2sd_rr(d, a);
            }
            MInst::FtoI => self.asm.float_to_int(g(1), x(0), SCRATCH, Xmm(FSCRATCH)),
            MInst::Fcmp(cc) => {
                let (a, b, d) = (x(0), x(1), g(2));
                self.float_flags(cc, a, b);
                let asm = &mut self.asm;
                match cc {
                    FloatCC::Lt => asm.setcc(Cond::A, d),
                    FloatCC::Le => asm.setcc(Cond::Ae, d),
                    FloatCC::NotLt => asm.setcc(Cond::Be, d),
                    FloatCC::NotLe => asm.setcc(Cond::B, d),
                    FloatCC::Eq | FloatCC::Ne => {
                        let (c, p, op) = if cc == FloatCC::Eq {
                            (Cond::E, Cond::Np, Alu::And)
                        } else {
                            (Cond::Ne, Cond::P, Alu::Or)
                        };
                        asm.setcc(c, d);
                        asm.setcc(p, SCRATCH);
                        asm.movzx_r8(SCRATCH, SCRATCH);
                        asm.movzx_r8(d, d);
                        asm.alu_rr(op, d, SCRATCH);
                        return;
                    }
                }
                asm.movzx_r8(d, d);
            }
            MInst::Len => self.asm.mov_rm(g(1), Mem::base_disp(g(0), 0)),
            MInst::BoundsCheck { trap } => {
                let stub = self.trap_labels[trap as usize];
                // One unsigned compare: a negative index is huge.
                self.asm.alu_rm(Alu::Cmp, g(1), Mem::base_disp(g(0), 0));
                self.asm.jcc(Cond::Ae, stub);
            }
            MInst::Load { float } => {
                let m = element(g(0), g(1));
                if float {
                    self.asm.movsd_rm(x(2), m)
                } else {
                    self.asm.mov_rm(g(2), m)
                }
            }
            MInst::Store { float } => {
                let m = element(g(0), g(1));
                if float {
                    self.asm.movsd_mr(m, x(2))
                } else {
                    self.asm.mov_mr(m, g(2))
                }
            }
            MInst::AtomicAdd => {
                let m = element(g(0), g(1));
                self.asm.lock_xadd(m, g(3));
            }
            MInst::StoreFrame { reg, float } => {
                if float {
                    self.asm.movsd_mr(frame_slot(reg), x(0))
                } else {
                    self.asm.mov_mr(frame_slot(reg), g(0))
                }
            }
            MInst::Call {
                func,
                window,
                depth,
            } => self.call(func.0, window, depth),
            MInst::Helper {
                helper,
                ref args,
                trap,
            } => {
                let mut operand = 0;
                for &arg in args {
                    match arg {
                        HelperArg::Fixed => operand += 1,
                        HelperArg::FloatBits(r) => {
                            let v = x(operand);
                            self.asm.movq_rx(r, v);
                            operand += 1;
                        }
                        HelperArg::Imm(r, v) => self.asm.mov_ri(r, v as i64),
                        HelperArg::FrameAddr(r, w) => self.asm.lea(r, frame_slot(w)),
                    }
                }
                self.asm.call_helper(helper);
                if let Some(trap) = trap {
                    self.asm.test_rr(Gpr::Rdx, Gpr::Rdx);
                    self.asm.jcc(Cond::Ne, self.trap_labels[trap as usize]);
                }
            }
            MInst::GprToXmm => self.asm.movq_xr(x(1), g(0)),
            MInst::Poll { trap } => {
                let stub = self.trap_labels[trap as usize];
                self.poll(stub);
            }
            MInst::FrameOk { depth, regs_end } => {
                let d = g(0);
                self.compare_frame_depth(depth);
                self.asm.setcc(Cond::B, d);
                self.compare_frame_regs(regs_end);
                let a = &mut self.asm;
                a.setcc(Cond::Be, SCRATCH);
                a.alu_rr(Alu::And, d, SCRATCH);
                a.movzx_r8(d, d);
            }
            MInst::FrameCheck {
                trap,
                depth,
                regs_end,
            } => {
                let stub = self.trap_labels[trap as usize];
                self.compare_frame_depth(depth);
                self.asm.jcc(Cond::Ae, stub);
                self.compare_frame_regs(regs_end);
                self.asm.jcc(Cond::A, stub);
            }
            MInst::TrapUnless { trap } => {
                let ok = g(0);
                self.asm.test_rr(ok, ok);
                self.asm.jcc(Cond::E, self.trap_labels[trap as usize]);
            }
            MInst::Jump => {
                let target = self.vcode.blocks[block].succs[0].index();
                if !self.falls_into(target, next) {
                    self.asm.jmp(self.labels[target]);
                }
            }
            MInst::Branch(kind) => self.branch(block, i, kind, next),
            MInst::Ret { float } => {
                if float {
                    let v = x(0);
                    self.asm.movq_rx(Gpr::Rax, v);
                }
                self.epilogue(true);
            }
        }
    }

    /// Compares the frames active before an inlined frame `depth` deep is
    /// pushed (the compiled function's, counted in the context, and
    /// `depth - 1` inlined ones) with the frame limit: "below" if it fits.
    fn compare_frame_depth(&mut self, depth: u32) {
        let a = &mut self.asm;
        a.mov_rm(SCRATCH, ctx(abi::CTX_DEPTH));
        if depth > 1 {
            a.alu_ri(Alu::Add, SCRATCH, depth as i32 - 1);
        }
        a.alu_rm(Alu::Cmp, SCRATCH, ctx(abi::CTX_MAX_DEPTH));
    }

    /// Compares the end of an inlined frame (`regs_end` registers into the
    /// compiled function's frame) with the register stack's end: "below
    /// or equal" if it fits.
    fn compare_frame_regs(&mut self, regs_end: u32) {
        self.asm.lea(SCRATCH, frame_slot(regs_end));
        self.asm.alu_rm(Alu::Cmp, SCRATCH, ctx(abi::CTX_REGS_END));
    }

    /// True if control reaching the end of the block before `next` gets
    /// to block `target` without a jump.
    fn falls_into(&self, target: usize, next: Option<usize>) -> bool {
        next.is_some_and(|n| self.labels[n] == self.labels[target])
    }

    fn branch(&mut self, block: usize, i: RInst, kind: BranchKind, next: Option<usize>) {
        let succs = &self.vcode.blocks[block].succs;
        let (then_b, else_b) = (succs[0].index(), succs[1].index());
        let (then_l, else_l) = (self.labels[then_b], self.labels[else_b]);
        if self.falls_into(then_b, next) {
            // Jump to `else` on the opposite condition; fall into `then`.
            self.cond_jump(i, kind, false, else_l);
        } else {
            self.cond_jump(i, kind, true, then_l);
            if !self.falls_into(else_b, next) {
                self.asm.jmp(else_l);
            }
        }
    }

    /// Jumps to `target` if the branch condition equals `when`.
    fn cond_jump(&mut self, i: RInst, kind: BranchKind, when: bool, target: DynamicLabel) {
        match kind {
            BranchKind::Bool => {
                let c = self.g(i, 0);
                self.asm.test_rr(c, c);
                self.asm.jcc(if when { Cond::Ne } else { Cond::E }, target);
            }
            BranchKind::Icmp(cc) => {
                let (a, b) = (self.g(i, 0), self.g(i, 1));
                self.asm.alu_rr(Alu::Cmp, a, b);
                let cc = if when { cc } else { cc.invert() };
                self.asm.jcc(int_cond(cc), target);
            }
            BranchKind::IcmpImm(cc, imm) => {
                let a = self.g(i, 0);
                self.asm.alu_ri(Alu::Cmp, a, imm);
                let cc = if when { cc } else { cc.invert() };
                self.asm.jcc(int_cond(cc), target);
            }
            BranchKind::Fcmp(cc) => {
                let (a, b) = (self.x(i, 0), self.x(i, 1));
                let cc = if when { cc } else { cc.invert() };
                self.float_flags(cc, a, b);
                match cc {
                    FloatCC::Lt => self.asm.jcc(Cond::A, target),
                    FloatCC::Le => self.asm.jcc(Cond::Ae, target),
                    FloatCC::NotLt => self.asm.jcc(Cond::Be, target),
                    FloatCC::NotLe => self.asm.jcc(Cond::B, target),
                    FloatCC::Eq => {
                        let skip = self.asm.label();
                        self.asm.jcc(Cond::P, skip);
                        self.asm.jcc(Cond::E, target);
                        self.asm.bind(skip);
                    }
                    FloatCC::Ne => {
                        self.asm.jcc(Cond::P, target);
                        self.asm.jcc(Cond::Ne, target);
                    }
                }
            }
        }
    }

    /// Sets flags for a float comparison: for `<` and `<=` (and their
    /// negations) compare `b` with `a`, so "above" means `a < b` and NaN
    /// (CF = 1) reads as false.
    fn float_flags(&mut self, cc: FloatCC, a: Xmm, b: Xmm) {
        match cc {
            FloatCC::Lt | FloatCC::Le | FloatCC::NotLt | FloatCC::NotLe => {
                self.asm.ucomisd_rr(b, a)
            }
            FloatCC::Eq | FloatCC::Ne => self.asm.ucomisd_rr(a, b),
        }
    }

    /// Calls `func` (directly, or through its method-table slot), its
    /// window at frame register `window`, counting the `depth` inlined
    /// frames of the caller around the call; unwinds if the callee left an
    /// error. The arguments are the `EntryFn` convention's, whichever code
    /// the call reaches.
    fn call(&mut self, func: u32, window: u32, depth: u32) {
        let after = self.asm.label();
        let a = &mut self.asm;
        if depth > 0 {
            a.alu_mi(Alu::Add, ctx(abi::CTX_DEPTH), depth as i32);
        }
        a.mov_rr(Gpr::Rdi, CTX);
        a.lea(Gpr::Rsi, frame_slot(window));
        a.mov_ri(Gpr::Rdx, func as i64);
        a.lea_label(Gpr::Rcx, after);
        a.mov_rr(Gpr::R8, Gpr::Rbp);
        if self.direct_calls {
            let offset = a.call_patchable();
            self.call_sites.push(CallSite {
                offset,
                callee: FuncId(func),
            });
        } else {
            a.mov_rm(Gpr::Rax, ctx(abi::CTX_METHODS));
            a.call_mem(Mem::indexed(Gpr::Rax, Gpr::Rdx, 8, 0));
        }
        a.bind(after);
        if depth > 0 {
            a.alu_mi(Alu::Sub, ctx(abi::CTX_DEPTH), depth as i32);
        }
        a.alu_mi(Alu::Cmp, ctx(abi::CTX_PENDING), 0);
        a.jcc(Cond::Ne, self.unwind);
    }

    /// Returns `rax`: uncounts the frame (if `counted`), restores the
    /// saved registers and `rsp`.
    fn epilogue(&mut self, counted: bool) {
        let a = &mut self.asm;
        if counted {
            a.alu_mi(Alu::Sub, ctx(abi::CTX_DEPTH), 1);
        }
        let nsaved = 2 + self.saved.len() as i32;
        a.lea(Gpr::Rsp, Mem::base_disp(Gpr::Rbp, -8 * nsaved));
        for &r in self.saved.iter().rev() {
            a.pop(r);
        }
        a.pop(CTX);
        a.pop(FRAME);
        a.leave_frame_and_return();
    }

    /// Trap stubs, the unwind path and the prologue's overflow exit.
    fn out_of_line(&mut self) {
        let end = Loc {
            inline: 0,
            pc: self.f.osr_pc.unwrap_or(0),
        };
        if let Some((stop, loc)) = self.entry_stop.take() {
            self.asm.bind(stop);
            self.at(loc);
            self.trap_stub(Some(Trap::Terminated));
        }
        for (n, site) in self.vcode.traps.iter().enumerate() {
            self.asm.bind(self.trap_labels[n]);
            self.at(site.loc);
            self.trap_stub(site.trap);
        }
        // Unwinding: a runtime error is pending; return at once.
        self.at(end);
        self.asm.bind(self.unwind);
        self.epilogue(true);
        // The prologue found no room for this frame: the error belongs to
        // the caller, whose frame the trap helper finds from ours.
        self.asm.bind(self.overflow);
        self.asm
            .trap_stub_without_frame(trap_code::of(Trap::StackOverflow));
        self.asm.alu_rr(Alu::Xor, Gpr::Rax, Gpr::Rax);
        self.epilogue(false);
    }

    /// Calls the trap helper for the current location (`None`: the code a
    /// helper returned in `rdx`), then unwinds.
    fn trap_stub(&mut self, trap: Option<Trap>) {
        match trap {
            Some(t) => self
                .asm
                .trap_stub(trap_code::of(t), TRAP_FRAMES_FROM_PC, 0, self.unwind),
            None => self
                .asm
                .helper_trap_stub(TRAP_FRAMES_FROM_PC, 0, self.unwind),
        }
    }
}
