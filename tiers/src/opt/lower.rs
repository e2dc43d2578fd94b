//! Lowering: IR to machine instructions over virtual registers, in the
//! form `regalloc2` allocates.
//!
//! Needs: a verified [`Func`] whose entry block has no predecessors.
//! Gives: a [`VCode`] (`vcode.rs`): blocks in reverse postorder (plus one
//! block per split critical edge), each a contiguous range of [`MInst`]s ending in a
//! branch or return, with every operand's constraint:
//!
//! - two-address x86 operations define their result as a reuse of their
//!   first input;
//! - `idiv` takes the dividend in `rax` and the divisor in `rcx` and
//!   defines `rax` or `rdx`; variable shifts take the count in `rcx`;
//! - calls and helper calls take fixed argument registers, define `rax`,
//!   and clobber every caller-saved register;
//! - a compare whose only use is the branch right after it is fused into
//!   the branch.
//!
//! Every IR value is the virtual register with the same index; floats are
//! in the float class, everything else in the int class. Pinned machine
//! registers (`rbx` frame, `r15` context, `rbp`, `rsp`) and the scratch
//! registers (`r11`, `xmm15`) are never allocated.

use super::ir::{Block, BlockLists, Func, Inst, Loc, Op, Term, Value};
use super::vcode::{
    call_clobbers, gpr, BranchKind, FloatOp, HelperArg, MInst, TrapSite, Unary, VBlock, VCode,
};
use crate::abi::Helper;
use crate::trap::Trap;
use crate::x64::{Alu, Gpr};
use crate::Type;
use regalloc2::{Block as RBlock, Operand, PRegSet, RegClass, VReg};

fn class(ty: Type) -> RegClass {
    match ty {
        Type::Float => RegClass::Float,
        _ => RegClass::Int,
    }
}

struct Lowerer<'f> {
    f: &'f Func,
    code: VCode,
    /// Uses of each value (instructions and terminators).
    uses: Vec<u32>,
    /// Uses of each value that take it as an immediate if it is a small
    /// constant.
    imm_uses: Vec<u32>,
    /// The VCode block of each IR block.
    vblock: Vec<u32>,
    loc: Loc,
    /// The IR block defining each value.
    def_block: Vec<Block>,
    /// Every (argument, block parameter) pair some branch passes.
    passed: std::collections::HashSet<(Value, Value)>,
    /// The IR block being lowered.
    current_ir_block: Block,
    /// Blocks made by `split_edge` for the block being lowered, whose one
    /// jump is lowered after it.
    pending_splits: Vec<usize>,
    /// The index the next split block of the block being lowered gets.
    next_split: usize,
    /// The block being lowered.
    current: u32,
}

