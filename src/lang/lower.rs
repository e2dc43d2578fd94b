//! Lowering: the checked syntax tree to bytecode, through the builder.
//!
//! Needs a program the checker accepted (every type, name and callee
//! resolved). Registers are allocated as a stack: locals stay allocated
//! until their block ends, temporaries until their statement ends, and a
//! call's argument window is always the top of the stack, so the callee's
//! frame (which starts at the window) overlaps nothing live. An expression
//! lowered into a destination register writes it only after reading every
//! operand, so `x = f(x) + x` may target `x` directly.
//!
//! Conditions of `if`, `while` and `&&`/`||` compile to fused
//! compare-and-branch instructions; loops test their condition at the
//! bottom, so each iteration runs one branch.

use super::ast::*;
use super::diag::Diagnostic;
use std::collections::HashMap;
use tierjit_tiers::bytecode::builder::{FunctionBuilder, Label};
use tierjit_tiers::bytecode::{FuncId, HostId, Instr, Module, Reg};

/// Lowers a checked program. The only error is a function too large for
/// the bytecode format (more than 65535 registers).
pub fn lower(program: &Program) -> Result<Module, Diagnostic> {
    let mut strings = StringTable::default();
    let mut funcs = Vec::with_capacity(program.funcs.len());
    for decl in &program.funcs {
        funcs.push(FnLowerer::lower(decl, &mut strings)?);
    }
    Ok(Module {
        funcs,
        strings: strings.list,
        hosts: Vec::new(),
    })
}

#[derive(Default)]
struct StringTable {
    list: Vec<String>,
    index: HashMap<String, u32>,
}

impl StringTable {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        self.list.push(s.to_string());
        let i = self.list.len() as u32 - 1;
        self.index.insert(s.to_string(), i);
        i
    }
}

struct LoopLabels {
    break_to: Label,
    continue_to: Label,
}

struct FnLowerer<'a> {
    b: FunctionBuilder,
    strings: &'a mut StringTable,
    /// Register of each local, once its declaration has been lowered.
    local_regs: Vec<Reg>,
    /// Next free register.
    top: usize,
    loops: Vec<LoopLabels>,
    /// How many loops enclose the code being lowered.
    loop_depth: u32,
    /// Constants kept in registers for the whole function (loaded once at
    /// entry) because loops use them as operands.
    hoisted: Vec<(ConstValue, Reg)>,
    /// Constants that loops used as operands (the first pass collects them).
    wanted: Vec<ConstValue>,
}

/// The most constants one function keeps in registers.
const MAX_HOISTED: usize = 64;

/// Same constant, same type: compares floats by bits (so -0.0 is not 0.0).
fn same_constant(a: ConstValue, b: ConstValue) -> bool {
    match (a, b) {
        (ConstValue::Int(x), ConstValue::Int(y)) => x == y,
        (ConstValue::Float(x), ConstValue::Float(y)) => x.to_bits() == y.to_bits(),
        (ConstValue::Bool(x), ConstValue::Bool(y)) => x == y,
        _ => false,
    }
}

impl<'a> FnLowerer<'a> {
    /// Lowers `decl` twice: the first pass finds the constants that loops
    /// use as operands, the second keeps those in registers loaded once at
    /// entry, so loops do not reload them every iteration.
    fn lower(
        decl: &FnDecl,
        strings: &'a mut StringTable,
    ) -> Result<tierjit_tiers::bytecode::Function, Diagnostic> {
        let mut first = FnLowerer::new(decl, strings, Vec::new());
        first.block(&decl.body);
        let mut wanted = std::mem::take(&mut first.wanted);
        let strings = first.strings;
        wanted.truncate(MAX_HOISTED);
        let mut this = FnLowerer::new(decl, strings, wanted);
        this.block(&decl.body);
        if decl.ret.is_none() || this.b.can_fall_through() {
            // A function without a return type returns at its end; jumps to
            // the end of a body (`if c { return; }`) land here too.
            this.b.emit(Instr::ReturnVoid {});
        }
        this.b.finish().map_err(|too_large| {
            Diagnostic::new(
                decl.pos,
                format!("function '{}' needs too many {}", decl.name, too_large.0),
            )
        })
    }

