//! The optimizer's IR: SSA over typed values, with block parameters.
//!
//! A [`Func`] is a set of blocks; each block has typed parameters (the
//! SSA "phis"), a list of instructions and one terminator that passes
//! arguments to its successors' parameters. Every value is defined once:
//! by an instruction or as a block parameter. Values are typed with the
//! tj [`Type`]s (`int`, `float`, `bool`, `[int]`, `[float]`).
//!
//! Storage is arena-style: instructions, values and blocks are indices
//! into vectors of the `Func`; a block's instruction list and the
//! [`Func::layout`] say what is live. A pass removes an instruction by
//! taking it out of its block's list, and a block by taking it out of the
//! layout; the arenas only grow.
//!
//! Every instruction carries a [`Loc`]: the bytecode pc it came from and
//! the inlined frame it belongs to, so that runtime errors, the profiler
//! and the pc map see the frames the interpreter would.
//!
//! Arrays: a load or store does not check its index; a [`Op::BoundsCheck`]
//! before it does (and traps `index out of bounds`). The SSA builder emits
//! the check right before each access, so every access is dominated by a
//! check of the same array and index until bounds-check elimination
//! proves one redundant.
//!
//! The text form (see [`print`](mod@print)) prints and parses back
//! ([`parse`]); [`verify`](mod@verify) checks the invariants every pass
//! keeps:
//!
//! ```text
//! function f0 "sum" -> int regs 6 entry_regs 0
//! block0(v0: [int]):
//!     v1 = iconst 0 @0
//!     v2 = len v0 @1
//!     jump block1(v1, v1) @2
//! block1(v3: int, v4: int):
//!     poll @3
//!     v5 = icmp.lt v4, v2 @3
//!     brif v5, block2, block3 @3
//! ...
//! ```

pub mod parse;
pub mod print;
pub mod verify;

use crate::bytecode::{FuncId, HostId};
use crate::Type;

/// An SSA value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

/// A basic block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block(pub u32);

/// An instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Inst(pub u32);

impl Value {
    /// The index into [`Func::values`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl Block {
    /// The index into [`Func::blocks`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl Inst {
    /// The index into [`Func::insts`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where an instruction comes from: bytecode `pc` of the frame `inline`
/// (0: the compiled function itself; `k > 0`: `Func::inlines[k - 1]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Loc {
    /// The inlined frame, 0 for the function itself.
    pub inline: u32,
    /// The bytecode pc in that frame's function.
    pub pc: u32,
}

/// A function inlined into the one being compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineFrame {
    /// The inlined function.
    pub func: FuncId,
    /// The frame that called it (0: the compiled function).
    pub parent: u32,
    /// The pc of the call instruction in the parent.
    pub call_pc: u32,
    /// Where its tj frame would start, in registers from the compiled
    /// function's frame (its call windows are relative to this).
    pub reg_base: u32,
    /// How many frames deep it is (1: called by the compiled function).
    pub depth: u32,
    /// Size of its tj frame in registers.
    pub num_regs: u32,
}

/// Signed integer comparisons (also used for `bool` equality).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntCC {
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

impl IntCC {
    /// Every condition, in text-form order.
    pub const ALL: [IntCC; 6] = [
        IntCC::Eq,
        IntCC::Ne,
        IntCC::Lt,
        IntCC::Le,
        IntCC::Gt,
        IntCC::Ge,
    ];

    /// The condition that holds exactly when this one does not.
    pub fn invert(self) -> IntCC {
        match self {
            IntCC::Eq => IntCC::Ne,
            IntCC::Ne => IntCC::Eq,
            IntCC::Lt => IntCC::Ge,
            IntCC::Le => IntCC::Gt,
            IntCC::Gt => IntCC::Le,
            IntCC::Ge => IntCC::Lt,
        }
    }

    /// The condition with the operands swapped (`a < b` is `b > a`).
    pub fn swap(self) -> IntCC {
        match self {
            IntCC::Eq => IntCC::Eq,
            IntCC::Ne => IntCC::Ne,
            IntCC::Lt => IntCC::Gt,
            IntCC::Le => IntCC::Ge,
            IntCC::Gt => IntCC::Lt,
            IntCC::Ge => IntCC::Le,
        }
    }