/// Lowers `f`. `header_pcs` maps IR blocks to the bytecode loop header
/// they start (for OSR bookkeeping).
pub fn lower(f: &Func) -> VCode {
    let mut uses = vec![0u32; f.values.len()];
    let mut imm_uses = vec![0u32; f.values.len()];
    for &b in &f.layout {
        for &i in &f.block(b).insts {
            let inst = f.inst(i);
            for (n, &a) in inst.args.iter().enumerate() {
                uses[a.index()] += 1;
                if takes_imm(inst.op, n) {
                    imm_uses[a.index()] += 1;
                }
            }
        }
        f.block(b).term.for_each_use(|v| uses[v.index()] += 1);
    }
    let mut l = Lowerer {
        f,
        code: VCode {
            insts: Vec::with_capacity(f.insts.len() * 2),
            locs: Vec::with_capacity(f.insts.len() * 2),
            operands: Vec::with_capacity(f.insts.len() * 3),
            operand_ranges: {
                let mut r = Vec::with_capacity(f.insts.len() * 2 + 1);
                r.push(0);
                r
            },
            clobbers: Vec::with_capacity(f.insts.len() * 2),
            blocks: Vec::new(),
            traps: Vec::new(),
            emit_order: Vec::new(),
            num_vregs: f.values.len(),
        },
        uses,
        imm_uses,
        vblock: vec![u32::MAX; f.blocks.len()],
        loc: Loc::default(),
        pending_splits: Vec::new(),
        next_split: 0,
        current: 0,
        def_block: f.def_blocks(),
        passed: passed_pairs(f),
        current_ir_block: f.entry,
    };
    // The allocator gets the blocks in reverse postorder (its checker
    // and its heuristics want every block after its predecessors, back
    // edges aside); emission places them in the layout's order.
    // A block that splits a critical edge comes right after the block
    // whose branch it splits, so the order stays a reverse postorder.
    let order = super::analysis::compute_rpo(f);
    let preds = f.compute_preds();
    let mut next = 0u32;
    for &b in &order {
        l.vblock[b.index()] = next;
        next += 1;
        if let Term::Branch { .. } = f.block(b).term {
            next += f.succs(b).filter(|s| preds[s.index()].len() > 1).count() as u32;
        }
    }
    l.code.emit_order = f.layout.iter().map(|b| l.vblock[b.index()]).collect();
    l.code.blocks = vec![VBlock::default(); next as usize];
    for &b in &order {
        let i = l.vblock[b.index()] as usize;
        l.current = i as u32;
        l.current_ir_block = b;
        l.next_split = i + 1;
        l.lower_block(i, b, &preds);
        // Each split block's one jump, right after the branch (regalloc2
        // wants each block's instructions right after the previous one's).
        for index in std::mem::take(&mut l.pending_splits) {
            let start = l.code.insts.len() as u32;
            l.emit(MInst::Jump, &[]);
            let vb = &mut l.code.blocks[index];
            vb.start = start;
            vb.end = start + 1;
        }
    }
    // Predecessors from successors.
    for b in 0..l.code.blocks.len() {
        for k in 0..l.code.blocks[b].succs.len() {
            let s = l.code.blocks[b].succs[k];
            l.code.blocks[s.index()].preds.push(RBlock::new(b));
        }
    }
    l.code
}

