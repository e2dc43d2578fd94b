//! The machine-level form of a function that `regalloc2` allocates: the
//! register model (which registers may be allocated, which a call
//! clobbers), the machine instructions ([`MInst`]) with the operand order
//! each variant documents, and [`VCode`], which implements
//! `regalloc2::Function` over them.
//!
//! Invariants `lower.rs` establishes and `emit.rs` relies on: blocks are in
//! reverse postorder (a block that splits a critical edge right after the
//! block whose branch it splits), each block's instructions follow the
//! previous block's, and each ends in a branch or a return.

use super::ir::Loc;
use super::ir::{FloatCC, IntCC};
use crate::abi::Helper;
use crate::bytecode::FuncId;
use crate::trap::Trap;
use crate::x64::{Alu, Gpr};
use regalloc2::{
    Block as RBlock, Inst as RInst, InstRange, MachineEnv, Operand, PReg, PRegSet, RegClass, VReg,
};

/// `xmm` register `n` as a regalloc2 register.
pub fn xmm(n: u8) -> PReg {
    PReg::new(n as usize, RegClass::Float)
}

/// A general-purpose register as a regalloc2 register.
pub fn gpr(r: Gpr) -> PReg {
    PReg::new(r as usize, RegClass::Int)
}

/// The integer scratch register (never allocated; free inside one
/// instruction's code).
pub const SCRATCH: Gpr = Gpr::R11;
/// The float scratch register.
pub const FSCRATCH: u8 = 15;

/// The SysV caller-saved registers the allocator may use (all but the
/// scratch register `r11`).
const CALLER_SAVED_ALLOCATABLE: [Gpr; 8] = [
    Gpr::Rax,
    Gpr::Rcx,
    Gpr::Rdx,
    Gpr::Rsi,
    Gpr::Rdi,
    Gpr::R8,
    Gpr::R9,
    Gpr::R10,
];

/// Allocatable registers: caller-saved ones first (free to use, but lost
/// at calls), then callee-saved ones (saved in the prologue when used).
pub fn machine_env() -> MachineEnv {
    let callee_saved = [Gpr::R12, Gpr::R13, Gpr::R14];
    let mut int_pref = PRegSet::empty();
    for r in CALLER_SAVED_ALLOCATABLE {
        int_pref.add(gpr(r));
    }
    let mut int_non = PRegSet::empty();
    for r in callee_saved {
        int_non.add(gpr(r));
    }
    let mut float_pref = PRegSet::empty();
    for n in 0..FSCRATCH {
        float_pref.add(xmm(n));
    }
    MachineEnv {
        preferred_regs_by_class: [int_pref, float_pref, PRegSet::empty()],
        non_preferred_regs_by_class: [int_non, PRegSet::empty(), PRegSet::empty()],
        scratch_by_class: [Some(gpr(SCRATCH)), Some(xmm(FSCRATCH)), None],
        fixed_stack_slots: Vec::new(),
    }
}

/// Registers a call (to tj code or a helper) may change: the SysV
/// caller-saved ones.
pub fn call_clobbers() -> PRegSet {
    let mut set = PRegSet::empty();
    for r in CALLER_SAVED_ALLOCATABLE.into_iter().chain([SCRATCH]) {
        set.add(gpr(r));
    }
    for n in 0..16 {
        set.add(xmm(n));
    }
    set
}

/// One-operand integer operations done in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// `-x`
    Neg,
    /// `~x`
    Not,
    /// `!b` on a bool
    NotBool,
}

/// Two-operand SSE arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// How a conditional branch decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchKind {
    /// On a bool register (operand 0).
    Bool,
    /// On an integer comparison of operands 0 and 1.
    Icmp(IntCC),
    /// On an integer comparison of operand 0 with an immediate.
    IcmpImm(IntCC, i32),
    /// On a float comparison of operands 0 and 1.
    Fcmp(FloatCC),
}

/// Where a helper argument comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperArg {
    /// An int-class operand, already in its fixed register.
    Fixed,
    /// A float operand whose bits go to this register.
    FloatBits(Gpr),
    /// A constant.
    Imm(Gpr, u32),
    /// The address of frame register `window` (of the root frame).
    FrameAddr(Gpr, u32),
}