    /// The condition applied to two integers.
    pub fn eval(self, a: i64, b: i64) -> bool {
        match self {
            IntCC::Eq => a == b,
            IntCC::Ne => a != b,
            IntCC::Lt => a < b,
            IntCC::Le => a <= b,
            IntCC::Gt => a > b,
            IntCC::Ge => a >= b,
        }
    }

    /// The name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            IntCC::Eq => "eq",
            IntCC::Ne => "ne",
            IntCC::Lt => "lt",
            IntCC::Le => "le",
            IntCC::Gt => "gt",
            IntCC::Ge => "ge",
        }
    }
}

/// Float comparisons with IEEE NaN semantics: `Eq`, `Lt`, `Le` are false
/// on NaN; their inverses `Ne`, `NotLt`, `NotLe` are true on NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatCC {
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `!(a < b)`
    NotLt,
    /// `!(a <= b)`
    NotLe,
}

impl FloatCC {
    /// Every condition, in text-form order.
    pub const ALL: [FloatCC; 6] = [
        FloatCC::Eq,
        FloatCC::Ne,
        FloatCC::Lt,
        FloatCC::Le,
        FloatCC::NotLt,
        FloatCC::NotLe,
    ];

    /// The condition that holds exactly when this one does not (NaN
    /// included).
    pub fn invert(self) -> FloatCC {
        match self {
            FloatCC::Eq => FloatCC::Ne,
            FloatCC::Ne => FloatCC::Eq,
            FloatCC::Lt => FloatCC::NotLt,
            FloatCC::Le => FloatCC::NotLe,
            FloatCC::NotLt => FloatCC::Lt,
            FloatCC::NotLe => FloatCC::Le,
        }
    }

    /// The condition applied to two floats.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn eval(self, a: f64, b: f64) -> bool {
        match self {
            FloatCC::Eq => a == b,
            FloatCC::Ne => a != b,
            FloatCC::Lt => a < b,
            FloatCC::Le => a <= b,
            FloatCC::NotLt => !(a < b),
            FloatCC::NotLe => !(a <= b),
        }
    }

    /// The name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            FloatCC::Eq => "eq",
            FloatCC::Ne => "ne",
            FloatCC::Lt => "lt",
            FloatCC::Le => "le",
            FloatCC::NotLt => "nlt",
            FloatCC::NotLe => "nle",
        }
    }
}