    fn new(decl: &FnDecl, strings: &'a mut StringTable, hoist: Vec<ConstValue>) -> FnLowerer<'a> {
        let params: Vec<_> = decl.params.iter().map(|p| p.ty).collect();
        let mut this = FnLowerer {
            b: FunctionBuilder::new(&decl.name, params, decl.ret),
            strings,
            local_regs: vec![Reg(0); decl.locals.len()],
            top: decl.params.len(),
            loops: Vec::new(),
            loop_depth: 0,
            hoisted: Vec::new(),
            wanted: Vec::new(),
        };
        for i in 0..decl.params.len() {
            this.local_regs[i] = Reg(i as u16);
        }
        this.b.set_line(decl.pos.line);
        for c in hoist {
            let r = this.alloc();
            this.load_const(r, c);
            this.hoisted.push((c, r));
        }
        this
    }

    fn alloc(&mut self) -> Reg {
        let r = Reg(self.top.min(u16::MAX as usize) as u16);
        self.top += 1;
        self.b.reserve_regs(self.top);
        r
    }

    fn local(&self, id: Option<LocalId>) -> Reg {
        self.local_regs[id.expect("checked").0 as usize]
    }

    // ---- statements ----

    fn block(&mut self, block: &Block) {
        let saved = self.top;
        for stmt in &block.stmts {
            self.stmt(stmt);
        }
        self.top = saved;
    }

    fn stmt(&mut self, stmt: &Stmt) {
        self.b.set_line(stmt.pos.line);
        let saved = self.top;
        match &stmt.kind {
            StmtKind::Let { init, local, .. } => {
                let r = self.alloc();
                self.expr_into(init, r);
                self.local_regs[local.expect("checked").0 as usize] = r;
                return; // the local's register stays allocated
            }
            StmtKind::Assign { value, local, .. } => {
                let r = self.local(*local);
                self.expr_into(value, r);
            }
            StmtKind::Store {
                array,
                index,
                value,
                bracket_pos,
            } => {
                let arr = self.expr(array);
                let idx = self.expr(index);
                let val = self.expr(value);
                self.b.set_line(bracket_pos.line);
                self.b.emit(match array.ty {
                    Some(Type::FloatArray) => Instr::StoreFloatElem { arr, idx, val },
                    _ => Instr::StoreIntElem { arr, idx, val },
                });
            }
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => self.if_stmt(cond, then_block, else_block.as_ref()),
            StmtKind::While { cond, body } => self.while_stmt(cond, body),
            StmtKind::For {
                lo,
                hi,
                body,
                local,
                ..
            } => self.for_stmt(stmt.pos, lo, hi, body, *local),
            StmtKind::Break => {
                let to = self.loops.last().expect("checked").break_to;
                self.b.emit_branch(Instr::Jump { target: 0 }, to);
            }
            StmtKind::Continue => {
                let to = self.loops.last().expect("checked").continue_to;
                self.b.emit_branch(Instr::Jump { target: 0 }, to);
            }
            StmtKind::Return(None) => {
                self.b.emit(Instr::ReturnVoid {});
            }
            StmtKind::Return(Some(e)) => {
                let src = self.expr(e);
                self.b.set_line(stmt.pos.line);
                self.b.emit(Instr::Return { src });
            }
            StmtKind::Expr(e) => self.expr_stmt(e),
            StmtKind::Block(b) => self.block(b),
        }
        self.top = saved;
    }

    fn if_stmt(&mut self, cond: &Expr, then_block: &Block, else_block: Option<&Block>) {
        let else_label = self.b.new_label();
        self.cond_jump(cond, else_label, false);
        self.block(then_block);
        match else_block {
            None => self.b.bind(else_label),
            Some(else_block) => {
                let end = self.b.new_label();
                if self.b.can_fall_through() {
                    self.b.emit_branch(Instr::Jump { target: 0 }, end);
                }
                self.b.bind(else_label);
                self.block(else_block);
                self.b.bind(end);
            }
        }
    }

    fn while_stmt(&mut self, cond: &Expr, body: &Block) {
        let labels = LoopLabels {
            break_to: self.b.new_label(),
            continue_to: self.b.new_label(),
        };
        let body_label = self.b.new_label();
        let (continue_to, break_to) = (labels.continue_to, labels.break_to);
        self.b.emit_branch(Instr::Jump { target: 0 }, continue_to);
        self.b.bind(body_label);
        self.loops.push(labels);
        self.loop_depth += 1;
        self.block(body);
        self.b.bind(continue_to);
        self.cond_jump(cond, body_label, true);
        self.loop_depth -= 1;
        self.loops.pop();
        self.b.bind(break_to);
    }

    fn for_stmt(&mut self, pos: Pos, lo: &Expr, hi: &Expr, body: &Block, local: Option<LocalId>) {
        let i = self.alloc();
        self.expr_into(lo, i);
        let end = self.alloc();
        self.expr_into(hi, end);
        self.local_regs[local.expect("checked").0 as usize] = i;
        let labels = LoopLabels {
            break_to: self.b.new_label(),
            continue_to: self.b.new_label(),
        };
        let (continue_to, break_to) = (labels.continue_to, labels.break_to);
        let test = self.b.new_label();
        let body_label = self.b.new_label();
        self.b.set_line(pos.line);
        self.b.emit_branch(Instr::Jump { target: 0 }, test);
        self.b.bind(body_label);
        self.loops.push(labels);
        self.loop_depth += 1;
        self.block(body);
        self.loop_depth -= 1;
        self.loops.pop();
        self.b.bind(continue_to);
        self.b.set_line(pos.line);
        // i < end held before the increment, so i + 1 cannot overflow.
        self.b.emit(Instr::AddIntImm {
            dst: i,
            a: i,
            imm: 1,
        });
        self.b.bind(test);
        self.b.emit_branch(
            Instr::JumpLtInt {
                a: i,
                b: end,
                target: 0,
            },
            body_label,
        );
        self.b.bind(break_to);
    }

    /// A call (or `spawn`) whose result is dropped.
    fn expr_stmt(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Call {
                args,
                callee: Callee::Func(f),
                ..
            } => {
                let base = self.window(args);
                self.b.set_line(e.pos.line);
                self.b.emit(Instr::CallVoid {
                    func: FuncId(*f),
                    base,
                });
            }
            ExprKind::Call { args, callee, .. } if *callee == Callee::Builtin(Builtin::Print) => {
                self.print(e, &args[0]);
            }
            ExprKind::Call {
                args,
                callee: Callee::Host(h),
                ..
            } => {
                let base = self.window(args);
                self.b.set_line(e.pos.line);
                self.b.emit(Instr::CallHostVoid {
                    host: HostId(*h),
                    base,
                });
            }
            _ => {
                // A builtin or spawn: evaluate for its effects (and traps).
                let r = self.alloc();
                self.expr_into(e, r);
            }
        }
    }

