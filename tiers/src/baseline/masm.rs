//! The baseline tier's macro-assembler: the only place that writes x86-64.
//!
//! Every method emits the machine code for one operation on frame
//! registers, which live in memory at `[rbx + 8*r]`; nothing stays in a
//! machine register between two bytecode instructions. Scratch registers
//! are `rax`, `rcx`, `rdx`, `rsi`, `rdi`, `r8` and `xmm0`/`xmm1`; `r15` is
//! the context and `rbx` the frame (see `abi.rs`). All code is position
//! independent: jumps are relative, the only address taken is rip-relative.

use crate::abi::{self, Helper};
use crate::bytecode::Reg;
use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};

macro_rules! asm {
    ($ops:expr; $($t:tt)*) => {
        dynasm!($ops
            ; .arch x64
            ; .alias ctx, r15
            ; .alias frame, rbx
            ; $($t)*
        )
    };
}

/// Bytes the prologue pushes below the return address (`rbp`, `rbx`,
/// `r15`): [`crate::code::CompiledCode::frame_size`].
pub const FRAME_SIZE: u32 = 24;

/// Byte offset of register `r` in the frame.
fn slot(r: Reg) -> i32 {
    8 * r.0 as i32
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
    ops: VecAssembler<X64Relocation>,
    cached: Cached,
}

impl Masm {
    /// An empty assembler; code is assembled for address 0 and is position
    /// independent. `expected_bytes` presizes the buffer.
    pub fn with_capacity(expected_bytes: usize) -> Masm {
        Masm {
            ops: VecAssembler::new_with_capacity(0, expected_bytes, 0, 0, 64, 0, 64),
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
            asm!(self.ops; mov rax, QWORD [frame + slot(r)]);
        }
    }

    fn load_xmm0(&mut self, r: Reg) {
        if self.cached != Cached::Xmm0(r) {
            asm!(self.ops; movsd xmm0, QWORD [frame + slot(r)]);
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
        asm!(self.ops; =>label);
    }

    /// The finished code, or an error if a jump did not fit.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        self.ops.finalize().map_err(|e| format!("{e:?}"))
    }

    // ---- frame, calls, helpers ----

    /// `push rbp; mov rbp, rsp; push rbx; push r15`, loads the context and
    /// frame registers, then checks the frame-depth, native-stack and
    /// register-stack limits (any failing one jumps to `overflow`) and
    /// counts the frame.
    pub fn prologue(&mut self, num_regs: u16, overflow: DynamicLabel) {
        asm!(self.ops
            ; push rbp
            ; mov rbp, rsp
            ; push rbx
            ; push r15
            ; mov ctx, rdi
            ; mov frame, rsi
            ; mov rax, QWORD [ctx + abi::CTX_DEPTH]
            ; cmp rax, QWORD [ctx + abi::CTX_MAX_DEPTH]
            ; jae =>overflow
            ; cmp rsp, QWORD [ctx + abi::CTX_STACK_LIMIT]
            ; jb =>overflow
            ; lea rax, [frame + 8 * num_regs as i32]
            ; cmp rax, QWORD [ctx + abi::CTX_REGS_END]
            ; ja =>overflow
            ; add QWORD [ctx + abi::CTX_DEPTH], 1
        );
    }

    /// Returns `rax` to the caller, uncounting the frame.
    pub fn epilogue(&mut self) {
        asm!(self.ops
            ; sub QWORD [ctx + abi::CTX_DEPTH], 1
            ; pop r15
            ; pop rbx
            ; pop rbp
            ; ret
        );
    }

    /// Returns 0 from a function whose prologue failed (frame not counted).
    pub fn epilogue_uncounted(&mut self) {
        asm!(self.ops
            ; xor eax, eax
            ; pop r15
            ; pop rbx
            ; pop rbp
            ; ret
        );
    }