/// What an instruction computes. Operands are the instruction's `args`;
/// the comment gives their order and the result type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `-> int`: the constant.
    Iconst(i64),
    /// `-> float`: the constant's bits.
    Fconst(u64),
    /// `-> bool`: the constant.
    Bconst(bool),

    /// `a, b -> int`, wrapping.
    Iadd,
    /// `a, b -> int`, wrapping.
    Isub,
    /// `a, b -> int`, wrapping.
    Imul,
    /// `a, b -> int`: truncating; traps `division by zero`; `MIN / -1 = MIN`.
    Idiv,
    /// `a, b -> int`: sign of `a`; traps `division by zero`; `MIN % -1 = 0`.
    Irem,
    /// `a, b -> int`
    Iand,
    /// `a, b -> int`
    Ior,
    /// `a, b -> int`
    Ixor,
    /// `a, b -> int`: `a << (b mod 64)`.
    Ishl,
    /// `a, b -> int`: `a >> (b mod 64)`, arithmetic.
    Ishr,
    /// `a, b -> int`
    Imin,
    /// `a, b -> int`
    Imax,
    /// `a -> int`, wrapping.
    Ineg,
    /// `a -> int`, bitwise.
    Inot,
    /// `a -> int`, wrapping (`abs(MIN) = MIN`).
    Iabs,

    /// `a, b -> float`
    Fadd,
    /// `a, b -> float`
    Fsub,
    /// `a, b -> float`
    Fmul,
    /// `a, b -> float`
    Fdiv,
    /// `a, b -> float`: IEEE 754-2019 minimum.
    Fmin,
    /// `a, b -> float`: IEEE 754-2019 maximum.
    Fmax,
    /// `a -> float`: flips the sign bit.
    Fneg,
    /// `a -> float`: clears the sign bit.
    Fabs,
    /// `a -> float`
    Fsqrt,
    /// `int -> float`, rounded to nearest.
    ItoF,
    /// `float -> int`: truncating, saturating, NaN to 0.
    FtoI,

    /// `a, b -> bool` on two ints or two bools.
    Icmp(IntCC),
    /// `a, b -> bool` on two floats.
    Fcmp(FloatCC),
    /// `a -> bool`
    Bnot,

    /// `init, len -> [int]` or `[float]` (by `init`'s type); traps
    /// `negative array length`, `out of memory`.
    NewArray,
    /// `arr -> int`: the length (arrays never change length).
    Len,
    /// `arr, idx`: traps `index out of bounds` unless `0 <= idx < len`.
    BoundsCheck,
    /// `arr, idx -> element`: no check.
    Load,
    /// `arr, idx, val`: no check.
    Store,
    /// `arr, idx, val -> int`: atomic fetch-and-add; no check.
    AtomicAdd,

    /// `args.. -> ret?`: calls `func`, its arguments placed in the frame
    /// from register `window` of the compiled function's frame.
    Call {
        /// The callee.
        func: FuncId,
        /// First register of the argument window, in the root frame.
        window: u32,
    },
    /// `args.. -> int`: a new thread running `func(args)`.
    Spawn {
        /// The thread's function.
        func: FuncId,
        /// First register of the argument window, in the root frame.
        window: u32,
    },
    /// `args.. -> ret?`: calls host import `host`; its arguments are
    /// stored in the frame from register `window` and copied from there
    /// (the window is not clobbered); traps with the host's error.
    CallHost {
        /// The host import.
        host: HostId,
        /// First register of the argument window, in the root frame.
        window: u32,
    },
    /// `handle -> int`; traps `bad thread handle`.
    Join,
    /// `v`
    PrintInt,
    /// `v`
    PrintFloat,
    /// `v`
    PrintBool,
    /// Prints string `s` of the module.
    PrintStr(u32),
    /// `i -> int`; traps `bad argument`.
    Arg,
    /// `-> int`
    Argc,
    /// `-> int`
    NowNs,

    /// Stops the thread (trap `Terminated`) if the program is ending: at
    /// loop headers.
    Poll,
    /// `-> bool`: whether inlined frame `inline` fits (the frame limit and
    /// the register stack), as a real call's prologue would check. Its
    /// inputs do not change during an activation (calls restore the frame
    /// count), so it is pure: it may move out of loops and merge.
    FrameOk(u32),
    /// `ok`: entering inlined frame `inline`, traps `stack overflow` (at
    /// the caller's call) unless `ok` (a [`Op::FrameOk`] of that frame).
    FrameCheck(u32),
    /// `a -> a`: the same value (made and removed by passes).
    Copy,
}

impl Op {
    /// May stop with a runtime error.
    pub fn may_trap(self) -> bool {
        matches!(
            self,
            Op::Idiv
                | Op::Irem
                | Op::NewArray
                | Op::BoundsCheck
                | Op::Call { .. }
                | Op::Spawn { .. }
                | Op::CallHost { .. }
                | Op::Join
                | Op::Arg
                | Op::Poll
                | Op::FrameCheck(_)
        )
    }

    /// Writes memory, calls, or talks to the world: must run exactly as
    /// often as the program says, in order with every other such
    /// instruction.
    pub fn has_side_effect(self) -> bool {
        matches!(
            self,
            Op::NewArray
                | Op::Store
                | Op::AtomicAdd
                | Op::Call { .. }
                | Op::Spawn { .. }
                | Op::CallHost { .. }
                | Op::Join
                | Op::PrintInt
                | Op::PrintFloat
                | Op::PrintBool
                | Op::PrintStr(_)
                | Op::NowNs
                | Op::Poll
        )
    }