    // ---- expressions ----

    /// Evaluates `args` into a fresh window at the top of the register stack.
    fn window(&mut self, args: &[Expr]) -> Reg {
        let base = self.top;
        for _ in args {
            self.alloc();
        }
        for (i, arg) in args.iter().enumerate() {
            self.expr_into(arg, Reg((base + i) as u16));
        }
        Reg(base.min(u16::MAX as usize) as u16)
    }

    /// A register holding the value of `e`: a local's own register, or a
    /// new temporary.
    fn expr(&mut self, e: &Expr) -> Reg {
        if self.loop_depth > 0 {
            if let Some(c) = Self::constant_of(e) {
                if let Some(&(_, r)) = self.hoisted.iter().find(|(h, _)| same_constant(*h, c)) {
                    return r;
                }
                if !self.wanted.iter().any(|&w| same_constant(w, c)) {
                    self.wanted.push(c);
                }
            }
        }
        if let ExprKind::Var {
            var: VarRef::Local(id),
            ..
        } = e.kind
        {
            return self.local_regs[id.0 as usize];
        }
        if let ExprKind::Call {
            args,
            callee: Callee::Func(f),
            ..
        } = &e.kind
        {
            // The result can land in the window's first register.
            let base = self.window(args);
            if args.is_empty() {
                self.alloc();
            }
            self.b.set_line(e.pos.line);
            self.b.emit(Instr::Call {
                dst: base,
                func: FuncId(*f),
                base,
            });
            self.top = base.0 as usize + 1;
            return base;
        }
        let r = self.alloc();
        self.expr_into(e, r);
        r
    }