    /// Jumps to `stop` if the interrupt flag is raised.
    pub fn poll(&mut self, stop: DynamicLabel) {
        asm!(self.ops
            ; mov rax, QWORD [ctx + abi::CTX_INTERRUPT]
            ; cmp BYTE [rax], 0
            ; jne =>stop
        );
    }

    /// Calls function `func` through its method-table slot with its window
    /// at `base`; jumps to `unwind` if it left a runtime error pending;
    /// the result is in `rax`.
    pub fn call(&mut self, func: u32, base: Reg, unwind: DynamicLabel) {
        let after = self.label();
        asm!(self.ops
            ; mov rdi, ctx
            ; lea rsi, [frame + slot(base)]
            ; mov edx, func as i32
            ; lea rcx, [=>after]
            ; mov r8, rbp
            ; mov rax, QWORD [ctx + abi::CTX_METHODS]
            ; call QWORD [rax + rdx * 8]
            ; =>after
            ; cmp QWORD [ctx + abi::CTX_PENDING], 0
            ; jne =>unwind
        );
    }

    /// Calls a helper with the context in `rdi` and whatever arguments the
    /// caller put in `rsi`, `rdx`, ...
    ///
    /// While the helper runs, the context names this call site and frame
    /// (stack walkers cannot walk through the helper's Rust frames).
    pub fn call_helper(&mut self, helper: Helper) {
        let after = self.label();
        asm!(self.ops
            ; lea rax, [=>after]
            ; mov QWORD [ctx + abi::CTX_HELPER_PC], rax
            ; mov QWORD [ctx + abi::CTX_HELPER_FP], rbp
            ; mov rdi, ctx
            ; mov rax, QWORD [ctx + abi::CTX_HELPERS]
            ; call QWORD [rax + 8 * helper as i32]
            ; =>after
            ; mov QWORD [ctx + abi::CTX_HELPER_PC], 0
        );
    }

    /// Jumps to `stub` if a fallible helper returned a trap code in `rdx`.
    pub fn check_helper_trap(&mut self, stub: DynamicLabel) {
        asm!(self.ops
            ; test rdx, rdx
            ; jnz =>stub
        );
    }

    /// A trap stub: calls the trap helper with a fixed code, then unwinds.
    pub fn trap_stub(&mut self, code: u32, func: u32, pc: u32, unwind: DynamicLabel) {
        asm!(self.ops
            ; mov esi, code as i32
            ; mov edx, func as i32
            ; mov ecx, pc as i32
            ; mov r8, rbp
        );
        self.call_helper(Helper::Trap);
        asm!(self.ops; jmp =>unwind);
    }

    /// Calls the trap helper for an error that belongs to the caller of
    /// this (uncounted) frame; falls through.
    pub fn trap_stub_without_frame(&mut self, code: u32) {
        asm!(self.ops
            ; mov esi, code as i32
            ; mov edx, -1
            ; xor ecx, ecx
            ; mov r8, rbp
        );
        self.call_helper(Helper::Trap);
    }

    /// A trap stub for a helper's failure: the code is in `rdx`.
    pub fn helper_trap_stub(&mut self, func: u32, pc: u32, unwind: DynamicLabel) {
        asm!(self.ops
            ; mov esi, edx
            ; mov edx, func as i32
            ; mov ecx, pc as i32
            ; mov r8, rbp
        );
        self.call_helper(Helper::Trap);
        asm!(self.ops; jmp =>unwind);
    }

    // ---- moves ----

    /// `rsi := R[r]`
    pub fn load_arg1(&mut self, r: Reg) {
        asm!(self.ops; mov rsi, QWORD [frame + slot(r)]);
    }

    /// `rdx := R[r]`
    pub fn load_arg2(&mut self, r: Reg) {
        asm!(self.ops; mov rdx, QWORD [frame + slot(r)]);
    }

    /// `esi := imm`
    pub fn load_arg1_imm(&mut self, imm: u32) {
        asm!(self.ops; mov esi, imm as i32);
    }

    /// `rdx := &R[r]`
    pub fn load_arg2_addr(&mut self, r: Reg) {
        asm!(self.ops; lea rdx, [frame + slot(r)]);
    }