    /// Takes its arguments from a window of the frame (calls, spawns,
    /// host calls): the text form puts them in parentheses.
    pub fn has_window(self) -> bool {
        matches!(
            self,
            Op::Call { .. } | Op::Spawn { .. } | Op::CallHost { .. }
        )
    }

    /// Reads array elements (its result may change when memory does).
    pub fn reads_heap(self) -> bool {
        matches!(self, Op::Load | Op::AtomicAdd | Op::Call { .. })
    }

    /// Neither traps nor has side effects nor reads memory: the result
    /// depends only on the operands, so it may be moved, merged or
    /// dropped freely.
    pub fn is_pure(self) -> bool {
        !self.may_trap() && !self.has_side_effect() && !self.reads_heap()
    }

    /// The name in the text form (with its condition suffix).
    pub fn name(self) -> String {
        match self {
            Op::Icmp(cc) => format!("icmp.{}", cc.name()),
            Op::Fcmp(cc) => format!("fcmp.{}", cc.name()),
            other => other.base_name().to_string(),
        }
    }

    /// The name without immediates or condition.
    pub fn base_name(self) -> &'static str {
        match self {
            Op::Iconst(_) => "iconst",
            Op::Fconst(_) => "fconst",
            Op::Bconst(_) => "bconst",
            Op::Iadd => "iadd",
            Op::Isub => "isub",
            Op::Imul => "imul",
            Op::Idiv => "idiv",
            Op::Irem => "irem",
            Op::Iand => "iand",
            Op::Ior => "ior",
            Op::Ixor => "ixor",
            Op::Ishl => "ishl",
            Op::Ishr => "ishr",
            Op::Imin => "imin",
            Op::Imax => "imax",
            Op::Ineg => "ineg",
            Op::Inot => "inot",
            Op::Iabs => "iabs",
            Op::Fadd => "fadd",
            Op::Fsub => "fsub",
            Op::Fmul => "fmul",
            Op::Fdiv => "fdiv",
            Op::Fmin => "fmin",
            Op::Fmax => "fmax",
            Op::Fneg => "fneg",
            Op::Fabs => "fabs",
            Op::Fsqrt => "fsqrt",
            Op::ItoF => "itof",
            Op::FtoI => "ftoi",
            Op::Icmp(_) => "icmp",
            Op::Fcmp(_) => "fcmp",
            Op::Bnot => "bnot",
            Op::NewArray => "new_array",
            Op::Len => "len",
            Op::BoundsCheck => "bounds_check",
            Op::Load => "load",
            Op::Store => "store",
            Op::AtomicAdd => "atomic_add",
            Op::Call { .. } => "call",
            Op::Spawn { .. } => "spawn",
            Op::CallHost { .. } => "call_host",
            Op::Join => "join",
            Op::PrintInt => "print_int",
            Op::PrintFloat => "print_float",
            Op::PrintBool => "print_bool",
            Op::PrintStr(_) => "print_str",
            Op::Arg => "arg",
            Op::Argc => "argc",
            Op::NowNs => "now_ns",
            Op::Poll => "poll",
            Op::FrameOk(_) => "frame_ok",
            Op::FrameCheck(_) => "frame_check",
            Op::Copy => "copy",
        }
    }
}

/// A branch to a block with arguments for its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCall {
    /// The successor.
    pub block: Block,
    /// One value per parameter of `block`.
    pub args: Vec<Value>,
}

impl BlockCall {
    /// A branch to `block` with `args`.
    pub fn new(block: Block, args: Vec<Value>) -> BlockCall {
        BlockCall { block, args }
    }
}

/// How a block ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// Not set yet (only while a block is being built; the verifier
    /// rejects it).
    None,
    /// Continue at another block.
    Jump(BlockCall),
    /// `if cond { then } else { else_ }`.
    Branch {
        /// A bool.
        cond: Value,
        /// Taken when `cond` is true.
        then_dest: BlockCall,
        /// Taken when `cond` is false.
        else_dest: BlockCall,
    },
    /// Return from the compiled function (with a value if it has a return
    /// type).
    Return(Option<Value>),
}