/// A machine instruction before register allocation. Its operands (in
/// [`VCode::operands`]) are listed, in order, in each variant's comment.
#[derive(Clone, Debug, PartialEq)]
pub enum MInst {
    /// `def`: loads frame register `reg`.
    LoadParam {
        /// The frame register.
        reg: u32,
        /// Into an xmm register.
        float: bool,
    },
    /// `def`: a constant.
    Const {
        /// The bits.
        bits: u64,
        /// Into an xmm register.
        float: bool,
    },
    /// `use, def`: a copy.
    Move {
        /// Of a float.
        float: bool,
    },
    /// `a, b, def(reuse a)`
    Alu(Alu),
    /// `a, def(reuse a)`
    AluImm(Alu, i32),
    /// `a, b, def(reuse a)`
    Imul,
    /// `a, b, def`: `a + b` (`add` into whichever operand's register the
    /// result shares, else `lea`).
    Add3,
    /// `a, def`: `a + imm` (`add` or `lea`).
    AddImm3(i32),
    /// `a, def`
    ImulImm(i32),
    /// `a(rax), b(rcx), def(rax or rdx)`; traps through `trap` on zero.
    Div {
        /// `%` instead of `/`.
        rem: bool,
        /// Trap site index.
        trap: u32,
    },
    /// `a, count(rcx), def(reuse a)`
    Shift {
        /// Arithmetic right shift instead of left.
        right: bool,
    },
    /// `a, def(reuse a)`
    ShiftImm {
        /// Arithmetic right shift instead of left.
        right: bool,
        /// The count, already mod 64.
        amount: u8,
    },
    /// `a, def(reuse a)`
    Unary(Unary),
    /// `a, def(reuse a), temp`
    Abs,
    /// `a, b, def(reuse a)`
    MinMax {
        /// max instead of min.
        max: bool,
    },
    /// `a, b, def`: a bool.
    Cmp(IntCC),
    /// `a, def`: a bool.
    CmpImm(IntCC, i32),
    /// `a, b, def(reuse a)`
    Fop(FloatOp),
    /// `a, def`
    Fsqrt,
    /// `a, b, def(reuse a)`
    FminMax {
        /// max instead of min.
        max: bool,
    },
    /// `a, def(reuse a)`
    Fneg,
    /// `a, def(reuse a)`
    Fabs,
    /// `int a, float def`
    ItoF,
    /// `float a, int def`
    FtoI,
    /// `a, b, def`: a bool.
    Fcmp(FloatCC),
    /// `arr, def`
    Len,
    /// `arr, idx`; traps through `trap`.
    BoundsCheck {
        /// Trap site index.
        trap: u32,
    },
    /// `arr, idx, def`
    Load {
        /// A float element.
        float: bool,
    },
    /// `arr, idx, val`
    Store {
        /// A float element.
        float: bool,
    },
    /// `arr, idx, val, def(reuse val)`
    AtomicAdd,
    /// `val`: writes frame register `reg` (a call's argument).
    StoreFrame {
        /// The frame register.
        reg: u32,
        /// Of a float.
        float: bool,
    },
    /// `def(rax)?`: calls `func` through its method-table slot.
    Call {
        /// The callee.
        func: FuncId,
        /// First register of its window in the root frame.
        window: u32,
        /// Inline depth of the calling frame (frames to count around
        /// the call).
        depth: u32,
    },
    /// `int args (fixed)..., float args..., def(rax)?`: a runtime helper.
    Helper {
        /// Which.
        helper: Helper,
        /// How each argument gets to its register, in operand order for
        /// `Fixed` and `FloatBits`.
        args: Vec<HelperArg>,
        /// A fallible helper's trap site (the code comes in `rdx`).
        trap: Option<u32>,
    },
    /// `rax-class def`: bits of an int register into a float one
    /// (`movq xmm, gpr`): `a, def`.
    GprToXmm,
    /// Stops if the program is ending.
    Poll {
        /// Trap site index.
        trap: u32,
    },
    /// `def`: whether an inlined frame fits (as a call's prologue would
    /// check), as a bool.
    FrameOk {
        /// Frames deeper than the compiled function's.
        depth: u32,
        /// One past the inlined frame's last register (root-frame index).
        regs_end: u32,
    },
    /// Traps through `trap` unless an inlined frame fits: [`MInst::FrameOk`]
    /// and [`MInst::TrapUnless`] in one.
    FrameCheck {
        /// Trap site index.
        trap: u32,
        /// Frames deeper than the compiled function's.
        depth: u32,
        /// One past the inlined frame's last register (root-frame index).
        regs_end: u32,
    },
    /// `ok`: traps through `trap` unless `ok`.
    TrapUnless {
        /// Trap site index.
        trap: u32,
    },
    /// Unconditional branch to successor 0.
    Jump,
    /// Conditional branch: successor 0 if true, else successor 1.
    Branch(BranchKind),
    /// `value?(rax, or any xmm)`: returns.
    Ret {
        /// The value is a float.
        float: bool,
    },
}