    /// `R[d] := rax`
    pub fn store_result(&mut self, d: Reg) {
        asm!(self.ops; mov QWORD [frame + slot(d)], rax);
    }

    /// `R[d] := R[s]` (keeps track of what it leaves in registers)
    pub fn mov(&mut self, d: Reg, s: Reg) {
        if self.cached == Cached::Xmm0(s) {
            asm!(self.ops; movsd QWORD [frame + slot(d)], xmm0);
            self.cached = Cached::Xmm0(d);
        } else {
            self.load_rax(s);
            asm!(self.ops; mov QWORD [frame + slot(d)], rax);
            self.cached = Cached::Rax(d);
        }
    }

    /// `R[d] := bits`
    pub fn load_bits(&mut self, d: Reg, bits: u64) {
        match i32::try_from(bits as i64) {
            Ok(imm) => asm!(self.ops; mov QWORD [frame + slot(d)], imm),
            Err(_) => asm!(self.ops
                ; mov rax, QWORD bits as i64
                ; mov QWORD [frame + slot(d)], rax
            ),
        }
    }

    /// `rax := R[r]` (the return value)
    pub fn load_return(&mut self, r: Reg) {
        asm!(self.ops; mov rax, QWORD [frame + slot(r)]);
    }

    /// `jmp label`
    pub fn jump(&mut self, label: DynamicLabel) {
        asm!(self.ops; jmp =>label);
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
            IntOp::Add => asm!(self.ops; add rax, QWORD [frame + b]),
            IntOp::Sub => asm!(self.ops; sub rax, QWORD [frame + b]),
            IntOp::Mul => asm!(self.ops; imul rax, QWORD [frame + b]),
            IntOp::And => asm!(self.ops; and rax, QWORD [frame + b]),
            IntOp::Or => asm!(self.ops; or rax, QWORD [frame + b]),
            IntOp::Xor => asm!(self.ops; xor rax, QWORD [frame + b]),
        }
        self.store_result(d);
        self.cached = Cached::Rax(d);
    }

    /// `R[d] := R[a] + imm`, wrapping.
    pub fn add_imm(&mut self, d: Reg, a: Reg, imm: i32) {
        if d == a {
            asm!(self.ops; add QWORD [frame + slot(d)], imm);
        } else {
            asm!(self.ops
                ; mov rax, QWORD [frame + slot(a)]
                ; add rax, imm
                ; mov QWORD [frame + slot(d)], rax
            );
        }
    }

    /// `R[d] := R[a] / R[b]` (or `%` if `rem`), jumping to `div_zero` when
    /// `R[b] = 0`; `MIN / -1 = MIN` and `MIN % -1 = 0` without trapping.
    pub fn div(&mut self, rem: bool, d: Reg, a: Reg, b: Reg, div_zero: DynamicLabel) {
        asm!(self.ops
            ; mov rcx, QWORD [frame + slot(b)]
            ; test rcx, rcx
            ; jz =>div_zero
            ; mov rax, QWORD [frame + slot(a)]
            ; cmp rcx, -1
            ; jne >divide
            // x / -1 is -x (wrapping), x % -1 is 0: idiv would fault on MIN.
            ; neg rax
            ; xor edx, edx
            ; jmp >done
            ; divide:
            ; cqo
            ; idiv rcx
            ; done:
        );
        if rem {
            asm!(self.ops; mov QWORD [frame + slot(d)], rdx);
        } else {
            self.store_result(d);
        }
    }

    /// `R[d] := R[a] << (R[b] mod 64)` or `>>` (arithmetic) if `right`.
    pub fn shift(&mut self, right: bool, d: Reg, a: Reg, b: Reg) {
        asm!(self.ops
            ; mov rcx, QWORD [frame + slot(b)]
            ; mov rax, QWORD [frame + slot(a)]
        );
        if right {
            asm!(self.ops; sar rax, cl);
        } else {
            asm!(self.ops; shl rax, cl);
        }
        self.store_result(d);
    }

    /// `R[d] := -R[a]`, `!R[a]` (bitwise) or `|R[a]|`, wrapping.
    pub fn int_unary(&mut self, op: IntUnary, d: Reg, a: Reg) {
        asm!(self.ops; mov rax, QWORD [frame + slot(a)]);
        match op {
            IntUnary::Neg => asm!(self.ops; neg rax),
            IntUnary::Not => asm!(self.ops; not rax),
            IntUnary::Abs => asm!(self.ops
                ; mov rcx, rax
                ; sar rcx, 63
                ; xor rax, rcx
                ; sub rax, rcx
            ),
            IntUnary::FlipSign => asm!(self.ops; btc rax, 63),
            IntUnary::ClearSign => asm!(self.ops; btr rax, 63),
            IntUnary::NotBool => asm!(self.ops; xor eax, 1),
        }
        self.store_result(d);
    }

    /// `R[d] := min(R[a], R[b])` or max.
    pub fn int_min_max(&mut self, max: bool, d: Reg, a: Reg, b: Reg) {
        asm!(self.ops
            ; mov rax, QWORD [frame + slot(a)]
            ; mov rcx, QWORD [frame + slot(b)]
            ; cmp rax, rcx
        );
        if max {
            asm!(self.ops; cmovl rax, rcx);
        } else {
            asm!(self.ops; cmovg rax, rcx);
        }
        self.store_result(d);
    }

    /// `R[d] := (R[a] cond R[b])` as 0 or 1.
    pub fn int_compare(&mut self, cond: IntCond, d: Reg, a: Reg, b: Reg) {
        asm!(self.ops
            ; mov rcx, QWORD [frame + slot(a)]
            ; xor eax, eax
            ; cmp rcx, QWORD [frame + slot(b)]
        );
        match cond {
            IntCond::Eq => asm!(self.ops; sete al),
            IntCond::Ne => asm!(self.ops; setne al),
            IntCond::Lt => asm!(self.ops; setl al),
            IntCond::Le => asm!(self.ops; setle al),
            IntCond::Gt => asm!(self.ops; setg al),
            IntCond::Ge => asm!(self.ops; setge al),
        }
        self.store_result(d);
    }

    fn jcc(&mut self, cond: IntCond, target: DynamicLabel) {
        match cond {
            IntCond::Eq => asm!(self.ops; je =>target),
            IntCond::Ne => asm!(self.ops; jne =>target),
            IntCond::Lt => asm!(self.ops; jl =>target),
            IntCond::Le => asm!(self.ops; jle =>target),
            IntCond::Gt => asm!(self.ops; jg =>target),
            IntCond::Ge => asm!(self.ops; jge =>target),
        }
    }

    /// `if R[a] cond R[b] goto target`
    pub fn branch_int(&mut self, cond: IntCond, a: Reg, b: Reg, target: DynamicLabel) {
        asm!(self.ops
            ; mov rax, QWORD [frame + slot(a)]
            ; cmp rax, QWORD [frame + slot(b)]
        );
        self.jcc(cond, target);
    }

    /// `if R[a] cond imm goto target`
    pub fn branch_int_imm(&mut self, cond: IntCond, a: Reg, imm: i32, target: DynamicLabel) {
        asm!(self.ops; cmp QWORD [frame + slot(a)], imm);
        self.jcc(cond, target);
    }

    /// `if R[c] == expect goto target` for a bool register.
    pub fn branch_bool(&mut self, c: Reg, expect: bool, target: DynamicLabel) {
        asm!(self.ops; cmp QWORD [frame + slot(c)], 0);
        if expect {
            asm!(self.ops; jne =>target);
        } else {
            asm!(self.ops; je =>target);
        }
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
        let b = slot(b);
        match op {
            FloatOp::Add => asm!(self.ops; addsd xmm0, QWORD [frame + b]),
            FloatOp::Sub => asm!(self.ops; subsd xmm0, QWORD [frame + b]),
            FloatOp::Mul => asm!(self.ops; mulsd xmm0, QWORD [frame + b]),
            FloatOp::Div => asm!(self.ops; divsd xmm0, QWORD [frame + b]),
        }
        asm!(self.ops; movsd QWORD [frame + slot(d)], xmm0);
        self.cached = Cached::Xmm0(d);
    }

    /// `R[d] := sqrt(R[a])` (keeps track of registers)
    pub fn sqrt(&mut self, d: Reg, a: Reg) {
        if self.cached == Cached::Xmm0(a) {
            asm!(self.ops; sqrtsd xmm0, xmm0);
        } else {
            asm!(self.ops; sqrtsd xmm0, QWORD [frame + slot(a)]);
        }
        asm!(self.ops; movsd QWORD [frame + slot(d)], xmm0);
        self.cached = Cached::Xmm0(d);
    }

    /// `R[d] := minimum(R[a], R[b])` or maximum, IEEE 754-2019: NaN if
    /// either is NaN; `-0.0 < 0.0`.
    pub fn float_min_max(&mut self, max: bool, d: Reg, a: Reg, b: Reg) {
        asm!(self.ops
            ; movsd xmm0, QWORD [frame + slot(a)]
            ; movsd xmm1, QWORD [frame + slot(b)]
            ; ucomisd xmm0, xmm1
            ; jp >nan
            ; jne >differ
        );
        // Equal: the values differ at most in the sign of zero; OR keeps
        // -0.0 (minimum), AND keeps 0.0 (maximum).
        if max {
            asm!(self.ops; andpd xmm0, xmm1);
        } else {
            asm!(self.ops; orpd xmm0, xmm1);
        }
        asm!(self.ops
            ; jmp >done
            ; nan:
            ; addsd xmm0, xmm1
            ; jmp >done
            ; differ:
        );
        if max {
            asm!(self.ops; maxsd xmm0, xmm1);
        } else {
            asm!(self.ops; minsd xmm0, xmm1);
        }
        asm!(self.ops
            ; done:
            ; movsd QWORD [frame + slot(d)], xmm0
        );
    }

    /// `R[d] := float(R[a])`
    pub fn int_to_float(&mut self, d: Reg, a: Reg) {
        asm!(self.ops
            ; xorps xmm0, xmm0
            ; cvtsi2sd xmm0, QWORD [frame + slot(a)]
            ; movsd QWORD [frame + slot(d)], xmm0
        );
    }

    /// `R[d] := int(R[a])`: truncating, saturating, NaN to 0 (Rust's `as`).
    pub fn float_to_int(&mut self, d: Reg, a: Reg) {
        asm!(self.ops
            ; movsd xmm0, QWORD [frame + slot(a)]
            ; cvttsd2si rax, xmm0
            ; mov rcx, QWORD i64::MIN
            ; cmp rax, rcx
            ; jne >done
            // cvttsd2si gave its "indefinite" value: NaN, out of range, or
            // exactly MIN.
            ; ucomisd xmm0, xmm0
            ; jp >nan
            ; xorpd xmm1, xmm1
            ; ucomisd xmm0, xmm1
            ; jb >done
            ; not rax
            ; jmp >done
            ; nan:
            ; xor eax, eax
            ; done:
        );
        self.store_result(d);
    }

    fn float_flags(&mut self, cond: FloatCond, a: Reg, b: Reg) {
        // For < and <= compare b with a, so "above" means a < b and NaN
        // (CF = 1) reads as false.
        match cond {
            FloatCond::Lt | FloatCond::Le | FloatCond::NotLt | FloatCond::NotLe => asm!(self.ops
                ; movsd xmm0, QWORD [frame + slot(b)]
                ; ucomisd xmm0, QWORD [frame + slot(a)]
            ),
            FloatCond::Eq | FloatCond::Ne => asm!(self.ops
                ; movsd xmm0, QWORD [frame + slot(a)]
                ; ucomisd xmm0, QWORD [frame + slot(b)]
            ),
        }
    }

    /// `R[d] := (R[a] cond R[b])` as 0 or 1.
    pub fn float_compare(&mut self, cond: FloatCond, d: Reg, a: Reg, b: Reg) {
        self.float_flags(cond, a, b);
        match cond {
            FloatCond::Lt => asm!(self.ops; seta al),
            FloatCond::Le => asm!(self.ops; setae al),
            FloatCond::NotLt => asm!(self.ops; setbe al),
            FloatCond::NotLe => asm!(self.ops; setb al),
            FloatCond::Eq => asm!(self.ops; sete al; setnp cl; and al, cl),
            FloatCond::Ne => asm!(self.ops; setne al; setp cl; or al, cl),
        }
        asm!(self.ops; movzx eax, al);
        self.store_result(d);
    }

    /// `if R[a] cond R[b] goto target`
    pub fn branch_float(&mut self, cond: FloatCond, a: Reg, b: Reg, target: DynamicLabel) {
        self.float_flags(cond, a, b);
        match cond {
            FloatCond::Lt => asm!(self.ops; ja =>target),
            FloatCond::Le => asm!(self.ops; jae =>target),
            FloatCond::NotLt => asm!(self.ops; jbe =>target),
            FloatCond::NotLe => asm!(self.ops; jb =>target),
            FloatCond::Eq => asm!(self.ops; jp >skip; je =>target; skip:),
            FloatCond::Ne => asm!(self.ops; jp =>target; jne =>target),
        }
    }

    // ---- arrays ----

    /// `R[d] := len(R[arr])`
    pub fn array_len(&mut self, d: Reg, arr: Reg) {
        asm!(self.ops
            ; mov rax, QWORD [frame + slot(arr)]
            ; mov rax, QWORD [rax]
        );
        self.store_result(d);
    }

    /// `rax := R[arr]`, `rcx := R[idx]`, jumping to `oob` unless
    /// `0 <= idx < len` (one unsigned compare).
    fn bounds_check(&mut self, arr: Reg, idx: Reg, oob: DynamicLabel) {
        asm!(self.ops
            ; mov rax, QWORD [frame + slot(arr)]
            ; mov rcx, QWORD [frame + slot(idx)]
            ; cmp rcx, QWORD [rax]
            ; jae =>oob
        );
    }

    /// `R[d] := R[arr][R[idx]]` (keeps track of registers: a float
    /// element is also left in `xmm0`)
    pub fn load_element(&mut self, d: Reg, arr: Reg, idx: Reg, float: bool, oob: DynamicLabel) {
        self.bounds_check(arr, idx, oob);
        if float {
            asm!(self.ops
                ; movsd xmm0, QWORD [rax + rcx * 8 + 8]
                ; movsd QWORD [frame + slot(d)], xmm0
            );
            self.cached = Cached::Xmm0(d);
        } else {
            asm!(self.ops; mov rax, QWORD [rax + rcx * 8 + 8]);
            self.store_result(d);
            self.cached = Cached::Rax(d);
        }
    }

    /// `R[arr][R[idx]] := R[val]`
    pub fn store_element(&mut self, arr: Reg, idx: Reg, val: Reg, oob: DynamicLabel) {
        self.bounds_check(arr, idx, oob);
        asm!(self.ops
            ; mov rdx, QWORD [frame + slot(val)]
            ; mov QWORD [rax + rcx * 8 + 8], rdx
        );
    }

    /// `R[d] := R[arr][R[idx]]; R[arr][R[idx]] += R[val]`, atomically.
    pub fn atomic_add(&mut self, d: Reg, arr: Reg, idx: Reg, val: Reg, oob: DynamicLabel) {
        self.bounds_check(arr, idx, oob);
        asm!(self.ops
            ; mov rdx, QWORD [frame + slot(val)]
            ; lock xadd QWORD [rax + rcx * 8 + 8], rdx
            ; mov QWORD [frame + slot(d)], rdx
        );
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