impl Term {
    /// The successors, in order.
    pub fn successors(&self) -> impl Iterator<Item = &BlockCall> + Clone {
        let (a, b) = match self {
            Term::Jump(d) => (Some(d), None),
            Term::Branch {
                then_dest,
                else_dest,
                ..
            } => (Some(then_dest), Some(else_dest)),
            Term::None | Term::Return(_) => (None, None),
        };
        a.into_iter().chain(b)
    }

    /// The successors, to rewrite them.
    pub fn successors_mut(&mut self) -> impl Iterator<Item = &mut BlockCall> {
        let (a, b) = match self {
            Term::Jump(d) => (Some(d), None),
            Term::Branch {
                then_dest,
                else_dest,
                ..
            } => (Some(then_dest), Some(else_dest)),
            Term::None | Term::Return(_) => (None, None),
        };
        a.into_iter().chain(b)
    }

    /// Calls `f` on every value the terminator reads (its condition or
    /// returned value, and every block argument).
    pub fn for_each_use(&self, mut f: impl FnMut(Value)) {
        match self {
            Term::Branch { cond, .. } => f(*cond),
            Term::Return(Some(v)) => f(*v),
            _ => {}
        }
        for d in self.successors() {
            d.args.iter().copied().for_each(&mut f);
        }
    }

    /// Rewrites every value the terminator reads.
    pub fn map_uses(&mut self, mut f: impl FnMut(Value) -> Value) {
        match self {
            Term::Branch { cond, .. } => *cond = f(*cond),
            Term::Return(Some(v)) => *v = f(*v),
            _ => {}
        }
        for d in self.successors_mut() {
            for a in d.args.iter_mut() {
                *a = f(*a);
            }
        }
    }
}

/// One instruction.
#[derive(Clone, Debug, PartialEq)]
pub struct InstData {
    /// What it computes.
    pub op: Op,
    /// Its operands.
    pub args: Vec<Value>,
    /// Its result, if it has one.
    pub result: Option<Value>,
    /// Where it comes from.
    pub loc: Loc,
}

/// How a value is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueDef {
    /// The result of an instruction.
    Inst(Inst),
    /// Parameter `index` of a block.
    Param(Block, u32),
}

/// A value's type and definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueData {
    /// Its type.
    pub ty: Type,
    /// Where it is defined.
    pub def: ValueDef,
}

/// One block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockData {
    /// Its parameters, in order.
    pub params: Vec<Value>,
    /// Its instructions, in order.
    pub insts: Vec<Inst>,
    /// How it ends.
    pub term: Term,
    /// Where its terminator comes from.
    pub term_loc: Loc,
}

/// A function in SSA form.
#[derive(Clone, Debug, PartialEq)]
pub struct Func {
    /// The bytecode function it was built from.
    pub id: FuncId,
    /// Its name.
    pub name: String,
    /// Its return type.
    pub ret: Option<Type>,
    /// Size of its tj frame in registers (call windows and the prologue's
    /// stack check use it).
    pub num_regs: u32,
    /// The block that runs first; it has no predecessors.
    pub entry: Block,
    /// For each parameter of the entry block, the tj frame register it is
    /// loaded from: the function's parameters `0..n` for a normal entry,
    /// the live registers of a loop header for an on-stack-replacement
    /// entry.
    pub entry_regs: Vec<u32>,
    /// The bytecode loop header this code is entered at, for code compiled
    /// for on-stack replacement (`None`: entered at the function's start).
    pub osr_pc: Option<u32>,
    /// Every block ever made.
    pub blocks: Vec<BlockData>,
    /// The live blocks, in emission order; the entry block first.
    pub layout: Vec<Block>,
    /// Every instruction ever made.
    pub insts: Vec<InstData>,
    /// Every value ever made.
    pub values: Vec<ValueData>,
    /// Inlined frames: `Loc::inline == k > 0` is `inlines[k - 1]`.
    pub inlines: Vec<InlineFrame>,
}

