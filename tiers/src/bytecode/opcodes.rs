//! The opcode table: every instruction of the bytecode, declared once.
//!
//! Each row gives the instruction's name, its mnemonic in the text form, its
//! operands (name and kind), its effects and, as doc comments, its semantics
//! in the notation `R[x]` (register `x` of the current frame). The
//! `define_opcodes!` macro turns the table into:
//!
//! - [`Instr`], the decoded instruction (one variant per row, fields named as
//!   in the table) and [`Opcode`], its tag;
//! - per-opcode metadata: mnemonic, operand kinds and names, effects, doc;
//! - generic operand access ([`Instr::for_each_operand`],
//!   [`Instr::map_operands`], [`Instr::from_parts`]) that the verifier, the
//!   text form, the encoder and the builder use, so none of them lists the
//!   opcodes again.
//!
//! The interpreter and (later) each compiler match on [`Instr`]; Rust's
//! exhaustiveness check makes a missing handler a compile error. Adding an
//! opcode: add its row here, then its case in each tier (see
//! `docs/adding-an-opcode.md`).
//!
//! Register operand kinds say which type the register must hold (`R*`) or
//! will hold afterwards (`W*`); the verifier enforces them per pc.

use super::{FuncId, HostId, Reg};

/// What an operand is, and for registers, which type it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperandKind {
    /// Reads an `int` register.
    RInt,
    /// Reads a `float` register.
    RFloat,
    /// Reads a `bool` register.
    RBool,
    /// Reads an `[int]` register.
    RIntArray,
    /// Reads a `[float]` register.
    RFloatArray,
    /// Reads a register holding either array type.
    RArray,
    /// Reads a register of any (assigned) type.
    RAny,
    /// Reads a register of the current function's return type.
    RRet,
    /// Writes an `int` register.
    WInt,
    /// Writes a `float` register.
    WFloat,
    /// Writes a `bool` register.
    WBool,
    /// Writes an `[int]` register.
    WIntArray,
    /// Writes a `[float]` register.
    WFloatArray,
    /// Writes a register with the type of the instruction's `RAny` operand.
    WLike,
    /// Writes a register of the callee's return type.
    WRet,
    /// First register of a call's argument window: the callee's parameters
    /// live in `R[base]..R[base + n]`, and the callee's frame starts there,
    /// so a call clobbers every register from `base` up.
    Window,
    /// A signed 32-bit immediate.
    Imm,
    /// An index into the function's constant pool, read as an int.
    ConstInt,
    /// An index into the function's constant pool, read as a float.
    ConstFloat,
    /// A pc in the same function.
    Target,
    /// A function of the module.
    Func,
    /// A host function the module imports.
    Host,
    /// An index into the module's string table.
    Str,
}

impl OperandKind {
    /// True for the kinds that name a register.
    pub fn is_register(self) -> bool {
        !matches!(
            self,
            OperandKind::Imm
                | OperandKind::ConstInt
                | OperandKind::ConstFloat
                | OperandKind::Target
                | OperandKind::Func
                | OperandKind::Host
                | OperandKind::Str
        )
    }
}

/// What an instruction may do besides writing its destination register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Effects(u8);

impl Effects {
    /// Nothing but its result.
    pub const NONE: Effects = Effects(0);
    /// May stop with a runtime error.
    pub const TRAP: Effects = Effects(1);
    /// Calls a tj function (and so may do anything).
    pub const CALL: Effects = Effects(2);
    /// Has a `Target` operand.
    pub const BRANCH: Effects = Effects(4);
    /// Never falls through to the next pc.
    pub const TERMINATOR: Effects = Effects(8);
    /// Writes memory or talks to the world (stores, output, threads).
    pub const SIDE_EFFECT: Effects = Effects(16);
    /// Reads array memory.
    pub const READS_HEAP: Effects = Effects(32);

    /// The union of two sets.
    pub const fn with(self, other: Effects) -> Effects {
        Effects(self.0 | other.0)
    }