    /// Evaluates `e` into `dst`, writing `dst` only after every operand is read.
    fn expr_into(&mut self, e: &Expr, dst: Reg) {
        let saved = self.top;
        match &e.kind {
            ExprKind::Int(v) => self.b.load_int(dst, *v),
            ExprKind::Float(v) => self.b.load_float(dst, *v),
            ExprKind::Bool(v) => {
                self.b.emit(Instr::LoadBool {
                    dst,
                    imm: *v as i32,
                });
            }
            ExprKind::Str(_) => unreachable!("the checker allows strings only in print"),
            ExprKind::Var { var, .. } => match *var {
                VarRef::Local(id) => {
                    let src = self.local_regs[id.0 as usize];
                    if src != dst {
                        self.b.emit(Instr::Mov { dst, src });
                    }
                }
                VarRef::Const(c) => self.load_const(dst, c),
                VarRef::Unresolved => unreachable!("checked"),
            },
            ExprKind::Unary { op, operand } => self.unary(e, *op, operand, dst),
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, *op, lhs, rhs, dst),
            ExprKind::Call { args, callee, .. } => match *callee {
                Callee::Func(f) => {
                    let base = self.window(args);
                    self.b.set_line(e.pos.line);
                    self.b.emit(Instr::Call {
                        dst,
                        func: FuncId(f),
                        base,
                    });
                }
                Callee::Builtin(b) => self.builtin(e, b, args, dst),
                Callee::Host(h) => {
                    let base = self.window(args);
                    self.b.set_line(e.pos.line);
                    self.b.emit(Instr::CallHost {
                        dst,
                        host: HostId(h),
                        base,
                    });
                }
                Callee::Unresolved => unreachable!("checked"),
            },
            ExprKind::Spawn { args, func, .. } => {
                let base = self.window(args);
                self.b.set_line(e.pos.line);
                self.b.emit(Instr::Spawn {
                    dst,
                    func: FuncId(func.expect("checked")),
                    base,
                });
            }
            ExprKind::Index { array, index } => {
                let arr = self.expr(array);
                let idx = self.expr(index);
                self.b.set_line(e.pos.line);
                self.b.emit(match array.ty {
                    Some(Type::FloatArray) => Instr::LoadFloatElem { dst, arr, idx },
                    _ => Instr::LoadIntElem { dst, arr, idx },
                });
            }
            ExprKind::NewArray { init, len } => {
                let init_reg = self.expr(init);
                let len_reg = self.expr(len);
                self.b.set_line(e.pos.line);
                self.b.emit(match init.ty {
                    Some(Type::Float) => Instr::NewFloatArray {
                        dst,
                        init: init_reg,
                        len: len_reg,
                    },
                    _ => Instr::NewIntArray {
                        dst,
                        init: init_reg,
                        len: len_reg,
                    },
                });
            }
        }
        self.top = saved;
    }

    fn load_const(&mut self, dst: Reg, c: ConstValue) {
        match c {
            ConstValue::Int(v) => self.b.load_int(dst, v),
            ConstValue::Float(v) => self.b.load_float(dst, v),
            ConstValue::Bool(v) => {
                self.b.emit(Instr::LoadBool { dst, imm: v as i32 });
            }
        }
    }

    /// The value of `e` if it is a literal or a constant.
    fn constant_of(e: &Expr) -> Option<ConstValue> {
        match &e.kind {
            ExprKind::Int(v) => Some(ConstValue::Int(*v)),
            ExprKind::Float(v) => Some(ConstValue::Float(*v)),
            ExprKind::Bool(v) => Some(ConstValue::Bool(*v)),
            ExprKind::Var {
                var: VarRef::Const(c),
                ..
            } => Some(*c),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => match Self::constant_of(operand)? {
                ConstValue::Int(v) => Some(ConstValue::Int(v.wrapping_neg())),
                ConstValue::Float(v) => Some(ConstValue::Float(-v)),
                ConstValue::Bool(_) => None,
            },
            _ => None,
        }
    }

    fn unary(&mut self, e: &Expr, op: UnaryOp, operand: &Expr, dst: Reg) {
        if op == UnaryOp::Neg {
            if let Some(c) = Self::constant_of(e) {
                return self.load_const(dst, c);
            }
        }
        if op == UnaryOp::Not {
            return self.bool_value(e, dst);
        }
        let a = self.expr(operand);
        self.b.set_line(e.pos.line);
        self.b.emit(match (op, operand.ty) {
            (UnaryOp::Neg, Some(Type::Float)) => Instr::NegFloat { dst, a },
            (UnaryOp::Neg, _) => Instr::NegInt { dst, a },
            (_, _) => Instr::NotInt { dst, a },
        });
    }

    fn binary(&mut self, e: &Expr, op: BinaryOp, lhs: &Expr, rhs: &Expr, dst: Reg) {
        use BinaryOp::*;
        if matches!(op, And | Or) || (op.is_comparison() && lhs.ty == Some(Type::Bool)) {
            return self.bool_value(e, dst);
        }
        let float = lhs.ty == Some(Type::Float);
        // `x + c` and `x - c` with a small constant c use the immediate form.
        if !float && matches!(op, Add | Sub) {
            if let Some(ConstValue::Int(c)) = Self::constant_of(rhs) {
                let imm = if op == Add { Some(c) } else { c.checked_neg() };
                if let Some(imm) = imm.and_then(|v| i32::try_from(v).ok()) {
                    let a = self.expr(lhs);
                    self.b.set_line(e.pos.line);
                    self.b.emit(Instr::AddIntImm { dst, a, imm });
                    return;
                }
            }
        }
        let a = self.expr(lhs);
        let b = self.expr(rhs);
        self.b.set_line(e.pos.line);
        let instr = match (op, float) {
            (Add, false) => Instr::AddInt { dst, a, b },
            (Sub, false) => Instr::SubInt { dst, a, b },
            (Mul, false) => Instr::MulInt { dst, a, b },
            (Div, false) => Instr::DivInt { dst, a, b },
            (Rem, _) => Instr::RemInt { dst, a, b },
            (Add, true) => Instr::AddFloat { dst, a, b },
            (Sub, true) => Instr::SubFloat { dst, a, b },
            (Mul, true) => Instr::MulFloat { dst, a, b },
            (Div, true) => Instr::DivFloat { dst, a, b },
            (BitAnd, _) => Instr::AndInt { dst, a, b },
            (BitOr, _) => Instr::OrInt { dst, a, b },
            (BitXor, _) => Instr::XorInt { dst, a, b },
            (Shl, _) => Instr::ShlInt { dst, a, b },
            (Shr, _) => Instr::ShrInt { dst, a, b },
            (Eq, false) => Instr::EqInt { dst, a, b },
            (Ne, false) => Instr::NeInt { dst, a, b },
            (Lt, false) => Instr::LtInt { dst, a, b },
            (Le, false) => Instr::LeInt { dst, a, b },
            (Gt, false) => Instr::LtInt { dst, a: b, b: a },
            (Ge, false) => Instr::LeInt { dst, a: b, b: a },
            (Eq, true) => Instr::EqFloat { dst, a, b },
            (Ne, true) => Instr::NeFloat { dst, a, b },
            (Lt, true) => Instr::LtFloat { dst, a, b },
            (Le, true) => Instr::LeFloat { dst, a, b },
            (Gt, true) => Instr::LtFloat { dst, a: b, b: a },
            (Ge, true) => Instr::LeFloat { dst, a: b, b: a },
            (And | Or, _) => unreachable!("handled above"),
        };
        self.b.emit(instr);
    }

    /// A boolean expression as a value, through branches:
    /// `dst := true; if !e goto end; ... ` written so `dst` is set last.
    fn bool_value(&mut self, e: &Expr, dst: Reg) {
        if let ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } = &e.kind
        {
            if !matches!(&operand.kind, ExprKind::Binary { .. }) {
                let a = self.expr(operand);
                self.b.set_line(e.pos.line);
                self.b.emit(Instr::NotBool { dst, a });
                return;
            }
        }
        if let ExprKind::Binary { op, lhs, rhs } = &e.kind {
            if op.is_comparison() && lhs.ty == Some(Type::Bool) {
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                self.b.set_line(e.pos.line);
                self.b.emit(match op {
                    BinaryOp::Eq => Instr::EqBool { dst, a, b },
                    BinaryOp::Ne => Instr::NeBool { dst, a, b },
                    _ => unreachable!("bools compare only with == and !="),
                });
                return;
            }
        }
        let is_false = self.b.new_label();
        let end = self.b.new_label();
        self.cond_jump(e, is_false, false);
        self.b.emit(Instr::LoadBool { dst, imm: 1 });
        self.b.emit_branch(Instr::Jump { target: 0 }, end);
        self.b.bind(is_false);
        self.b.emit(Instr::LoadBool { dst, imm: 0 });
        self.b.bind(end);
    }

    /// Jumps to `label` if `e` evaluates to `when`; falls through otherwise.
    fn cond_jump(&mut self, e: &Expr, label: Label, when: bool) {
        let saved = self.top;
        match &e.kind {
            ExprKind::Bool(v) => {
                if *v == when {
                    self.b.emit_branch(Instr::Jump { target: 0 }, label);
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => self.cond_jump(operand, label, !when),
            ExprKind::Binary {
                op: op @ (BinaryOp::And | BinaryOp::Or),
                lhs,
                rhs,
            } => {
                // `a && b` jumps on true only if both are; on false if either is.
                let short_circuits_on = *op == BinaryOp::Or;
                if when == short_circuits_on {
                    self.cond_jump(lhs, label, when);
                    self.cond_jump(rhs, label, when);
                } else {
                    let skip = self.b.new_label();
                    self.cond_jump(lhs, skip, !when);
                    self.cond_jump(rhs, label, when);
                    self.b.bind(skip);
                }
            }
            ExprKind::Binary { op, lhs, rhs }
                if op.is_comparison()
                    && lhs.ty == Some(Type::Int)
                    && Self::int_immediate(*op, lhs, rhs).is_some() =>
            {
                let (reg_side, imm, op) = Self::int_immediate(*op, lhs, rhs).expect("checked");
                let a = self.expr(reg_side);
                self.b.set_line(e.pos.line);
                self.b
                    .emit_branch(compare_imm_branch(op, a, imm, when), label);
            }
            ExprKind::Binary { op, lhs, rhs }
                if op.is_comparison() && matches!(lhs.ty, Some(Type::Int | Type::Float)) =>
            {
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                self.b.set_line(e.pos.line);
                let instr = compare_branch(*op, lhs.ty == Some(Type::Float), a, b, when);
                self.b.emit_branch(instr, label);
            }
            _ => {
                let cond = self.expr(e);
                let instr = if when {
                    Instr::JumpIfTrue { cond, target: 0 }
                } else {
                    Instr::JumpIfFalse { cond, target: 0 }
                };
                self.b.emit_branch(instr, label);
            }
        }
        self.top = saved;
    }

    /// For an int comparison with a constant side that fits in 32 bits:
    /// the other side, the constant, and the operator as seen with the
    /// constant on the right. Constants have no effects, so evaluating the
    /// other side first keeps the order of everything observable.
    fn int_immediate<'e>(
        op: BinaryOp,
        lhs: &'e Expr,
        rhs: &'e Expr,
    ) -> Option<(&'e Expr, i32, BinaryOp)> {
        let imm = |e: &Expr| match Self::constant_of(e) {
            Some(ConstValue::Int(v)) => i32::try_from(v).ok(),
            _ => None,
        };
        if let Some(c) = imm(rhs) {
            return Some((lhs, c, op));
        }
        let swapped = match op {
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::Le => BinaryOp::Ge,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::Ge => BinaryOp::Le,
            other => other,
        };
        imm(lhs).map(|c| (rhs, c, swapped))
    }

    fn print(&mut self, e: &Expr, arg: &Expr) {
        if let ExprKind::Str(s) = &arg.kind {
            let s = self.strings.intern(s);
            self.b.set_line(e.pos.line);
            self.b.emit(Instr::PrintStr { s });
            return;
        }
        let src = self.expr(arg);
        self.b.set_line(e.pos.line);
        self.b.emit(match arg.ty {
            Some(Type::Float) => Instr::PrintFloat { src },
            Some(Type::Bool) => Instr::PrintBool { src },
            _ => Instr::PrintInt { src },
        });
    }

    fn builtin(&mut self, e: &Expr, builtin: Builtin, args: &[Expr], dst: Reg) {
        let float = args.first().is_some_and(|a| a.ty == Some(Type::Float));
        let regs: Vec<Reg> = args.iter().map(|a| self.expr(a)).collect();
        let r = |i: usize| regs[i];
        self.b.set_line(e.pos.line);
        let instr = match builtin {
            Builtin::Print => unreachable!("print is a statement"),
            Builtin::Float => Instr::IntToFloat { dst, a: r(0) },
            Builtin::Int => Instr::FloatToInt { dst, a: r(0) },
            Builtin::Sqrt => Instr::SqrtFloat { dst, a: r(0) },
            Builtin::Abs if float => Instr::AbsFloat { dst, a: r(0) },
            Builtin::Abs => Instr::AbsInt { dst, a: r(0) },
            Builtin::Min if float => Instr::MinFloat {
                dst,
                a: r(0),
                b: r(1),
            },
            Builtin::Min => Instr::MinInt {
                dst,
                a: r(0),
                b: r(1),
            },
            Builtin::Max if float => Instr::MaxFloat {
                dst,
                a: r(0),
                b: r(1),
            },
            Builtin::Max => Instr::MaxInt {
                dst,
                a: r(0),
                b: r(1),
            },
            Builtin::Len => Instr::ArrayLen { dst, arr: r(0) },
            Builtin::Arg => Instr::Arg { dst, idx: r(0) },
            Builtin::Argc => Instr::Argc { dst },
            Builtin::NowNs => Instr::NowNs { dst },
            Builtin::Join => Instr::Join { dst, handle: r(0) },
            Builtin::AtomicAdd => Instr::AtomicAdd {
                dst,
                arr: r(0),
                idx: r(1),
                val: r(2),
            },
        };
        self.b.emit(instr);
    }
}

