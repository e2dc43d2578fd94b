//! The x86-64 assembler that every compiler emits through: registers,
//! memory operands, condition codes and one method per machine instruction
//! form ([`Asm`]), plus the ABI-level sequences that all generated code
//! shares ([`runtime`]: helper calls, polls, trap stubs).
//!
//! Needs: nothing but a byte buffer; labels and branches are resolved by
//! dynasmrt's `VecAssembler` when [`Asm::finish`] is called. Guarantees:
//! each method emits exactly the instruction its name and arguments say,
//! in its shortest encoding for those operands (8-bit displacements and
//! immediates where they fit; a SIB byte only where the base is `rsp` or
//! `r12` or there is an index), for every register including `r8`-`r15`
//! and `xmm8`-`xmm15`; the code is position independent (branches are
//! relative, the only address taken is rip-relative); `tests.rs` checks
//! every form against the `iced-x86` decoder. Nothing else in the crate
//! writes machine code or invokes `dynasm!`.
//!
//! Why instructions are encoded here and not by `dynasm!` with dynamic
//! registers (`Rq(n)`): dynasm 5.1 decides the displacement size when the
//! macro expands, so a run-time displacement is always 32 bits, and it
//! always adds a SIB byte for a run-time base register (it cannot know the
//! register is not `rsp`/`r12`): two to four wasted bytes in nearly every
//! baseline instruction. The encoding rules (REX, ModRM, SIB) are few;
//! `dynasm!` is kept for what it does well, labels and relocated branches.

pub mod runtime;
#[cfg(test)]
mod tests;

use crate::code::NoFrameRange;
use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi, VecAssembler};

/// A code position to branch to, bound once with [`Asm::bind`].
pub use dynasmrt::DynamicLabel;

/// `dynasm!` with the architecture fixed: the one place it is invoked.
macro_rules! x64 {
    ($ops:expr; $($t:tt)*) => {
        dynasm!($ops
            ; .arch x64
            ; $($t)*
        )
    };
}

/// A general-purpose register, by its hardware number.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Gpr {
    Rax = 0,
    Rcx,
    Rdx,
    Rbx,
    Rsp,
    Rbp,
    Rsi,
    Rdi,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

impl Gpr {
    /// Every register, in hardware order.
    pub const ALL: [Gpr; 16] = [
        Gpr::Rax,
        Gpr::Rcx,
        Gpr::Rdx,
        Gpr::Rbx,
        Gpr::Rsp,
        Gpr::Rbp,
        Gpr::Rsi,
        Gpr::Rdi,
        Gpr::R8,
        Gpr::R9,
        Gpr::R10,
        Gpr::R11,
        Gpr::R12,
        Gpr::R13,
        Gpr::R14,
        Gpr::R15,
    ];

    /// The hardware number (0..16).
    pub fn num(self) -> u8 {
        self as u8
    }
}

/// An SSE register, `xmm0` to `xmm15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Xmm(pub u8);

impl Xmm {
    fn num(self) -> u8 {
        debug_assert!(self.0 < 16, "xmm{} does not exist", self.0);
        self.0 & 15
    }
}

/// A memory operand `[base + index * scale + disp]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mem {
    /// The base register.
    pub base: Gpr,
    /// The index register and its scale (1, 2, 4 or 8); never `rsp`.
    pub index: Option<(Gpr, u8)>,
    /// The displacement.
    pub disp: i32,
}

impl Mem {
    /// `[base + disp]`
    pub fn base_disp(base: Gpr, disp: i32) -> Mem {
        Mem {
            base,
            index: None,
            disp,
        }
    }

    /// `[base + index * scale + disp]`; `scale` is 1, 2, 4 or 8 and the
    /// index is not `rsp` (panics otherwise: a compiler bug).
    pub fn indexed(base: Gpr, index: Gpr, scale: u8, disp: i32) -> Mem {
        assert!(matches!(scale, 1 | 2 | 4 | 8), "scale {scale}");
        assert!(index != Gpr::Rsp, "rsp cannot be an index");
        Mem {
            base,
            index: Some((index, scale)),
            disp,
        }
    }
}