    /// True if every effect of `other` is in `self`.
    pub const fn contains(self, other: Effects) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the effects, for the text form and the docs.
    pub fn names(self) -> Vec<&'static str> {
        let all = [
            (Effects::TRAP, "trap"),
            (Effects::CALL, "call"),
            (Effects::BRANCH, "branch"),
            (Effects::TERMINATOR, "terminator"),
            (Effects::SIDE_EFFECT, "side-effect"),
            (Effects::READS_HEAP, "reads-heap"),
        ];
        all.iter()
            .filter(|(e, _)| self.contains(*e))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// Conversion between an operand field and the `u32` every operand fits in.
pub trait OperandValue: Copy {
    /// The operand as raw bits.
    fn to_bits(self) -> u32;
    /// The operand from raw bits (the inverse of `to_bits` for values that
    /// fit; registers keep the low 16 bits).
    fn from_bits(bits: u32) -> Self;
}

impl OperandValue for Reg {
    fn to_bits(self) -> u32 {
        self.0 as u32
    }
    fn from_bits(bits: u32) -> Self {
        Reg(bits as u16)
    }
}

impl OperandValue for FuncId {
    fn to_bits(self) -> u32 {
        self.0
    }
    fn from_bits(bits: u32) -> Self {
        FuncId(bits)
    }
}

impl OperandValue for HostId {
    fn to_bits(self) -> u32 {
        self.0
    }
    fn from_bits(bits: u32) -> Self {
        HostId(bits)
    }
}

impl OperandValue for u32 {
    fn to_bits(self) -> u32 {
        self
    }
    fn from_bits(bits: u32) -> Self {
        bits
    }
}

impl OperandValue for i32 {
    fn to_bits(self) -> u32 {
        self as u32
    }
    fn from_bits(bits: u32) -> Self {
        bits as i32
    }
}

macro_rules! operand_type {
    (Imm) => {
        i32
    };
    (ConstInt) => {
        u32
    };
    (ConstFloat) => {
        u32
    };
    (Target) => {
        u32
    };
    (Str) => {
        u32
    };
    (Func) => {
        FuncId
    };
    (Host) => {
        HostId
    };
    ($register:ident) => {
        Reg
    };
}

macro_rules! define_opcodes {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident = $mnemonic:literal ( $($field:ident : $kind:ident),* ) [ $($effect:ident)|* ];
    )*) => {
        /// One decoded bytecode instruction.
        ///
        /// `repr(u8)`: each variant is laid out as a `repr(C)` struct of
        /// the tag (the [`Opcode`]'s number) and its fields, so that a
        /// module image ([`super::image`]) can hold instructions that run
        /// in place once their tags are checked.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Instr {
            $(
                $(#[doc = $doc])+
                $name { $(
                    #[allow(missing_docs)]
                    $field: operand_type!($kind)
                ),* },
            )*
        }

        /// The tag of an [`Instr`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Opcode {
            $(
                $(#[doc = $doc])+
                $name,
            )*
        }

        impl Opcode {
            /// Every opcode, in table order (which is also its number).
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name),*];

            /// The name in the text form.
            pub fn mnemonic(self) -> &'static str {
                match self { $(Opcode::$name => $mnemonic,)* }
            }

            /// The operand kinds, in field order.
            pub fn operand_kinds(self) -> &'static [OperandKind] {
                match self { $(Opcode::$name => &[$(OperandKind::$kind),*],)* }
            }

            /// The operand names, in field order.
            pub fn operand_names(self) -> &'static [&'static str] {
                match self { $(Opcode::$name => &[$(stringify!($field)),*],)* }
            }

            /// What the instruction may do.
            pub fn effects(self) -> Effects {
                match self { $(Opcode::$name => Effects::NONE $(.with(Effects::$effect))*,)* }
            }

            /// The one-line semantics from the table.
            pub fn semantics(self) -> &'static str {
                match self { $(Opcode::$name => concat!($($doc),+).trim_ascii(),)* }
            }

            /// The opcode numbered `n` (its position in the table).
            pub fn from_u8(n: u8) -> Option<Opcode> {
                Opcode::ALL.get(n as usize).copied()
            }
        }

        impl Instr {
            /// The instruction's opcode.
            pub fn opcode(&self) -> Opcode {
                match self { $(Instr::$name { .. } => Opcode::$name,)* }
            }

            /// Calls `f` with each operand's kind and raw value, in field order.
            pub fn for_each_operand(&self, mut f: impl FnMut(OperandKind, u32)) {
                match *self {
                    $(Instr::$name { $($field),* } => {
                        $( f(OperandKind::$kind, OperandValue::to_bits($field)); )*
                    })*
                }
            }

            /// Builds an instruction from its opcode and raw operand values
            /// (missing values read as 0, extra ones are ignored).
            #[allow(unused_assignments, unused_mut, unused_variables)]
            pub fn from_parts(op: Opcode, values: &[u32]) -> Instr {
                let mut next = 0usize;
                let mut take = || {
                    let v = values.get(next).copied().unwrap_or(0);
                    next += 1;
                    v
                };
                match op {
                    $(Opcode::$name => Instr::$name {
                        $($field: OperandValue::from_bits(take())),*
                    },)*
                }
            }
        }
    };
}

