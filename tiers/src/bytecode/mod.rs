//! tierjit's typed register bytecode.
//!
//! A [`Module`] is a list of [`Function`]s and a string table. A function's
//! code is a vector of [`Instr`] over a frame of `num_regs` 64-bit registers;
//! parameters arrive in registers `0..params.len()`. Each register holds one
//! value of a [`Type`] at a time; the type at a pc is fixed by the code
//! (like the JVM's verifier, the [`verify`](verify::verify_module) pass
//! infers it by dataflow and rejects code that reads a register whose type
//! is not the one the instruction needs, or that may be unassigned).
//!
//! Calls use a register window: the caller evaluates the arguments into
//! consecutive registers `R[base]..`, and the callee's frame begins at
//! `R[base]`, so no arguments are copied. Registers from `base` up are dead
//! after the call.
//!
//! The opcodes are declared once, in [`opcodes`]. A host builds functions
//! with [`builder::FunctionBuilder`], checks them with
//! [`verify::verify_module`], and can print them with [`text`].

pub mod builder;
pub mod image;
pub mod opcodes;
pub mod table;
pub mod text;
pub mod verify;

pub use opcodes::{Effects, Instr, Opcode, OperandKind};
pub use table::Table;

use crate::Type;

/// A register of the current frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Reg(pub u16);

/// A function of a module: its index in [`Module::funcs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct FuncId(pub u32);

impl FuncId {
    /// The index into [`Module::funcs`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A function of the host that the module imports: its index in
/// [`Module::hosts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct HostId(pub u32);

impl HostId {
    /// The index into [`Module::hosts`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A host function the module calls (`call.h`, `call.hv`): its name and
/// signature. The host gives the implementation when it starts the
/// program; parameters and result are scalars (`int`, `float`, `bool`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostImport {
    /// The name the host defines it under.
    pub name: String,
    /// Parameter types; argument `i` is read from register `base + i`.
    pub params: Vec<Type>,
    /// The result type, `None` if it gives nothing.
    pub ret: Option<Type>,
}

/// The most registers a frame may have.
pub const MAX_REGS: usize = u16::MAX as usize;

/// One function's bytecode.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// The function's name (for backtraces and the text form).
    pub name: String,
    /// Parameter types; parameter `i` arrives in register `i`.
    pub params: Vec<Type>,
    /// The return type, `None` if it returns nothing.
    pub ret: Option<Type>,
    /// Frame size in registers.
    pub num_regs: u16,
    /// The instructions.
    pub code: Table<Instr>,
    /// Constant pool: 64-bit values read by `ldk.i` (as int) and `ldk.f`
    /// (as float bits).
    pub consts: Table<u64>,
    /// Source line of every pc.
    pub lines: LineTable,
}

impl Function {
    /// Its loops, one per backward branch: `(header, branch pc)`, the
    /// header being the branch's target, in the order of the branches.
    pub fn loops(&self) -> Vec<(u32, u32)> {
        self.code
            .iter()
            .enumerate()
            .filter_map(|(pc, i)| {
                i.target()
                    .filter(|&t| t as usize <= pc)
                    .map(|t| (t, pc as u32))
            })
            .collect()
    }
}

/// A whole program: functions that call each other by [`FuncId`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    /// The functions; a [`FuncId`] indexes this.
    pub funcs: Vec<Function>,
    /// String literals, for `print.s`.
    pub strings: Vec<String>,
    /// The host functions it imports; a [`HostId`] indexes this.
    pub hosts: Vec<HostImport>,
}

impl Module {
    /// The function with id `id`.
    pub fn func(&self, id: FuncId) -> &Function {
        &self.funcs[id.index()]
    }

    /// The host function import with id `id`.
    pub fn host(&self, id: HostId) -> &HostImport {
        &self.hosts[id.index()]
    }

    /// Where function `id`'s instructions would start if every function's
    /// code were laid end to end: one index per (function, pc) across the
    /// module (the per-loop-header OSR flags use it).
    pub fn code_offset(&self, id: FuncId) -> usize {
        self.funcs[..id.index()].iter().map(|f| f.code.len()).sum()
    }

    /// Total instructions of all functions.
    pub fn code_len(&self) -> usize {
        self.funcs.iter().map(|f| f.code.len()).sum()
    }

    /// The id of the function named `name`.
    pub fn find(&self, name: &str) -> Option<FuncId> {
        self.funcs
            .iter()
            .position(|f| f.name == name)
            .map(|i| FuncId(i as u32))
    }
}

/// Instructions from `pc` on come from source line `line` (until the
/// next run). `repr(C)`: images hold runs as they are used.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineRun {
    /// The first pc of the run.
    pub pc: u32,
    /// Its line.
    pub line: u32,
}

/// Maps each pc of a function to its source line, stored as runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineTable {
    /// Sorted by pc.
    runs: Table<LineRun>,
}

impl LineTable {
    /// The table of `runs`, sorted by pc (as [`LineTable::push_run`]
    /// builds them).
    pub fn from_runs(runs: Table<LineRun>) -> LineTable {
        LineTable { runs }
    }

    /// Records in `runs` that instructions from `pc` on come from `line`.
    pub fn push_run(runs: &mut Vec<LineRun>, pc: u32, line: u32) {
        match runs.last_mut() {
            Some(last) if last.line == line => {}
            Some(last) if last.pc == pc => last.line = line,
            _ => runs.push(LineRun { pc, line }),
        }
    }

    /// The source line of `pc` (0 if unknown).
    pub fn line(&self, pc: u32) -> u32 {
        match self.runs.partition_point(|r| r.pc <= pc) {
            0 => 0,
            i => self.runs[i - 1].line,
        }
    }

    /// The runs, for serialization.
    pub fn runs(&self) -> &Table<LineRun> {
        &self.runs
    }
}