impl Func {
    /// An empty function (no blocks yet; `entry` must be set by the
    /// builder before use).
    pub fn new(id: FuncId, name: &str, ret: Option<Type>, num_regs: u32) -> Func {
        Func {
            id,
            name: name.to_string(),
            ret,
            num_regs,
            entry: Block(0),
            entry_regs: Vec::new(),
            osr_pc: None,
            blocks: Vec::new(),
            layout: Vec::new(),
            insts: Vec::new(),
            values: Vec::new(),
            inlines: Vec::new(),
        }
    }

    /// A new empty block, appended to the layout.
    pub fn add_block(&mut self) -> Block {
        let b = Block(self.blocks.len() as u32);
        self.blocks.push(BlockData {
            params: Vec::new(),
            insts: Vec::new(),
            term: Term::None,
            term_loc: Loc::default(),
        });
        self.layout.push(b);
        b
    }

    /// A new parameter of type `ty` at the end of `block`'s parameters.
    pub fn add_param(&mut self, block: Block, ty: Type) -> Value {
        let index = self.blocks[block.index()].params.len() as u32;
        let v = self.new_value(ty, ValueDef::Param(block, index));
        self.blocks[block.index()].params.push(v);
        v
    }

    fn new_value(&mut self, ty: Type, def: ValueDef) -> Value {
        let v = Value(self.values.len() as u32);
        self.values.push(ValueData { ty, def });
        v
    }

    /// A new instruction, not yet in any block; its result (if `ty` is
    /// given) is a new value.
    pub fn make_inst(&mut self, op: Op, args: Vec<Value>, ty: Option<Type>, loc: Loc) -> Inst {
        let inst = Inst(self.insts.len() as u32);
        let result = ty.map(|t| self.new_value(t, ValueDef::Inst(inst)));
        self.insts.push(InstData {
            op,
            args,
            result,
            loc,
        });
        inst
    }

    /// Appends a new instruction to `block`; gives its result.
    pub fn append(
        &mut self,
        block: Block,
        op: Op,
        args: Vec<Value>,
        ty: Option<Type>,
        loc: Loc,
    ) -> Option<Value> {
        let inst = self.make_inst(op, args, ty, loc);
        self.blocks[block.index()].insts.push(inst);
        self.insts[inst.index()].result
    }

    /// Sets how `block` ends.
    pub fn set_term(&mut self, block: Block, term: Term, loc: Loc) {
        let b = &mut self.blocks[block.index()];
        b.term = term;
        b.term_loc = loc;
    }

    /// The block's data.
    pub fn block(&self, b: Block) -> &BlockData {
        &self.blocks[b.index()]
    }

    /// The instruction's data.
    pub fn inst(&self, i: Inst) -> &InstData {
        &self.insts[i.index()]
    }

    /// The type of a value.
    pub fn ty(&self, v: Value) -> Type {
        self.values[v.index()].ty
    }

    /// The instruction defining `v`, if an instruction does.
    pub fn def_inst(&self, v: Value) -> Option<Inst> {
        match self.values[v.index()].def {
            ValueDef::Inst(i) => Some(i),
            ValueDef::Param(..) => None,
        }
    }

    /// The op defining `v`, if an instruction does.
    pub fn def_op(&self, v: Value) -> Option<Op> {
        self.def_inst(v).map(|i| self.insts[i.index()].op)
    }

    /// The integer constant `v` is, if it is one.
    pub fn as_iconst(&self, v: Value) -> Option<i64> {
        match self.def_op(v)? {
            Op::Iconst(c) => Some(c),
            _ => None,
        }
    }