define_opcodes! {
    /// R[dst] := R[src] (any type; dst takes src's type)
    Mov = "mov" (dst: WLike, src: RAny) [];
    /// R[dst] := imm (sign-extended)
    LoadInt = "ldi" (dst: WInt, imm: Imm) [];
    /// R[dst] := K[k] as an int
    LoadConstInt = "ldk.i" (dst: WInt, k: ConstInt) [];
    /// R[dst] := K[k] as a float
    LoadConstFloat = "ldk.f" (dst: WFloat, k: ConstFloat) [];
    /// R[dst] := (imm != 0)
    LoadBool = "ldb" (dst: WBool, imm: Imm) [];

    /// R[dst] := R[a] + R[b], wrapping
    AddInt = "add.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := R[a] + imm, wrapping
    AddIntImm = "addi.i" (dst: WInt, a: RInt, imm: Imm) [];
    /// R[dst] := R[a] - R[b], wrapping
    SubInt = "sub.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := R[a] * R[b], wrapping
    MulInt = "mul.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := R[a] / R[b] truncated; traps `division by zero` if R[b] = 0; MIN / -1 = MIN
    DivInt = "div.i" (dst: WInt, a: RInt, b: RInt) [TRAP];
    /// R[dst] := R[a] % R[b] with the sign of R[a]; traps `division by zero` if R[b] = 0; MIN % -1 = 0
    RemInt = "rem.i" (dst: WInt, a: RInt, b: RInt) [TRAP];
    /// R[dst] := R[a] & R[b]
    AndInt = "and.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := R[a] | R[b]
    OrInt = "or.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := R[a] ^ R[b]
    XorInt = "xor.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := R[a] << (R[b] mod 64)
    ShlInt = "shl.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := R[a] >> (R[b] mod 64), arithmetic
    ShrInt = "shr.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := -R[a], wrapping
    NegInt = "neg.i" (dst: WInt, a: RInt) [];
    /// R[dst] := !R[a] (bitwise not)
    NotInt = "not.i" (dst: WInt, a: RInt) [];
    /// R[dst] := |R[a]|, wrapping (abs(MIN) = MIN)
    AbsInt = "abs.i" (dst: WInt, a: RInt) [];
    /// R[dst] := min(R[a], R[b])
    MinInt = "min.i" (dst: WInt, a: RInt, b: RInt) [];
    /// R[dst] := max(R[a], R[b])
    MaxInt = "max.i" (dst: WInt, a: RInt, b: RInt) [];

    /// R[dst] := R[a] + R[b]
    AddFloat = "add.f" (dst: WFloat, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] - R[b]
    SubFloat = "sub.f" (dst: WFloat, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] * R[b]
    MulFloat = "mul.f" (dst: WFloat, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] / R[b]
    DivFloat = "div.f" (dst: WFloat, a: RFloat, b: RFloat) [];
    /// R[dst] := -R[a] (flips the sign bit)
    NegFloat = "neg.f" (dst: WFloat, a: RFloat) [];
    /// R[dst] := |R[a]| (clears the sign bit)
    AbsFloat = "abs.f" (dst: WFloat, a: RFloat) [];
    /// R[dst] := sqrt(R[a]), IEEE
    SqrtFloat = "sqrt.f" (dst: WFloat, a: RFloat) [];
    /// R[dst] := IEEE 754-2019 minimum(R[a], R[b]): NaN if either is NaN, -0.0 < 0.0
    MinFloat = "min.f" (dst: WFloat, a: RFloat, b: RFloat) [];
    /// R[dst] := IEEE 754-2019 maximum(R[a], R[b]): NaN if either is NaN, -0.0 < 0.0
    MaxFloat = "max.f" (dst: WFloat, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] as float, rounded to nearest
    IntToFloat = "i2f" (dst: WFloat, a: RInt) [];
    /// R[dst] := R[a] truncated to int, saturating; NaN gives 0
    FloatToInt = "f2i" (dst: WInt, a: RFloat) [];

    /// R[dst] := R[a] == R[b]
    EqInt = "eq.i" (dst: WBool, a: RInt, b: RInt) [];
    /// R[dst] := R[a] != R[b]
    NeInt = "ne.i" (dst: WBool, a: RInt, b: RInt) [];
    /// R[dst] := R[a] < R[b]
    LtInt = "lt.i" (dst: WBool, a: RInt, b: RInt) [];
    /// R[dst] := R[a] <= R[b]
    LeInt = "le.i" (dst: WBool, a: RInt, b: RInt) [];
    /// R[dst] := R[a] == R[b] (false if either is NaN)
    EqFloat = "eq.f" (dst: WBool, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] != R[b] (true if either is NaN)
    NeFloat = "ne.f" (dst: WBool, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] < R[b] (false if either is NaN)
    LtFloat = "lt.f" (dst: WBool, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] <= R[b] (false if either is NaN)
    LeFloat = "le.f" (dst: WBool, a: RFloat, b: RFloat) [];
    /// R[dst] := R[a] == R[b]
    EqBool = "eq.b" (dst: WBool, a: RBool, b: RBool) [];
    /// R[dst] := R[a] != R[b]
    NeBool = "ne.b" (dst: WBool, a: RBool, b: RBool) [];
    /// R[dst] := !R[a]
    NotBool = "not.b" (dst: WBool, a: RBool) [];

    /// pc := target
    Jump = "jmp" (target: Target) [BRANCH | TERMINATOR];
    /// if R[cond] then pc := target
    JumpIfTrue = "jt" (cond: RBool, target: Target) [BRANCH];
    /// if !R[cond] then pc := target
    JumpIfFalse = "jf" (cond: RBool, target: Target) [BRANCH];
    /// if R[a] == R[b] then pc := target
    JumpEqInt = "jeq.i" (a: RInt, b: RInt, target: Target) [BRANCH];
    /// if R[a] != R[b] then pc := target
    JumpNeInt = "jne.i" (a: RInt, b: RInt, target: Target) [BRANCH];
    /// if R[a] < R[b] then pc := target
    JumpLtInt = "jlt.i" (a: RInt, b: RInt, target: Target) [BRANCH];
    /// if R[a] <= R[b] then pc := target
    JumpLeInt = "jle.i" (a: RInt, b: RInt, target: Target) [BRANCH];
    /// if R[a] == R[b] then pc := target (not taken if either is NaN)
    JumpEqFloat = "jeq.f" (a: RFloat, b: RFloat, target: Target) [BRANCH];
    /// if R[a] != R[b] then pc := target (taken if either is NaN)
    JumpNeFloat = "jne.f" (a: RFloat, b: RFloat, target: Target) [BRANCH];
    /// if R[a] < R[b] then pc := target (not taken if either is NaN)
    JumpLtFloat = "jlt.f" (a: RFloat, b: RFloat, target: Target) [BRANCH];
    /// if R[a] <= R[b] then pc := target (not taken if either is NaN)
    JumpLeFloat = "jle.f" (a: RFloat, b: RFloat, target: Target) [BRANCH];
    /// if !(R[a] < R[b]) then pc := target (taken if either is NaN)
    JumpNotLtFloat = "jnlt.f" (a: RFloat, b: RFloat, target: Target) [BRANCH];
    /// if !(R[a] <= R[b]) then pc := target (taken if either is NaN)
    JumpNotLeFloat = "jnle.f" (a: RFloat, b: RFloat, target: Target) [BRANCH];
    /// if R[a] == imm then pc := target
    JumpEqIntImm = "jeqi.i" (a: RInt, imm: Imm, target: Target) [BRANCH];
    /// if R[a] != imm then pc := target
    JumpNeIntImm = "jnei.i" (a: RInt, imm: Imm, target: Target) [BRANCH];
    /// if R[a] < imm then pc := target
    JumpLtIntImm = "jlti.i" (a: RInt, imm: Imm, target: Target) [BRANCH];
    /// if R[a] <= imm then pc := target
    JumpLeIntImm = "jlei.i" (a: RInt, imm: Imm, target: Target) [BRANCH];
    /// if R[a] > imm then pc := target
    JumpGtIntImm = "jgti.i" (a: RInt, imm: Imm, target: Target) [BRANCH];
    /// if R[a] >= imm then pc := target
    JumpGeIntImm = "jgei.i" (a: RInt, imm: Imm, target: Target) [BRANCH];

    /// R[dst] := new [int] of R[len] elements, each R[init]; traps `negative array length`, `out of memory`
    NewIntArray = "new.ai" (dst: WIntArray, init: RInt, len: RInt) [TRAP | SIDE_EFFECT];
    /// R[dst] := new [float] of R[len] elements, each R[init]; traps `negative array length`, `out of memory`
    NewFloatArray = "new.af" (dst: WFloatArray, init: RFloat, len: RInt) [TRAP | SIDE_EFFECT];
    /// R[dst] := len(R[arr])
    ArrayLen = "len" (dst: WInt, arr: RArray) [];
    /// R[dst] := R[arr][R[idx]]; traps `index out of bounds`
    LoadIntElem = "ld.ai" (dst: WInt, arr: RIntArray, idx: RInt) [TRAP | READS_HEAP];
    /// R[dst] := R[arr][R[idx]]; traps `index out of bounds`
    LoadFloatElem = "ld.af" (dst: WFloat, arr: RFloatArray, idx: RInt) [TRAP | READS_HEAP];
    /// R[arr][R[idx]] := R[val]; traps `index out of bounds`
    StoreIntElem = "st.ai" (arr: RIntArray, idx: RInt, val: RInt) [TRAP | SIDE_EFFECT];
    /// R[arr][R[idx]] := R[val]; traps `index out of bounds`
    StoreFloatElem = "st.af" (arr: RFloatArray, idx: RInt, val: RFloat) [TRAP | SIDE_EFFECT];
    /// R[dst] := R[arr][R[idx]]; R[arr][R[idx]] += R[val], atomically (wrapping); traps `index out of bounds`
    AtomicAdd = "atomic_add" (dst: WInt, arr: RIntArray, idx: RInt, val: RInt) [TRAP | SIDE_EFFECT | READS_HEAP];

    /// R[dst] := func(R[base], ..); the callee's frame starts at R[base]; clobbers R[base..]
    Call = "call" (dst: WRet, func: Func, base: Window) [CALL | TRAP | SIDE_EFFECT | READS_HEAP];
    /// func(R[base], ..), result dropped; clobbers R[base..]
    CallVoid = "call.v" (func: Func, base: Window) [CALL | TRAP | SIDE_EFFECT | READS_HEAP];
    /// return R[src] to the caller
    Return = "ret" (src: RRet) [TERMINATOR];
    /// return to the caller (function without return type)
    ReturnVoid = "ret.v" () [TERMINATOR];
    /// R[dst] := handle of a new thread running func(R[base], ..) (func returns int); arguments are copied
    Spawn = "spawn" (dst: WInt, func: Func, base: Window) [SIDE_EFFECT];
    /// R[dst] := result of the thread R[handle], after waiting for it; traps `bad thread handle`
    Join = "join" (dst: WInt, handle: RInt) [TRAP | SIDE_EFFECT];

    /// R[dst] := host(R[base], ..), a function of the host; arguments are copied; traps with the host's error
    CallHost = "call.h" (dst: WRet, host: Host, base: Window) [TRAP | SIDE_EFFECT];
    /// host(R[base], ..), result dropped; arguments are copied; traps with the host's error
    CallHostVoid = "call.hv" (host: Host, base: Window) [TRAP | SIDE_EFFECT];

    /// print R[src] as an int
    PrintInt = "print.i" (src: RInt) [SIDE_EFFECT];
    /// print R[src] as a float (Rust's {:?})
    PrintFloat = "print.f" (src: RFloat) [SIDE_EFFECT];
    /// print R[src] as `true` or `false`
    PrintBool = "print.b" (src: RBool) [SIDE_EFFECT];
    /// print string S[s]
    PrintStr = "print.s" (s: Str) [SIDE_EFFECT];
    /// R[dst] := command-line argument R[idx] parsed as an int; traps `bad argument`
    Arg = "arg" (dst: WInt, idx: RInt) [TRAP];
    /// R[dst] := number of command-line arguments
    Argc = "argc" (dst: WInt) [];
    /// R[dst] := monotonic clock in nanoseconds
    NowNs = "now_ns" (dst: WInt) [SIDE_EFFECT];
}