/// A machine condition code, by its hardware number (`jcc` is
/// `0F 80+cc`): unsigned `B`/`Ae`/`Be`/`A`, signed `L`/`Ge`/`Le`/`G`.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Cond {
    O = 0,
    No,
    B,
    Ae,
    E,
    Ne,
    Be,
    A,
    S,
    Ns,
    P,
    Np,
    L,
    Ge,
    Le,
    G,
}

impl Cond {
    /// Every condition, in hardware order.
    pub const ALL: [Cond; 16] = [
        Cond::O,
        Cond::No,
        Cond::B,
        Cond::Ae,
        Cond::E,
        Cond::Ne,
        Cond::Be,
        Cond::A,
        Cond::S,
        Cond::Ns,
        Cond::P,
        Cond::Np,
        Cond::L,
        Cond::Ge,
        Cond::Le,
        Cond::G,
    ];

    /// The opposite condition (true exactly when `self` is false).
    pub fn invert(self) -> Cond {
        Cond::ALL[(self as usize) ^ 1]
    }
}

/// Two-operand integer operations; the discriminant is the `/digit` of
/// their immediate forms (`81 /digit`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alu {
    /// `add`
    Add = 0,
    /// `or`
    Or = 1,
    /// `and`
    And = 4,
    /// `sub`
    Sub = 5,
    /// `xor`
    Xor = 6,
    /// `cmp`
    Cmp = 7,
}

/// Scalar-double SSE2 arithmetic (`F2 0F op`); the discriminant is the
/// opcode byte.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseOp {
    /// `addsd`
    Add = 0x58,
    /// `subsd`
    Sub = 0x5C,
    /// `mulsd`
    Mul = 0x59,
    /// `divsd`
    Div = 0x5E,
    /// `minsd` (not IEEE `minimum`: gives the second operand on NaN)
    Min = 0x5D,
    /// `maxsd` (likewise)
    Max = 0x5F,
    /// `sqrtsd`
    Sqrt = 0x51,
}

/// The r/m operand of an instruction: a register number or memory.
#[derive(Clone, Copy)]
enum Rm {
    Reg(u8),
    Mem(Mem),
}

/// Operand size of an instruction: whether it needs `REX.W`, and whether
/// its r/m register is a byte register (then `spl`..`dil` need a REX).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    B8,
    B32,
    B64,
}

/// An assembler for one piece of code; code is assembled for address 0.
pub struct Asm {
    ops: VecAssembler<X64Relocation>,
    /// Where the frame is not set up, as [`runtime`]'s frame entry and
    /// exit sequences recorded it.
    no_frame: Vec<NoFrameRange>,
}

impl Asm {
    /// An empty assembler with room for `capacity` bytes.
    pub fn new(capacity: usize) -> Asm {
        Asm {
            ops: VecAssembler::new_with_capacity(0, capacity, 0, 0, 64, 0, 64),
            no_frame: Vec::new(),
        }
    }

    /// The current offset in the code.
    pub fn offset(&self) -> usize {
        self.ops.offset().0
    }

    /// A new label.
    pub fn label(&mut self) -> DynamicLabel {
        self.ops.new_dynamic_label()
    }

    /// Binds `label` here.
    pub fn bind(&mut self, label: DynamicLabel) {
        x64!(self.ops; =>label);
    }