/// A place where generated code may raise a runtime error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapSite {
    /// The error (`None`: the code a helper returned in `rdx`).
    pub trap: Option<Trap>,
    /// Where: the frames of the backtrace's innermost end.
    pub loc: Loc,
}

/// Lowered code of one function.
pub struct VCode {
    /// The instructions.
    pub insts: Vec<MInst>,
    /// Where each instruction comes from.
    pub locs: Vec<Loc>,
    /// Operands of instruction `i`: `operands[operand_ranges[i]..operand_ranges[i + 1]]`.
    pub operands: Vec<Operand>,
    pub(super) operand_ranges: Vec<u32>,
    pub(super) clobbers: Vec<PRegSet>,
    /// Per block: its instruction range, successors, predecessors,
    /// parameters, and the arguments it passes to each successor.
    pub blocks: Vec<VBlock>,
    /// Trap sites, indexed by the `trap` fields.
    pub traps: Vec<TrapSite>,
    /// The blocks made from IR blocks, in the IR layout's order (split
    /// blocks go right after the block whose branch they split).
    pub emit_order: Vec<u32>,
    pub(super) num_vregs: usize,
}

/// A block of [`VCode`].
#[derive(Clone, Debug, Default)]
pub struct VBlock {
    /// First instruction.
    pub start: u32,
    /// One past the last (a branch or return).
    pub end: u32,
    /// Successors.
    pub succs: Vec<RBlock>,
    /// Predecessors.
    pub preds: Vec<RBlock>,
    /// Parameters.
    pub params: Vec<VReg>,
    /// Arguments for each successor's parameters.
    pub succ_args: Vec<Vec<VReg>>,
    /// For a block made to split a critical edge: the block whose branch
    /// it splits (machine code places it right after that block).
    pub split_from: Option<u32>,
}

impl VCode {
    /// Operands of instruction `i`.
    pub fn inst_ops(&self, i: usize) -> &[Operand] {
        &self.operands[self.operand_ranges[i] as usize..self.operand_ranges[i + 1] as usize]
    }
}

impl regalloc2::Function for VCode {
    fn num_insts(&self) -> usize {
        self.insts.len()
    }
    fn num_blocks(&self) -> usize {
        self.blocks.len()
    }
    fn entry_block(&self) -> RBlock {
        RBlock::new(0)
    }
    fn block_insns(&self, block: RBlock) -> InstRange {
        let b = &self.blocks[block.index()];
        InstRange::new(RInst::new(b.start as usize), RInst::new(b.end as usize))
    }
    fn block_succs(&self, block: RBlock) -> &[RBlock] {
        &self.blocks[block.index()].succs
    }
    fn block_preds(&self, block: RBlock) -> &[RBlock] {
        &self.blocks[block.index()].preds
    }
    fn block_params(&self, block: RBlock) -> &[VReg] {
        &self.blocks[block.index()].params
    }
    fn is_ret(&self, insn: RInst) -> bool {
        matches!(self.insts[insn.index()], MInst::Ret { .. })
    }
    fn is_branch(&self, insn: RInst) -> bool {
        matches!(self.insts[insn.index()], MInst::Jump | MInst::Branch(_))
    }
    fn branch_blockparams(&self, block: RBlock, _insn: RInst, succ_idx: usize) -> &[VReg] {
        &self.blocks[block.index()].succ_args[succ_idx]
    }
    fn inst_operands(&self, insn: RInst) -> &[Operand] {
        self.inst_ops(insn.index())
    }
    fn inst_clobbers(&self, insn: RInst) -> PRegSet {
        self.clobbers[insn.index()]
    }
    fn num_vregs(&self) -> usize {
        self.num_vregs
    }
    fn spillslot_size(&self, _regclass: RegClass) -> usize {
        1
    }
}