impl Instr {
    /// Rebuilds the instruction with every operand passed through `f`
    /// (given the operand's kind and raw value).
    pub fn map_operands(&self, mut f: impl FnMut(OperandKind, u32) -> u32) -> Instr {
        let mut values = [0u32; 4];
        let mut n = 0;
        self.for_each_operand(|kind, v| {
            values[n] = f(kind, v);
            n += 1;
        });
        Instr::from_parts(self.opcode(), &values[..n])
    }

    /// The branch target, if the instruction has one.
    pub fn target(&self) -> Option<u32> {
        let mut target = None;
        self.for_each_operand(|kind, v| {
            if kind == OperandKind::Target {
                target = Some(v);
            }
        });
        target
    }

    /// The instruction with its branch target replaced.
    pub fn with_target(&self, target: u32) -> Instr {
        self.map_operands(|kind, v| {
            if kind == OperandKind::Target {
                target
            } else {
                v
            }
        })
    }

    /// The instruction's effects.
    pub fn effects(&self) -> Effects {
        self.opcode().effects()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_stay_small() {
        assert!(std::mem::size_of::<Instr>() <= 12);
    }

    #[test]
    fn opcodes_have_no_more_than_four_operands_and_unique_mnemonics() {
        let mut seen = std::collections::HashSet::new();
        for &op in Opcode::ALL {
            assert!(op.operand_kinds().len() <= 4, "{op:?}");
            assert!(
                seen.insert(op.mnemonic()),
                "duplicate mnemonic {}",
                op.mnemonic()
            );
            assert_eq!(Opcode::from_u8(op as u8), Some(op));
            assert!(!op.semantics().is_empty());
        }
    }

    #[test]
    fn parts_round_trip() {
        let i = Instr::Call {
            dst: Reg(3),
            func: FuncId(7),
            base: Reg(9),
        };
        let mut parts = vec![];
        i.for_each_operand(|_, v| parts.push(v));
        assert_eq!(Instr::from_parts(Opcode::Call, &parts), i);
        let j = Instr::JumpLtInt {
            a: Reg(1),
            b: Reg(2),
            target: 5,
        };
        assert_eq!(j.target(), Some(5));
        assert_eq!(j.with_target(9).target(), Some(9));
        let k = Instr::LoadInt {
            dst: Reg(0),
            imm: -5,
        };
        assert_eq!(k.map_operands(|_, v| v), k);
    }
}