    /// The finished code, or an error if a label was never bound.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        self.ops.finalize().map_err(|e| format!("{e:?}"))
    }

    // ---- encoding ----

    /// Emits `[prefix] [REX] opcode ModRM [SIB] [disp]` with `reg` in the
    /// ModRM reg field (a register number or an opcode `/digit`).
    fn op(&mut self, prefix: Option<u8>, size: Size, opcode: &[u8], reg: u8, rm: Rm) {
        if let Some(p) = prefix {
            self.ops.push(p);
        }
        let (x, b) = match rm {
            Rm::Reg(r) => (0, r),
            Rm::Mem(m) => (m.index.map_or(0, |(i, _)| i.num()), m.base.num()),
        };
        // A byte register r/m numbered 4-7 is spl..dil only with a REX
        // (without one it is ah..bh). No instruction here has a byte
        // register in the reg field.
        let needs_bare_rex = size == Size::B8 && matches!(rm, Rm::Reg(r) if (4..8).contains(&r));
        let rex = (u8::from(size == Size::B64) << 3)
            | ((reg >> 3) & 1) << 2
            | ((x >> 3) & 1) << 1
            | ((b >> 3) & 1);
        if rex != 0 || needs_bare_rex {
            self.ops.push(0x40 | rex);
        }
        self.ops.extend(opcode.iter().copied());
        let reg = (reg & 7) << 3;
        let m = match rm {
            Rm::Reg(r) => {
                self.ops.push(0xC0 | reg | (r & 7));
                return;
            }
            Rm::Mem(m) => m,
        };
        let base = m.base.num() & 7;
        // rbp/r13 as a base have no no-displacement form (that encoding
        // means rip-relative or no base).
        let (mode, disp_bytes) = if m.disp == 0 && base != 5 {
            (0x00, 0)
        } else if i8::try_from(m.disp).is_ok() {
            (0x40, 1)
        } else {
            (0x80, 4)
        };
        match m.index {
            // rsp/r12 as a base need a SIB byte (rm = 100 escapes to it).
            None if base != 4 => self.ops.push(mode | reg | base),
            None => {
                self.ops.push(mode | reg | 4);
                self.ops.push(0x20 | base);
            }
            Some((index, scale)) => {
                self.ops.push(mode | reg | 4);
                let ss = scale.trailing_zeros() as u8;
                self.ops.push(ss << 6 | (index.num() & 7) << 3 | base);
            }
        }
        match disp_bytes {
            1 => self.ops.push(m.disp as i8 as u8),
            4 => self.ops.push_i32(m.disp),
            _ => {}
        }
    }

    fn rr64(&mut self, opcode: &[u8], reg: Gpr, rm: Gpr) {
        self.op(None, Size::B64, opcode, reg.num(), Rm::Reg(rm.num()));
    }

    fn rm64(&mut self, opcode: &[u8], reg: Gpr, mem: Mem) {
        self.op(None, Size::B64, opcode, reg.num(), Rm::Mem(mem));
    }

    /// An SSE instruction `prefix 0F op` between two xmm-numbered (or gpr)
    /// operands.
    fn sse(&mut self, prefix: Option<u8>, size: Size, op: u8, reg: u8, rm: Rm) {
        self.op(prefix, size, &[0x0F, op], reg, rm);
    }

    fn imm8_or_32(&mut self, digit: u8, size: Size, rm: Rm, imm: i32) {
        match i8::try_from(imm) {
            Ok(imm8) => {
                self.op(None, size, &[0x83], digit, rm);
                self.ops.push(imm8 as u8);
            }
            Err(_) => {
                self.op(None, size, &[0x81], digit, rm);
                self.ops.push_i32(imm);
            }
        }
    }

    // ---- moves ----

    /// `mov d, s`
    pub fn mov_rr(&mut self, d: Gpr, s: Gpr) {
        self.rr64(&[0x89], s, d);
    }

    /// `mov d, qword [m]`
    pub fn mov_rm(&mut self, d: Gpr, m: Mem) {
        self.rm64(&[0x8B], d, m);
    }

    /// `mov qword [m], s`
    pub fn mov_mr(&mut self, m: Mem, s: Gpr) {
        self.rm64(&[0x89], s, m);
    }

    /// `d := imm`, shortest: `xor d32, d32` for 0, `mov d32, imm32` for a
    /// value that fits in u32, `mov d, simm32`, else `mov d, imm64`.
    pub fn mov_ri(&mut self, d: Gpr, imm: i64) {
        let rex_b = d.num() >> 3;
        if imm == 0 {
            self.op(None, Size::B32, &[0x31], d.num(), Rm::Reg(d.num()));
        } else if let Ok(imm32) = u32::try_from(imm) {
            if rex_b != 0 {
                self.ops.push(0x41);
            }
            self.ops.push(0xB8 | (d.num() & 7));
            self.ops.push_u32(imm32);
        } else if let Ok(imm32) = i32::try_from(imm) {
            self.op(None, Size::B64, &[0xC7], 0, Rm::Reg(d.num()));
            self.ops.push_i32(imm32);
        } else {
            self.ops.push(0x48 | rex_b);
            self.ops.push(0xB8 | (d.num() & 7));
            self.ops.push_i64(imm);
        }
    }

    /// `mov qword [m], imm` (sign-extended)
    pub fn mov_mi(&mut self, m: Mem, imm: i32) {
        self.op(None, Size::B64, &[0xC7], 0, Rm::Mem(m));
        self.ops.push_i32(imm);
    }

    /// `lea d, [m]`
    pub fn lea(&mut self, d: Gpr, m: Mem) {
        self.rm64(&[0x8D], d, m);
    }

    /// `lea d, [rip + label]`
    // dynasm expands a dynamic register `Rq(n)` to `n.into()`.
    #[allow(clippy::useless_conversion)]
    pub fn lea_label(&mut self, d: Gpr, label: DynamicLabel) {
        x64!(self.ops; lea Rq(d.num()), [=>label]);
    }

    /// `movzx d32, s8`: `d` := the low byte of `s`, zero-extended.
    pub fn movzx_r8(&mut self, d: Gpr, s: Gpr) {
        self.op(None, Size::B8, &[0x0F, 0xB6], d.num(), Rm::Reg(s.num()));
    }

    /// `push r`
    pub fn push(&mut self, r: Gpr) {
        if r.num() >= 8 {
            self.ops.push(0x41);
        }
        self.ops.push(0x50 | (r.num() & 7));
    }

    /// `pop r`
    pub fn pop(&mut self, r: Gpr) {
        if r.num() >= 8 {
            self.ops.push(0x41);
        }
        self.ops.push(0x58 | (r.num() & 7));
    }

    // ---- integer ALU ----

    /// `op d, s`
    pub fn alu_rr(&mut self, op: Alu, d: Gpr, s: Gpr) {
        self.rr64(&[(op as u8) << 3 | 1], s, d);
    }

    /// `op d, qword [m]`
    pub fn alu_rm(&mut self, op: Alu, d: Gpr, m: Mem) {
        self.rm64(&[(op as u8) << 3 | 3], d, m);
    }

    /// `op qword [m], s`
    pub fn alu_mr(&mut self, op: Alu, m: Mem, s: Gpr) {
        self.rm64(&[(op as u8) << 3 | 1], s, m);
    }

    /// `op d, imm` (sign-extended)
    pub fn alu_ri(&mut self, op: Alu, d: Gpr, imm: i32) {
        self.imm8_or_32(op as u8, Size::B64, Rm::Reg(d.num()), imm);
    }

    /// `op qword [m], imm` (sign-extended)
    pub fn alu_mi(&mut self, op: Alu, m: Mem, imm: i32) {
        self.imm8_or_32(op as u8, Size::B64, Rm::Mem(m), imm);
    }

    /// `xor d32, imm` (a 32-bit operation: clears the upper half)
    pub fn xor_r32i(&mut self, d: Gpr, imm: i32) {
        self.imm8_or_32(Alu::Xor as u8, Size::B32, Rm::Reg(d.num()), imm);
    }

    /// `test a, b`
    pub fn test_rr(&mut self, a: Gpr, b: Gpr) {
        self.rr64(&[0x85], b, a);
    }

    /// `imul d, s`
    pub fn imul_rr(&mut self, d: Gpr, s: Gpr) {
        self.rr64(&[0x0F, 0xAF], d, s);
    }

    /// `imul d, qword [m]`
    pub fn imul_rm(&mut self, d: Gpr, m: Mem) {
        self.rm64(&[0x0F, 0xAF], d, m);
    }

    /// `imul d, s, imm`
    pub fn imul_rri(&mut self, d: Gpr, s: Gpr, imm: i32) {
        match i8::try_from(imm) {
            Ok(imm8) => {
                self.rr64(&[0x6B], d, s);
                self.ops.push(imm8 as u8);
            }
            Err(_) => {
                self.rr64(&[0x69], d, s);
                self.ops.push_i32(imm);
            }
        }
    }

    fn unary(&mut self, opcode: u8, digit: u8, r: Gpr) {
        self.op(None, Size::B64, &[opcode], digit, Rm::Reg(r.num()));
    }

    /// `neg r`
    pub fn neg(&mut self, r: Gpr) {
        self.unary(0xF7, 3, r);
    }

    /// `not r`
    pub fn not(&mut self, r: Gpr) {
        self.unary(0xF7, 2, r);
    }

    /// `shl r, cl`
    pub fn shl_cl(&mut self, r: Gpr) {
        self.unary(0xD3, 4, r);
    }

    /// `sar r, cl`
    pub fn sar_cl(&mut self, r: Gpr) {
        self.unary(0xD3, 7, r);
    }

    /// `shl r, imm`
    pub fn shl_ri(&mut self, r: Gpr, imm: u8) {
        self.unary(0xC1, 4, r);
        self.ops.push(imm);
    }

    /// `sar r, imm`
    pub fn sar_ri(&mut self, r: Gpr, imm: u8) {
        self.unary(0xC1, 7, r);
        self.ops.push(imm);
    }

    /// `shr r, imm`
    pub fn shr_ri(&mut self, r: Gpr, imm: u8) {
        self.unary(0xC1, 5, r);
        self.ops.push(imm);
    }

    /// `cqo`: sign-extends `rax` into `rdx`.
    pub fn cqo(&mut self) {
        self.ops.extend([0x48, 0x99]);
    }

    /// `idiv r`: `rdx:rax / r`, quotient in `rax`, remainder in `rdx`.
    pub fn idiv(&mut self, r: Gpr) {
        self.unary(0xF7, 7, r);
    }

    /// `cmovcc d, s`
    pub fn cmov(&mut self, cond: Cond, d: Gpr, s: Gpr) {
        self.rr64(&[0x0F, 0x40 | cond as u8], d, s);
    }

    /// `setcc r8`: the low byte of `r` := 1 if `cond`, else 0.
    pub fn setcc(&mut self, cond: Cond, r: Gpr) {
        self.op(
            None,
            Size::B8,
            &[0x0F, 0x90 | cond as u8],
            0,
            Rm::Reg(r.num()),
        );
    }

    /// `btc r, imm`: flips bit `imm`.
    pub fn btc_ri(&mut self, r: Gpr, imm: u8) {
        self.op(None, Size::B64, &[0x0F, 0xBA], 7, Rm::Reg(r.num()));
        self.ops.push(imm);
    }

    /// `btr r, imm`: clears bit `imm`.
    pub fn btr_ri(&mut self, r: Gpr, imm: u8) {
        self.op(None, Size::B64, &[0x0F, 0xBA], 6, Rm::Reg(r.num()));
        self.ops.push(imm);
    }

    /// `lock xadd qword [m], r`
    pub fn lock_xadd(&mut self, m: Mem, r: Gpr) {
        self.op(Some(0xF0), Size::B64, &[0x0F, 0xC1], r.num(), Rm::Mem(m));
    }

    /// `cmp byte [m], imm`
    pub fn cmp_mi8(&mut self, m: Mem, imm: i8) {
        self.op(None, Size::B8, &[0x80], 7, Rm::Mem(m));
        self.ops.push(imm as u8);
    }

    // ---- SSE2 scalar double ----

    /// `movsd d, s`
    pub fn movsd_rr(&mut self, d: Xmm, s: Xmm) {
        self.sse(Some(0xF2), Size::B32, 0x10, d.num(), Rm::Reg(s.num()));
    }

    /// `movsd d, qword [m]`
    pub fn movsd_rm(&mut self, d: Xmm, m: Mem) {
        self.sse(Some(0xF2), Size::B32, 0x10, d.num(), Rm::Mem(m));
    }

    /// `movsd qword [m], s`
    pub fn movsd_mr(&mut self, m: Mem, s: Xmm) {
        self.sse(Some(0xF2), Size::B32, 0x11, s.num(), Rm::Mem(m));
    }

    /// `movq x, r`: the bits of `r` into `x`.
    pub fn movq_xr(&mut self, x: Xmm, r: Gpr) {
        self.sse(Some(0x66), Size::B64, 0x6E, x.num(), Rm::Reg(r.num()));
    }

    /// `movq r, x`: the low 64 bits of `x` into `r`.
    pub fn movq_rx(&mut self, r: Gpr, x: Xmm) {
        self.sse(Some(0x66), Size::B64, 0x7E, x.num(), Rm::Reg(r.num()));
    }

    /// `addsd`/`subsd`/... `d, s`
    pub fn sse_rr(&mut self, op: SseOp, d: Xmm, s: Xmm) {
        self.sse(Some(0xF2), Size::B32, op as u8, d.num(), Rm::Reg(s.num()));
    }

    /// `addsd`/`subsd`/... `d, qword [m]`
    pub fn sse_rm(&mut self, op: SseOp, d: Xmm, m: Mem) {
        self.sse(Some(0xF2), Size::B32, op as u8, d.num(), Rm::Mem(m));
    }

    /// `ucomisd a, b`
    pub fn ucomisd_rr(&mut self, a: Xmm, b: Xmm) {
        self.sse(Some(0x66), Size::B32, 0x2E, a.num(), Rm::Reg(b.num()));
    }

    /// `ucomisd a, qword [m]`
    pub fn ucomisd_rm(&mut self, a: Xmm, m: Mem) {
        self.sse(Some(0x66), Size::B32, 0x2E, a.num(), Rm::Mem(m));
    }

    /// `andpd d, s`
    pub fn andpd_rr(&mut self, d: Xmm, s: Xmm) {
        self.sse(Some(0x66), Size::B32, 0x54, d.num(), Rm::Reg(s.num()));
    }

    /// `orpd d, s`
    pub fn orpd_rr(&mut self, d: Xmm, s: Xmm) {
        self.sse(Some(0x66), Size::B32, 0x56, d.num(), Rm::Reg(s.num()));
    }

    /// `xorpd d, s`
    pub fn xorpd_rr(&mut self, d: Xmm, s: Xmm) {
        self.sse(Some(0x66), Size::B32, 0x57, d.num(), Rm::Reg(s.num()));
    }

    /// `movaps d, s`: a whole-register copy (unlike `movsd d, s`, which
    /// merges into `d` and so waits for `d`'s last writer).
    pub fn movaps_rr(&mut self, d: Xmm, s: Xmm) {
        self.sse(None, Size::B32, 0x28, d.num(), Rm::Reg(s.num()));
    }

    /// `xorps d, s`
    pub fn xorps_rr(&mut self, d: Xmm, s: Xmm) {
        self.sse(None, Size::B32, 0x57, d.num(), Rm::Reg(s.num()));
    }

    /// `cvtsi2sd x, r` (64-bit source)
    pub fn cvtsi2sd_rr(&mut self, x: Xmm, r: Gpr) {
        self.sse(Some(0xF2), Size::B64, 0x2A, x.num(), Rm::Reg(r.num()));
    }

    /// `cvtsi2sd x, qword [m]`
    pub fn cvtsi2sd_rm(&mut self, x: Xmm, m: Mem) {
        self.sse(Some(0xF2), Size::B64, 0x2A, x.num(), Rm::Mem(m));
    }

    /// `cvttsd2si r, x` (64-bit result)
    pub fn cvttsd2si_rr(&mut self, r: Gpr, x: Xmm) {
        self.sse(Some(0xF2), Size::B64, 0x2C, r.num(), Rm::Reg(x.num()));
    }

    // ---- control ----

    /// `jmp label` (rel32)
    pub fn jmp(&mut self, label: DynamicLabel) {
        x64!(self.ops; jmp =>label);
    }

    /// `jcc label` (rel32)
    pub fn jcc(&mut self, cond: Cond, label: DynamicLabel) {
        match cond {
            Cond::O => x64!(self.ops; jo =>label),
            Cond::No => x64!(self.ops; jno =>label),
            Cond::B => x64!(self.ops; jb =>label),
            Cond::Ae => x64!(self.ops; jae =>label),
            Cond::E => x64!(self.ops; je =>label),
            Cond::Ne => x64!(self.ops; jne =>label),
            Cond::Be => x64!(self.ops; jbe =>label),
            Cond::A => x64!(self.ops; ja =>label),
            Cond::S => x64!(self.ops; js =>label),
            Cond::Ns => x64!(self.ops; jns =>label),
            Cond::P => x64!(self.ops; jp =>label),
            Cond::Np => x64!(self.ops; jnp =>label),
            Cond::L => x64!(self.ops; jl =>label),
            Cond::Ge => x64!(self.ops; jge =>label),
            Cond::Le => x64!(self.ops; jle =>label),
            Cond::G => x64!(self.ops; jg =>label),
        }
    }

    /// `call qword [m]`
    pub fn call_mem(&mut self, m: Mem) {
        self.op(None, Size::B32, &[0xFF], 2, Rm::Mem(m));
    }

    /// `call rel32` to be patched once the code is placed (the
    /// displacement is 0 until then), after one `nop` of 0-3 bytes so
    /// that the displacement is 4-byte aligned: one aligned 4-byte store
    /// retargets it atomically while other threads run the code. Gives the
    /// displacement's offset.
    pub fn call_patchable(&mut self) -> u32 {
        let nop: &[u8] = match (self.offset() + 1) % 4 {
            0 => &[],
            1 => &[0x0F, 0x1F, 0x00],
            2 => &[0x66, 0x90],
            _ => &[0x90],
        };
        self.ops.extend(nop.iter().copied());
        self.ops.push(0xE8);
        let operand = self.offset() as u32;
        self.ops.extend([0u8; 4]);
        operand
    }

    /// `call r`
    pub fn call_reg(&mut self, r: Gpr) {
        self.op(None, Size::B32, &[0xFF], 2, Rm::Reg(r.num()));
    }

    /// `jmp r`
    pub fn jmp_reg(&mut self, r: Gpr) {
        self.op(None, Size::B32, &[0xFF], 4, Rm::Reg(r.num()));
    }

    /// `ret`
    pub fn ret(&mut self) {
        self.ops.push(0xC3);
    }

    /// `int3`
    pub fn int3(&mut self) {
        self.ops.push(0xCC);
    }

    /// Pads with no-ops (the multi-byte `nop` forms, longest first) to the
    /// next multiple of `align` bytes from the start of the code.
    pub fn align(&mut self, align: usize) {
        /// `nop` of 1 to 9 bytes, as the Intel and AMD manuals give them.
        const NOPS: [&[u8]; 9] = [
            &[0x90],
            &[0x66, 0x90],
            &[0x0F, 0x1F, 0x00],
            &[0x0F, 0x1F, 0x40, 0x00],
            &[0x0F, 0x1F, 0x44, 0x00, 0x00],
            &[0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
            &[0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
            &[0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        let mut pad = self.offset().next_multiple_of(align.max(1)) - self.offset();
        while pad > 0 {
            let n = pad.min(NOPS.len());
            self.ops.extend(NOPS[n - 1].iter().copied());
            pad -= n;
        }
    }
}