impl Lowerer<'_> {
    fn vreg(&self, v: Value) -> VReg {
        VReg::new(v.index(), class(self.f.ty(v)))
    }

    fn new_vreg(&mut self, class: RegClass) -> VReg {
        let v = VReg::new(self.code.num_vregs, class);
        self.code.num_vregs += 1;
        v
    }

    fn push(&mut self, inst: MInst, operands: &[Operand], clobbers: PRegSet) {
        self.code.insts.push(inst);
        self.code.locs.push(self.loc);
        self.code.operands.extend_from_slice(operands);
        self.code
            .operand_ranges
            .push(self.code.operands.len() as u32);
        self.code.clobbers.push(clobbers);
    }

    fn emit(&mut self, inst: MInst, operands: &[Operand]) {
        self.push(inst, operands, PRegSet::empty());
    }

    fn trap(&mut self, trap: Option<Trap>, loc: Loc) -> u32 {
        self.code.traps.push(TrapSite { trap, loc });
        (self.code.traps.len() - 1) as u32
    }

    fn lower_block(&mut self, index: usize, b: Block, preds: &BlockLists) {
        let f = self.f;
        let data = f.block(b);
        let start = self.code.insts.len() as u32;
        if b == f.entry {
            for (&p, &reg) in data.params.iter().zip(&f.entry_regs) {
                self.loc = Loc {
                    inline: 0,
                    pc: f.osr_pc.unwrap_or(0),
                };
                let float = f.ty(p) == Type::Float;
                let d = self.vreg(p);
                self.emit(MInst::LoadParam { reg, float }, &[Operand::reg_def(d)]);
            }
            self.code.blocks[index].params = Vec::new();
        } else {
            self.code.blocks[index].params = data.params.iter().map(|&p| self.vreg(p)).collect();
        }
        let fused = self.fused_compare(b);
        for (n, &i) in data.insts.iter().enumerate() {
            if Some(i) == fused {
                continue;
            }
            self.loc = f.inst(i).loc;
            // A frame_ok used only by the frame_check right after it (it
            // did not leave a loop) is one check-and-branch.
            if let (Op::FrameOk(k), Some(&next)) = (f.inst(i).op, data.insts.get(n + 1)) {
                let r = f.inst(i).result.expect("a bool");
                let check = f.inst(next);
                if check.op == Op::FrameCheck(k) && check.args == [r] && self.uses[r.index()] == 1 {
                    continue;
                }
            }
            if let Op::FrameCheck(_) = f.inst(i).op {
                let ok = f.inst(i).args[0];
                if self.uses[ok.index()] == 1
                    && n > 0
                    && f.inst(data.insts[n - 1]).result == Some(ok)
                    && matches!(f.inst(data.insts[n - 1]).op, Op::FrameOk(_))
                {
                    self.lower_fused_frame_check(i);
                    continue;
                }
            }
            self.lower_inst(i);
        }
        self.loc = data.term_loc;
        self.lower_term(index, b, fused, preds);
        let end = self.code.insts.len() as u32;
        let vb = &mut self.code.blocks[index];
        vb.start = start;
        vb.end = end;
    }

    /// The compare that only the block's branch uses, if it is the last
    /// instruction (so nothing between it and the branch changes flags).
    fn fused_compare(&self, b: Block) -> Option<Inst> {
        let data = self.f.block(b);
        let Term::Branch { cond, .. } = data.term else {
            return None;
        };
        let last = *data.insts.last()?;
        let inst = self.f.inst(last);
        (inst.result == Some(cond)
            && self.uses[cond.index()] == 1
            && matches!(inst.op, Op::Icmp(_) | Op::Fcmp(_)))
        .then_some(last)
    }

    fn lower_term(&mut self, index: usize, b: Block, fused: Option<Inst>, preds: &BlockLists) {
        let f = self.f;
        match &f.block(b).term {
            Term::Jump(d) => {
                let target = RBlock::new(self.vblock[d.block.index()] as usize);
                let args = d.args.iter().map(|&v| self.vreg(v)).collect();
                self.emit(MInst::Jump, &[]);
                let vb = &mut self.code.blocks[index];
                vb.succs.push(target);
                vb.succ_args.push(args);
            }
            Term::Branch {
                cond,
                then_dest,
                else_dest,
            } => {
                let (kind, ops) = match fused {
                    Some(i) => {
                        let inst = f.inst(i);
                        let (a, bv) = (inst.args[0], inst.args[1]);
                        match inst.op {
                            Op::Icmp(cc) => match self.small_const(bv) {
                                Some(imm) => (
                                    BranchKind::IcmpImm(cc, imm),
                                    vec![Operand::reg_use(self.vreg(a))],
                                ),
                                None => (
                                    BranchKind::Icmp(cc),
                                    vec![
                                        Operand::reg_use(self.vreg(a)),
                                        Operand::reg_use(self.vreg(bv)),
                                    ],
                                ),
                            },
                            Op::Fcmp(cc) => (
                                BranchKind::Fcmp(cc),
                                vec![
                                    Operand::reg_use(self.vreg(a)),
                                    Operand::reg_use(self.vreg(bv)),
                                ],
                            ),
                            _ => unreachable!("fused compares are compares"),
                        }
                    }
                    None => (BranchKind::Bool, vec![Operand::reg_use(self.vreg(*cond))]),
                };
                self.emit(MInst::Branch(kind), &ops);
                for d in [then_dest, else_dest] {
                    let target = self.vblock[d.block.index()];
                    let args: Vec<VReg> = d.args.iter().map(|&v| self.vreg(v)).collect();
                    if preds[d.block.index()].len() > 1 {
                        // A critical edge: through a block of its own.
                        let split = self.split_edge(target, args);
                        let vb = &mut self.code.blocks[index];
                        vb.succs.push(split);
                        vb.succ_args.push(Vec::new());
                    } else {
                        let vb = &mut self.code.blocks[index];
                        vb.succs.push(RBlock::new(target as usize));
                        vb.succ_args.push(args);
                    }
                }
            }
            Term::Return(v) => match v {
                Some(v) => {
                    let float = f.ty(*v) == Type::Float;
                    let op = if float {
                        Operand::reg_use(self.vreg(*v))
                    } else {
                        Operand::reg_fixed_use(self.vreg(*v), gpr(Gpr::Rax))
                    };
                    self.emit(MInst::Ret { float }, &[op]);
                }
                None => self.emit(MInst::Ret { float: false }, &[]),
            },
            Term::None => unreachable!("verified functions have terminators"),
        }
    }

    /// Makes the block (numbered right after the current block) that
    /// jumps to `target` with `args`; gives its index.
    fn split_edge(&mut self, target: u32, args: Vec<VReg>) -> RBlock {
        let index = self.next_split;
        self.next_split += 1;
        self.code.blocks[index] = VBlock {
            succs: vec![RBlock::new(target as usize)],
            succ_args: vec![args],
            split_from: Some(self.current),
            ..VBlock::default()
        };
        self.pending_splits.push(index);
        RBlock::new(index)
    }
}