    /// The successors of `block`.
    pub fn succs(&self, block: Block) -> impl Iterator<Item = Block> + Clone + '_ {
        self.blocks[block.index()]
            .term
            .successors()
            .map(|d| d.block)
    }

    /// Replaces every use of each value `v` by `map[v]` (where it differs),
    /// in the instructions and terminators of the live blocks. `map` must
    /// be resolved already (no chains).
    pub fn substitute(&mut self, map: &[Value]) {
        let m = |v: Value| map.get(v.index()).copied().unwrap_or(v);
        for &b in &self.layout {
            let block = &mut self.blocks[b.index()];
            for &i in &block.insts {
                for a in self.insts[i.index()].args.iter_mut() {
                    *a = m(*a);
                }
            }
            block.term.map_uses(m);
        }
    }

    /// [`Func::substitute`] for a map that may hold chains (`a -> b`,
    /// `b -> c`): resolves them first (`a -> c`).
    pub fn substitute_chains(&mut self, map: &mut [Value]) {
        for i in 0..map.len() {
            let mut v = map[i];
            while map[v.index()] != v {
                v = map[v.index()];
            }
            map[i] = v;
        }
        self.substitute(map);
    }

    /// The identity substitution over every value (for passes to edit and
    /// hand to [`Func::substitute`]).
    pub fn identity_map(&self) -> Vec<Value> {
        (0..self.values.len() as u32).map(Value).collect()
    }

    /// The predecessors of every block (indexed by block; a block appears
    /// once per edge into it, in layout order), over the live blocks.
    pub fn compute_preds(&self) -> BlockLists {
        BlockLists::from_pairs(
            self.blocks.len(),
            self.layout
                .iter()
                .flat_map(|&b| self.succs(b).map(move |s| (s, b))),
        )
    }

    /// The block defining each value (the entry block for values that
    /// live code does not define).
    pub fn def_blocks(&self) -> Vec<Block> {
        let mut blocks = vec![self.entry; self.values.len()];
        for &b in &self.layout {
            for &p in &self.block(b).params {
                blocks[p.index()] = b;
            }
            for &i in &self.block(b).insts {
                if let Some(r) = self.inst(i).result {
                    blocks[r.index()] = b;
                }
            }
        }
        blocks
    }

    /// Number of live instructions.
    pub fn inst_count(&self) -> usize {
        self.layout
            .iter()
            .map(|b| self.blocks[b.index()].insts.len() + 1)
            .sum()
    }

    /// The inline frame record for `Loc::inline == k` (`None` for 0).
    pub fn inline_frame(&self, k: u32) -> Option<&InlineFrame> {
        k.checked_sub(1).map(|i| &self.inlines[i as usize])
    }

    /// The function whose bytecode a location is in.
    pub fn func_of(&self, loc: Loc) -> FuncId {
        self.inline_frame(loc.inline).map_or(self.id, |f| f.func)
    }

    /// Register offset of frame `inline` in the root frame.
    pub fn reg_base(&self, inline: u32) -> u32 {
        self.inline_frame(inline).map_or(0, |f| f.reg_base)
    }

    /// Inline depth of frame `inline` (0 for the function itself).
    pub fn inline_depth(&self, inline: u32) -> u32 {
        self.inline_frame(inline).map_or(0, |f| f.depth)
    }
}

/// A list of blocks for every block (predecessors, dominator-tree
/// children), indexed by block index, in one allocation: the analyses
/// make these for every pass, and a vector per block cost more than the
/// rest of the analysis.
#[derive(Clone, Debug, Default)]
pub struct BlockLists {
    /// `items[starts[b]..starts[b + 1]]` is block `b`'s list.
    starts: Vec<u32>,
    items: Vec<Block>,
}

impl BlockLists {
    /// The lists of `n` blocks from `(block, item)` pairs: each block's
    /// items in the order of the pairs.
    pub fn from_pairs(n: usize, pairs: impl Iterator<Item = (Block, Block)> + Clone) -> BlockLists {
        let mut starts = vec![0u32; n + 1];
        for (b, _) in pairs.clone() {
            starts[b.index() + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts.clone();
        let mut items = vec![Block(0); starts[n] as usize];
        for (b, item) in pairs {
            items[fill[b.index()] as usize] = item;
            fill[b.index()] += 1;
        }
        BlockLists { starts, items }
    }

    /// How many blocks have a list.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// True if there are no lists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lists as one vector each (for a pass that edits them).
    pub fn to_vecs(&self) -> Vec<Vec<Block>> {
        (0..self.len()).map(|b| self[b].to_vec()).collect()
    }
}

impl std::ops::Index<usize> for BlockLists {
    type Output = [Block];

    fn index(&self, block: usize) -> &[Block] {
        &self.items[self.starts[block] as usize..self.starts[block + 1] as usize]
    }
}