/// The fused branch that jumps when `a OP b` equals `when`.
fn compare_branch(op: BinaryOp, float: bool, a: Reg, b: Reg, when: bool) -> Instr {
    use BinaryOp::*;
    let t = 0;
    if !float {
        // For ints, !(a < b) is b <= a: every case is one of four branches.
        return match (op, when) {
            (Eq, true) | (Ne, false) => Instr::JumpEqInt { a, b, target: t },
            (Ne, true) | (Eq, false) => Instr::JumpNeInt { a, b, target: t },
            (Lt, true) => Instr::JumpLtInt { a, b, target: t },
            (Lt, false) => Instr::JumpLeInt {
                a: b,
                b: a,
                target: t,
            },
            (Le, true) => Instr::JumpLeInt { a, b, target: t },
            (Le, false) => Instr::JumpLtInt {
                a: b,
                b: a,
                target: t,
            },
            (Gt, true) => Instr::JumpLtInt {
                a: b,
                b: a,
                target: t,
            },
            (Gt, false) => Instr::JumpLeInt { a, b, target: t },
            (Ge, true) => Instr::JumpLeInt {
                a: b,
                b: a,
                target: t,
            },
            (Ge, false) => Instr::JumpLtInt { a, b, target: t },
            _ => unreachable!("not a comparison"),
        };
    }
    // For floats, NaN makes !(a < b) differ from b <= a: negations have
    // their own branches.
    match (op, when) {
        (Eq, true) | (Ne, false) => Instr::JumpEqFloat { a, b, target: t },
        (Ne, true) | (Eq, false) => Instr::JumpNeFloat { a, b, target: t },
        (Lt, true) => Instr::JumpLtFloat { a, b, target: t },
        (Lt, false) => Instr::JumpNotLtFloat { a, b, target: t },
        (Le, true) => Instr::JumpLeFloat { a, b, target: t },
        (Le, false) => Instr::JumpNotLeFloat { a, b, target: t },
        (Gt, true) => Instr::JumpLtFloat {
            a: b,
            b: a,
            target: t,
        },
        (Gt, false) => Instr::JumpNotLtFloat {
            a: b,
            b: a,
            target: t,
        },
        (Ge, true) => Instr::JumpLeFloat {
            a: b,
            b: a,
            target: t,
        },
        (Ge, false) => Instr::JumpNotLeFloat {
            a: b,
            b: a,
            target: t,
        },
        _ => unreachable!("not a comparison"),
    }
}

/// The branch that jumps when `R[a] OP imm` equals `when`.
fn compare_imm_branch(op: BinaryOp, a: Reg, imm: i32, when: bool) -> Instr {
    use BinaryOp::*;
    let t = 0;
    match (op, when) {
        (Eq, true) | (Ne, false) => Instr::JumpEqIntImm { a, imm, target: t },
        (Ne, true) | (Eq, false) => Instr::JumpNeIntImm { a, imm, target: t },
        (Lt, true) | (Ge, false) => Instr::JumpLtIntImm { a, imm, target: t },
        (Le, true) | (Gt, false) => Instr::JumpLeIntImm { a, imm, target: t },
        (Gt, true) | (Le, false) => Instr::JumpGtIntImm { a, imm, target: t },
        (Ge, true) | (Lt, false) => Instr::JumpGeIntImm { a, imm, target: t },
        _ => unreachable!("not a comparison"),
    }
}