/// Every (argument, parameter) pair a branch of `f` passes.
fn passed_pairs(f: &Func) -> std::collections::HashSet<(Value, Value)> {
    let mut pairs = std::collections::HashSet::new();
    for &b in &f.layout {
        for d in f.block(b).term.successors() {
            for (&a, &p) in d.args.iter().zip(&f.block(d.block).params) {
                pairs.insert((a, p));
            }
        }
    }
    pairs
}

/// Operations whose operands may be swapped (exactly: for floats, IEEE
/// `+` and `*` give the same result either way).
fn is_commutative(op: Op) -> bool {
    matches!(
        op,
        Op::Imul | Op::Iand | Op::Ior | Op::Ixor | Op::Imin | Op::Imax | Op::Fadd | Op::Fmul
    )
}

/// Whether operand `arg` of an instruction with op `op` is lowered as an
/// immediate when it is a constant that fits in 32 bits.
fn takes_imm(op: Op, arg: usize) -> bool {
    arg == 1
        && matches!(
            op,
            Op::Iadd
                | Op::Isub
                | Op::Iand
                | Op::Ior
                | Op::Ixor
                | Op::Imul
                | Op::Ishl
                | Op::Ishr
                | Op::Icmp(_)
        )
}

impl Lowerer<'_> {
    /// The value as a 32-bit immediate, if it is an int constant that fits.
    fn small_const(&self, v: Value) -> Option<i32> {
        self.f
            .as_iconst(v)
            .and_then(|c| i32::try_from(c).ok())
            .filter(|_| self.f.ty(v) == Type::Int)
    }

    /// A frame check whose `frame_ok` was not hoisted: compare and branch
    /// in one go.
    fn lower_fused_frame_check(&mut self, i: Inst) {
        let Op::FrameCheck(k) = self.f.inst(i).op else {
            unreachable!("called on frame checks");
        };
        let frame = self
            .f
            .inline_frame(k)
            .expect("frame checks name inlined frames");
        let at = Loc {
            inline: frame.parent,
            pc: frame.call_pc,
        };
        let (depth, regs_end) = (frame.depth, frame.reg_base + frame.num_regs);
        let trap = self.trap(Some(Trap::StackOverflow), at);
        self.emit(
            MInst::FrameCheck {
                trap,
                depth,
                regs_end,
            },
            &[],
        );
    }

    /// True if some branch passes `result` to the parameter `param`.
    fn feeds(&self, result: Value, param: Value) -> bool {
        self.passed.contains(&(result, param))
    }

    fn use_(&self, v: Value) -> Operand {
        Operand::reg_use(self.vreg(v))
    }

    fn fixed_use(&self, v: Value, r: Gpr) -> Operand {
        Operand::reg_fixed_use(self.vreg(v), gpr(r))
    }

    fn def(&self, v: Value) -> Operand {
        Operand::reg_def(self.vreg(v))
    }

    fn reuse(&self, v: Value, input: usize) -> Operand {
        Operand::reg_reuse_def(self.vreg(v), input)
    }

    fn lower_inst(&mut self, i: Inst) {
        let inst = self.f.inst(i);
        // A two-address operation overwrites its first operand's register:
        // for a commutative one, make that the operand used only here, so
        // the other (still live) need not be copied first.
        let (a0, a1) = (inst.args.first(), inst.args.get(1));
        let swap = match (a0, a1, inst.result) {
            (Some(&a0), Some(&a1), Some(r)) if is_commutative(inst.op) => {
                // An accumulator (`s = s + x` around a loop) keeps its
                // register: the result goes back into the parameter.
                if self.feeds(r, a0) {
                    false
                } else if self.feeds(r, a1) {
                    true
                } else {
                    self.small_const(a1).is_none()
                        && self.uses[a1.index()] == 1
                        && self.def_block[a1.index()] == self.current_ir_block
                        && (self.uses[a0.index()] > 1
                            || self.def_block[a0.index()] != self.current_ir_block
                                && self.f.def_inst(a0).is_some())
                }
            }
            _ => false,
        };
        let args = if swap {
            vec![inst.args[1], inst.args[0]]
        } else {
            inst.args.clone()
        };
        let a = |n: usize| args[n];
        let result = inst.result;
        let r = || result.expect("this op has a result");
        let loc = inst.loc;
        match inst.op {
            Op::Iconst(c) => {
                if self.code_needs_const(r()) {
                    self.emit(
                        MInst::Const {
                            bits: c as u64,
                            float: false,
                        },
                        &[self.def(r())],
                    )
                }
            }
            Op::Bconst(b) => self.emit(
                MInst::Const {
                    bits: b as u64,
                    float: false,
                },
                &[self.def(r())],
            ),
            Op::Fconst(bits) => self.emit(MInst::Const { bits, float: true }, &[self.def(r())]),
            // Additions take any registers: `lea` when the result is in
            // neither operand's register.
            Op::Iadd => match self.small_const(a(1)) {
                Some(imm) => self.emit(MInst::AddImm3(imm), &[self.use_(a(0)), self.def(r())]),
                None => self.emit(
                    MInst::Add3,
                    &[self.use_(a(0)), self.use_(a(1)), self.def(r())],
                ),
            },
            Op::Isub if self.small_const(a(1)).is_some_and(|c| c != i32::MIN) => {
                let imm = -self.small_const(a(1)).expect("checked");
                self.emit(MInst::AddImm3(imm), &[self.use_(a(0)), self.def(r())])
            }
            Op::Isub | Op::Iand | Op::Ior | Op::Ixor => {
                let alu = match inst.op {
                    Op::Iadd => Alu::Add,
                    Op::Isub => Alu::Sub,
                    Op::Iand => Alu::And,
                    Op::Ior => Alu::Or,
                    _ => Alu::Xor,
                };
                match self.small_const(a(1)) {
                    Some(imm) => self.emit(
                        MInst::AluImm(alu, imm),
                        &[self.use_(a(0)), self.reuse(r(), 0)],
                    ),
                    None => self.emit(
                        MInst::Alu(alu),
                        &[self.use_(a(0)), self.use_(a(1)), self.reuse(r(), 0)],
                    ),
                }
            }
            Op::Imul => match self.small_const(a(1)) {
                Some(imm) => self.emit(MInst::ImulImm(imm), &[self.use_(a(0)), self.def(r())]),
                None => self.emit(
                    MInst::Imul,
                    &[self.use_(a(0)), self.use_(a(1)), self.reuse(r(), 0)],
                ),
            },
            Op::Idiv | Op::Irem => {
                let rem = inst.op == Op::Irem;
                let trap = self.trap(Some(Trap::DivisionByZero), loc);
                let out = if rem { Gpr::Rdx } else { Gpr::Rax };
                let other = if rem { Gpr::Rax } else { Gpr::Rdx };
                let mut clobbers = PRegSet::empty();
                clobbers.add(gpr(other));
                self.push(
                    MInst::Div { rem, trap },
                    &[
                        self.fixed_use(a(0), Gpr::Rax),
                        self.fixed_use(a(1), Gpr::Rcx),
                        Operand::reg_fixed_def(self.vreg(r()), gpr(out)),
                    ],
                    clobbers,
                );
            }
            Op::Ishl | Op::Ishr => {
                let right = inst.op == Op::Ishr;
                match self.f.as_iconst(a(1)) {
                    Some(c) => self.emit(
                        MInst::ShiftImm {
                            right,
                            amount: (c & 63) as u8,
                        },
                        &[self.use_(a(0)), self.reuse(r(), 0)],
                    ),
                    None => self.emit(
                        MInst::Shift { right },
                        &[
                            self.use_(a(0)),
                            self.fixed_use(a(1), Gpr::Rcx),
                            self.reuse(r(), 0),
                        ],
                    ),
                }
            }
            Op::Imin | Op::Imax => self.emit(
                MInst::MinMax {
                    max: inst.op == Op::Imax,
                },
                &[self.use_(a(0)), self.use_(a(1)), self.reuse(r(), 0)],
            ),
            Op::Ineg => self.emit(
                MInst::Unary(Unary::Neg),
                &[self.use_(a(0)), self.reuse(r(), 0)],
            ),
            Op::Inot => self.emit(
                MInst::Unary(Unary::Not),
                &[self.use_(a(0)), self.reuse(r(), 0)],
            ),
            Op::Bnot => self.emit(
                MInst::Unary(Unary::NotBool),
                &[self.use_(a(0)), self.reuse(r(), 0)],
            ),
            Op::Iabs => {
                let t = self.new_vreg(RegClass::Int);
                self.emit(
                    MInst::Abs,
                    &[self.use_(a(0)), self.reuse(r(), 0), Operand::reg_temp(t)],
                )
            }
            Op::Fadd | Op::Fsub | Op::Fmul | Op::Fdiv => {
                let op = match inst.op {
                    Op::Fadd => FloatOp::Add,
                    Op::Fsub => FloatOp::Sub,
                    Op::Fmul => FloatOp::Mul,
                    _ => FloatOp::Div,
                };
                self.emit(
                    MInst::Fop(op),
                    &[self.use_(a(0)), self.use_(a(1)), self.reuse(r(), 0)],
                )
            }
            Op::Fmin | Op::Fmax => self.emit(
                MInst::FminMax {
                    max: inst.op == Op::Fmax,
                },
                &[self.use_(a(0)), self.use_(a(1)), self.reuse(r(), 0)],
            ),
            Op::Fneg => self.emit(MInst::Fneg, &[self.use_(a(0)), self.reuse(r(), 0)]),
            Op::Fabs => self.emit(MInst::Fabs, &[self.use_(a(0)), self.reuse(r(), 0)]),
            Op::Fsqrt => self.emit(MInst::Fsqrt, &[self.use_(a(0)), self.def(r())]),
            Op::ItoF => self.emit(MInst::ItoF, &[self.use_(a(0)), self.def(r())]),
            Op::FtoI => self.emit(MInst::FtoI, &[self.use_(a(0)), self.def(r())]),
            Op::Icmp(cc) => match self.small_const(a(1)) {
                Some(imm) => self.emit(MInst::CmpImm(cc, imm), &[self.use_(a(0)), self.def(r())]),
                None => self.emit(
                    MInst::Cmp(cc),
                    &[self.use_(a(0)), self.use_(a(1)), self.def(r())],
                ),
            },
            Op::Fcmp(cc) => self.emit(
                MInst::Fcmp(cc),
                &[self.use_(a(0)), self.use_(a(1)), self.def(r())],
            ),
            Op::NewArray => {
                let float_init = self.f.ty(a(0)) == Type::Float;
                let init = if float_init {
                    (HelperArg::FloatBits(Gpr::Rdx), self.use_(a(0)))
                } else {
                    (HelperArg::Fixed, self.fixed_use(a(0), Gpr::Rdx))
                };
                let trap = self.trap(None, loc);
                // Operand order: len (rsi), init.
                self.helper(
                    Helper::NewArray,
                    vec![HelperArg::Fixed, init.0],
                    vec![self.fixed_use(a(1), Gpr::Rsi), init.1],
                    result,
                    Some(trap),
                );
            }
            Op::Len => self.emit(MInst::Len, &[self.use_(a(0)), self.def(r())]),
            Op::BoundsCheck => {
                let trap = self.trap(Some(Trap::IndexOutOfBounds), loc);
                self.emit(
                    MInst::BoundsCheck { trap },
                    &[self.use_(a(0)), self.use_(a(1))],
                )
            }
            Op::Load => {
                let float = self.f.ty(r()) == Type::Float;
                self.emit(
                    MInst::Load { float },
                    &[self.use_(a(0)), self.use_(a(1)), self.def(r())],
                )
            }
            Op::Store => {
                let float = self.f.ty(a(2)) == Type::Float;
                self.emit(
                    MInst::Store { float },
                    &[self.use_(a(0)), self.use_(a(1)), self.use_(a(2))],
                )
            }
            Op::AtomicAdd => self.emit(
                MInst::AtomicAdd,
                &[
                    self.use_(a(0)),
                    self.use_(a(1)),
                    self.use_(a(2)),
                    self.reuse(r(), 2),
                ],
            ),
            Op::Call { func, window } => {
                self.store_window(&inst.args, window);
                let depth = self.f.inline_depth(loc.inline);
                let mut clobbers = call_clobbers();
                let mut ops = Vec::new();
                let mut float_result = None;
                if let Some(v) = result {
                    if self.f.ty(v) == Type::Float {
                        let bits = self.new_vreg(RegClass::Int);
                        ops.push(Operand::reg_fixed_def(bits, gpr(Gpr::Rax)));
                        float_result = Some((bits, v));
                    } else {
                        ops.push(Operand::reg_fixed_def(self.vreg(v), gpr(Gpr::Rax)));
                    }
                    clobbers.remove(gpr(Gpr::Rax));
                }
                self.push(
                    MInst::Call {
                        func,
                        window,
                        depth,
                    },
                    &ops,
                    clobbers,
                );
                if let Some((bits, v)) = float_result {
                    self.emit(MInst::GprToXmm, &[Operand::reg_use(bits), self.def(v)]);
                }
            }
            Op::Spawn { func, window } => {
                self.store_window(&inst.args, window);
                let trap = self.trap(None, loc);
                self.helper(
                    Helper::Spawn,
                    vec![
                        HelperArg::Imm(Gpr::Rsi, func.0),
                        HelperArg::FrameAddr(Gpr::Rdx, window),
                    ],
                    vec![],
                    result,
                    Some(trap),
                );
            }
            Op::CallHost { host, window } => {
                self.store_window(&inst.args, window);
                let trap = self.trap(None, loc);
                let args = vec![
                    HelperArg::Imm(Gpr::Rsi, host.0),
                    HelperArg::FrameAddr(Gpr::Rdx, window),
                ];
                match result.filter(|&v| self.f.ty(v) == Type::Float) {
                    // The helper gives raw bits in `rax`.
                    Some(v) => {
                        let bits = self.new_vreg(RegClass::Int);
                        let mut clobbers = call_clobbers();
                        clobbers.remove(gpr(Gpr::Rax));
                        let ops = [Operand::reg_fixed_def(bits, gpr(Gpr::Rax))];
                        let trap = Some(trap);
                        self.push(
                            MInst::Helper {
                                helper: Helper::CallHost,
                                args,
                                trap,
                            },
                            &ops,
                            clobbers,
                        );
                        self.emit(MInst::GprToXmm, &[Operand::reg_use(bits), self.def(v)]);
                    }
                    None => self.helper(Helper::CallHost, args, vec![], result, Some(trap)),
                }
            }
            Op::Join | Op::Arg => {
                let helper = if inst.op == Op::Join {
                    Helper::Join
                } else {
                    Helper::Arg
                };
                let trap = self.trap(None, loc);
                self.helper(
                    helper,
                    vec![HelperArg::Fixed],
                    vec![self.fixed_use(a(0), Gpr::Rsi)],
                    result,
                    Some(trap),
                );
            }
            Op::PrintInt | Op::PrintBool => {
                let helper = if inst.op == Op::PrintInt {
                    Helper::PrintInt
                } else {
                    Helper::PrintBool
                };
                self.helper(
                    helper,
                    vec![HelperArg::Fixed],
                    vec![self.fixed_use(a(0), Gpr::Rsi)],
                    None,
                    None,
                );
            }
            Op::PrintFloat => self.helper(
                Helper::PrintFloat,
                vec![HelperArg::FloatBits(Gpr::Rsi)],
                vec![self.use_(a(0))],
                None,
                None,
            ),
            Op::PrintStr(s) => self.helper(
                Helper::PrintStr,
                vec![HelperArg::Imm(Gpr::Rsi, s)],
                vec![],
                None,
                None,
            ),
            Op::Argc => self.helper(Helper::Argc, vec![], vec![], result, None),
            Op::NowNs => self.helper(Helper::NowNs, vec![], vec![], result, None),
            Op::Poll => {
                let trap = self.trap(Some(Trap::Terminated), loc);
                self.emit(MInst::Poll { trap }, &[]);
            }
            Op::FrameOk(k) => {
                let frame = self
                    .f
                    .inline_frame(k)
                    .expect("frame checks name inlined frames");
                self.emit(
                    MInst::FrameOk {
                        depth: frame.depth,
                        regs_end: frame.reg_base + frame.num_regs,
                    },
                    &[self.def(r())],
                );
            }
            Op::FrameCheck(k) => {
                let frame = self
                    .f
                    .inline_frame(k)
                    .expect("frame checks name inlined frames");
                // The overflow is the caller's error, at its call.
                let at = Loc {
                    inline: frame.parent,
                    pc: frame.call_pc,
                };
                let trap = self.trap(Some(Trap::StackOverflow), at);
                self.emit(MInst::TrapUnless { trap }, &[self.use_(a(0))]);
            }
            Op::Copy => {
                let float = self.f.ty(r()) == Type::Float;
                self.emit(MInst::Move { float }, &[self.use_(a(0)), self.def(r())])
            }
        }
    }

    /// Whether constant `v` must be in a register: some use does not take
    /// it as an immediate.
    fn code_needs_const(&self, v: Value) -> bool {
        self.small_const(v).is_none() || self.imm_uses[v.index()] < self.uses[v.index()]
    }

    /// Writes a call's arguments into its window of the frame.
    fn store_window(&mut self, args: &[Value], window: u32) {
        for (i, &v) in args.iter().enumerate() {
            let float = self.f.ty(v) == Type::Float;
            self.emit(
                MInst::StoreFrame {
                    reg: window + i as u32,
                    float,
                },
                &[self.use_(v)],
            );
        }
    }

    /// A helper call: `ops` are its register arguments in `args` order
    /// (`Fixed` and `FloatBits` ones); the result, if any, comes in `rax`.
    fn helper(
        &mut self,
        helper: Helper,
        args: Vec<HelperArg>,
        mut ops: Vec<Operand>,
        result: Option<Value>,
        trap: Option<u32>,
    ) {
        let mut clobbers = call_clobbers();
        if let Some(v) = result {
            ops.push(Operand::reg_fixed_def(self.vreg(v), gpr(Gpr::Rax)));
            clobbers.remove(gpr(Gpr::Rax));
        }
        self.push(MInst::Helper { helper, args, trap }, &ops, clobbers);
    }
}
