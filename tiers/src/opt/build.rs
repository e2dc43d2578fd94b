//! Building SSA from verified bytecode.
//!
//! Needs: a function that passed the bytecode verifier (registers in
//! range, every read of a register finds the type the instruction wants on
//! every path). Gives: an IR [`Func`] whose blocks are the bytecode's basic
//! blocks reachable from the entry (pc 0, or a loop header for code
//! entered by on-stack replacement), with every register read replaced by
//! the SSA value that reaches it.
//!
//! The construction follows Braun et al., "Simple and Efficient
//! Construction of Static Single Assignment Form" (CC 2013), with block
//! parameters for phis: a register read in a block that does not define it
//! reads it from its single predecessor, or becomes a new block parameter
//! whose arguments are read, at the end of each predecessor, once the
//! whole body is built. Trivial parameters (every argument is the
//! parameter itself or one other value) are removed at the end.
//!
//! Register types at block entries come from the same forward dataflow the
//! verifier runs, so a parameter gets its type when it is made.
//!
//! Every loop header (a target of a backward branch) starts with a
//! [`Op::Poll`], as the interpreter polls on each backward branch.

use super::ir::{BlockCall, FloatCC, Func, IntCC, Loc, Op, Term, Value};
use crate::bytecode::{FuncId, HostId};
use crate::bytecode::{Function, Instr, Module, OperandKind, Reg};
use crate::Type;
use rustc_hash::FxHashMap as HashMap;

/// Why a function could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError(pub String);

/// Basic-block structure of a bytecode function.
struct Cfg {
    /// The first pc of each block, sorted.
    starts: Vec<u32>,
    /// The block starting at each pc (`u32::MAX` inside a block).
    block_at: Vec<u32>,
    /// Successor block indices.
    succs: Vec<Vec<usize>>,
    /// Targets of backward branches.
    loop_headers: Vec<bool>,
}

fn compute_cfg(f: &Function) -> Cfg {
    let n = f.code.len();
    let mut leader = vec![false; n];
    leader[0] = true;
    let mut loop_header = vec![false; n];
    for (pc, instr) in f.code.iter().enumerate() {
        if let Some(t) = instr.target() {
            leader[t as usize] = true;
            if t as usize <= pc {
                loop_header[t as usize] = true;
            }
        }
        if (instr.target().is_some() || is_terminator(instr)) && pc + 1 < n {
            leader[pc + 1] = true;
        }
    }
    let starts: Vec<u32> = (0..n as u32).filter(|&pc| leader[pc as usize]).collect();
    let mut block_at = vec![u32::MAX; n];
    for (i, &s) in starts.iter().enumerate() {
        block_at[s as usize] = i as u32;
    }
    let mut succs = Vec::with_capacity(starts.len());
    let mut loop_headers = Vec::with_capacity(starts.len());
    for (i, &s) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(n, |&e| e as usize);
        let last = &f.code[end - 1];
        let mut out = Vec::new();
        if let Some(t) = last.target() {
            out.push(block_at[t as usize] as usize);
        }
        if !is_terminator(last) && end < n {
            out.push(block_at[end] as usize);
        }
        succs.push(out);
        loop_headers.push(loop_header[s as usize]);
    }
    Cfg {
        starts,
        block_at,
        succs,
        loop_headers,
    }
}

fn is_terminator(i: &Instr) -> bool {
    i.effects().contains(crate::bytecode::Effects::TERMINATOR)
}

/// A register's type at a point: one type, or none that may be read
/// (never written on some path, or written with different types on
/// different paths), as the bytecode verifier sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RegType {
    Is(Type),
    Conflict,
}

impl RegType {
    fn join(self, other: RegType) -> RegType {
        match (self, other) {
            (RegType::Is(a), RegType::Is(b)) if a == b => RegType::Is(a),
            _ => RegType::Conflict,
        }
    }
}

/// The type each register holds at each block's entry (forward dataflow,
/// as in the verifier; `None` for blocks not reached). A register that is
/// not a parameter starts as `Conflict`: it holds nothing to read yet.
fn compute_entry_types(
    module: &Module,
    f: &Function,
    cfg: &Cfg,
    entry: usize,
    entry_state: Vec<RegType>,
) -> Vec<Option<Vec<RegType>>> {
    let mut state: Vec<Option<Vec<RegType>>> = vec![None; cfg.starts.len()];
    state[entry] = Some(entry_state);
    let mut work = vec![entry];
    while let Some(b) = work.pop() {
        let mut regs = state[b].clone().expect("queued blocks have a state");
        let start = cfg.starts[b] as usize;
        let end = cfg.starts.get(b + 1).map_or(f.code.len(), |&e| e as usize);
        for instr in &f.code[start..end] {
            apply_writes(module, instr, &mut regs);
        }
        for &s in &cfg.succs[b] {
            let changed = match &mut state[s] {
                None => {
                    state[s] = Some(regs.clone());
                    true
                }
                Some(old) => {
                    let mut changed = false;
                    for (o, &n) in old.iter_mut().zip(&regs) {
                        let j = o.join(n);
                        if j != *o {
                            *o = j;
                            changed = true;
                        }
                    }
                    changed
                }
            };
            if changed {
                work.push(s);
            }
        }
    }
    state
}

/// The effect of one instruction on register types.
fn apply_writes(module: &Module, instr: &Instr, regs: &mut [RegType]) {
    let mut like = RegType::Conflict;
    let mut callee_ret = None;
    instr.for_each_operand(|kind, v| match kind {
        OperandKind::RAny => like = regs[v as usize],
        OperandKind::Func => callee_ret = module.func(FuncId(v)).ret,
        OperandKind::Host => callee_ret = module.host(HostId(v)).ret,
        _ => {}
    });
    instr.for_each_operand(|kind, v| {
        let t = match kind {
            OperandKind::WInt => RegType::Is(Type::Int),
            OperandKind::WFloat => RegType::Is(Type::Float),
            OperandKind::WBool => RegType::Is(Type::Bool),
            OperandKind::WIntArray => RegType::Is(Type::IntArray),
            OperandKind::WFloatArray => RegType::Is(Type::FloatArray),
            OperandKind::WLike => like,
            OperandKind::WRet => callee_ret.map_or(RegType::Conflict, RegType::Is),
            _ => return,
        };
        regs[v as usize] = t;
    });
    // A call's callee frame overwrites its window: nothing there survives.
    match *instr {
        Instr::Call { dst, base, .. } => {
            for r in regs.iter_mut().skip(base.0 as usize) {
                *r = RegType::Conflict;
            }
            regs[dst.0 as usize] = callee_ret.map_or(RegType::Conflict, RegType::Is);
        }
        Instr::CallVoid { base, .. } => {
            for r in regs.iter_mut().skip(base.0 as usize) {
                *r = RegType::Conflict;
            }
        }
        _ => {}
    }
}

/// Builds the SSA form of `func`, entered at pc 0, or at loop header
/// `osr_pc` (then the entry block's parameters are the registers that hold
/// a value there, loaded from the frame).
pub fn build(module: &Module, func: FuncId, osr_pc: Option<u32>) -> Result<Func, BuildError> {
    let f = module.func(func);
    let cfg = compute_cfg(f);
    let nregs = f.num_regs as usize;
    let (entry_block, mut entry_state) = match osr_pc {
        None => (0, vec![RegType::Conflict; nregs]),
        Some(pc) => {
            let b = *cfg
                .block_at
                .get(pc as usize)
                .filter(|&&b| b != u32::MAX)
                .ok_or_else(|| BuildError(format!("pc {pc} does not start a block")))?;
            if !cfg.loop_headers[b as usize] {
                return Err(BuildError(format!("pc {pc} is not a loop header")));
            }
            let via = rotated_loop_branch(f, &cfg, pc).unwrap_or(b as usize);
            (via, vec![RegType::Conflict; nregs])
        }
    };
    if osr_pc.is_none() {
        for (i, &t) in f.params.iter().enumerate() {
            entry_state[i] = RegType::Is(t);
        }
    } else {
        // Types at the header from a normal entry.
        let mut normal = vec![RegType::Conflict; nregs];
        for (i, &t) in f.params.iter().enumerate() {
            normal[i] = RegType::Is(t);
        }
        let types = compute_entry_types(module, f, &cfg, 0, normal);
        entry_state = types[entry_block]
            .clone()
            .ok_or_else(|| BuildError("the loop header is unreachable".into()))?;
    }
    let types = compute_entry_types(module, f, &cfg, entry_block, entry_state.clone());
    let mut b = Builder {
        module,
        f,
        cfg: &cfg,
        types: &types,
        ir: Func::new(func, &f.name, f.ret, f.num_regs as u32),
        blocks: vec![None; cfg.starts.len()],
        defs: Vec::new(),
        params: Vec::new(),
        preds: vec![Vec::new(); cfg.starts.len()],
        bytecode_block: Vec::new(),
        built: Vec::new(),
    };
    // The IR entry block: parameters are frame registers.
    let entry = b.ir.add_block();
    b.ir.entry = entry;
    let mut entry_defs = HashMap::default();
    for (r, t) in entry_state.iter().enumerate() {
        if let RegType::Is(t) = *t {
            let v = b.ir.add_param(entry, t);
            b.ir.entry_regs.push(r as u32);
            entry_defs.insert(r as u16, v);
        }
    }
    b.ir.osr_pc = osr_pc;
    // Blocks reachable from the bytecode entry, in reverse postorder: a
    // block's predecessors come before it, except along back edges.
    let reachable = reverse_postorder(&cfg, entry_block);
    b.bytecode_block = vec![usize::MAX];
    for &i in &reachable {
        let block = b.ir.add_block();
        b.blocks[i] = Some(block);
        b.bytecode_block.push(i);
    }
    b.built = vec![false; b.ir.blocks.len()];
    b.built[entry.index()] = true;
    b.defs = vec![HashMap::default(); b.ir.blocks.len()];
    b.params = vec![Vec::new(); b.ir.blocks.len()];
    b.preds = vec![Vec::new(); b.ir.blocks.len()];
    b.defs[entry.index()] = entry_defs;
    let first = b.blocks[entry_block].expect("the entry is reachable");
    b.ir.set_term(
        entry,
        Term::Jump(BlockCall::new(first, Vec::new())),
        Loc {
            inline: 0,
            pc: cfg.starts[entry_block],
        },
    );
    b.preds[first.index()].push(entry);
    for &i in &reachable {
        for &s in &cfg.succs[i] {
            let from = b.blocks[i].expect("reachable");
            let to = b.blocks[s].expect("successors of reachable blocks are reachable");
            b.preds[to.index()].push(from);
        }
    }
    for &i in &reachable {
        b.build_block(i)?;
        let block = b.blocks[i].expect("reachable");
        b.built[block.index()] = true;
    }
    b.fill_block_args();
    let mut ir = b.ir;
    remove_trivial_params(&mut ir);
    Ok(ir)
}

/// For an entry at loop header `header`: the block of a backward branch to
/// it that is nothing but that branch, if there is one. Entering there
/// instead is the same (a branch writes no register and cannot trap: it
/// runs again and goes to the header), and it keeps the loop reducible:
/// the front end rotates loops (`jmp cond; body: ...; cond: br body`), so
/// the code outside enters the loop at that branch, and an entry straight
/// into the body would be a second way in, which no pass optimizes as a
/// loop (no preheader, nothing hoisted, no strip-mined poll).
fn rotated_loop_branch(f: &Function, cfg: &Cfg, header: u32) -> Option<usize> {
    f.code
        .iter()
        .enumerate()
        .skip(header as usize)
        .find_map(|(pc, instr)| {
            let starts_block = cfg.block_at[pc] != u32::MAX;
            let alone = pc + 1 == f.code.len() || cfg.block_at[pc + 1] != u32::MAX;
            (instr.target() == Some(header) && starts_block && alone)
                .then_some(cfg.block_at[pc] as usize)
        })
}

struct Builder<'a> {
    module: &'a Module,
    f: &'a Function,
    cfg: &'a Cfg,
    types: &'a [Option<Vec<RegType>>],
    ir: Func,
    /// The IR block of each bytecode block (if reachable).
    blocks: Vec<Option<super::ir::Block>>,
    /// Per IR block: the value each register holds at its end (or, while
    /// the block is being built, at the current point).
    defs: Vec<HashMap<u16, Value>>,
    /// Per IR block: the register each parameter stands for.
    params: Vec<Vec<u16>>,
    /// Per IR block: predecessors, one per edge.
    preds: Vec<Vec<super::ir::Block>>,
    /// Per IR block: the bytecode block it is (`usize::MAX` for the entry).
    bytecode_block: Vec<usize>,
    /// Per IR block: built to its end (its `defs` are final).
    built: Vec<bool>,
}

/// The bytecode blocks reachable from `entry`, in reverse postorder.
fn reverse_postorder(cfg: &Cfg, entry: usize) -> Vec<usize> {
    let mut seen = vec![false; cfg.starts.len()];
    let mut order = Vec::new();
    // (block, next successor to visit)
    let mut stack = vec![(entry, 0usize)];
    seen[entry] = true;
    while let Some(&mut (b, ref mut next)) = stack.last_mut() {
        if let Some(&s) = cfg.succs[b].get(*next) {
            *next += 1;
            if !seen[s] {
                seen[s] = true;
                stack.push((s, 0));
            }
        } else {
            order.push(b);
            stack.pop();
        }
    }
    order.reverse();
    order
}

impl Builder<'_> {
    /// The value of register `r` at the current end of `block`.
    ///
    /// Walks up through single, built predecessors to the nearest block
    /// that knows `r` or gets a parameter for it, and caches the answer in
    /// every block on the way. A loop, not recursion: such chains can be
    /// as long as the function.
    fn read(&mut self, block: super::ir::Block, r: u16) -> Value {
        let mut chain = Vec::new();
        let mut b = block;
        let v = loop {
            if let Some(&v) = self.defs[b.index()].get(&r) {
                break v;
            }
            chain.push(b);
            let preds = &self.preds[b.index()];
            if preds.len() == 1 && self.built[preds[0].index()] {
                b = preds[0];
            } else {
                let ty = self.entry_type(b, r);
                let v = self.ir.add_param(b, ty);
                self.params[b.index()].push(r);
                break v;
            }
        };
        for c in chain {
            self.defs[c.index()].insert(r, v);
        }
        v
    }

    /// The type register `r` holds on entry to `block` (which a verified
    /// read of it there implies is one type).
    fn entry_type(&self, block: super::ir::Block, r: u16) -> Type {
        let i = self.bytecode_block[block.index()];
        match self
            .types
            .get(i)
            .and_then(|t| t.as_ref())
            .map(|t| t[r as usize])
        {
            Some(RegType::Is(t)) => t,
            // Unreachable for verified code; an int keeps the IR typed.
            _ => Type::Int,
        }
    }

    fn write(&mut self, block: super::ir::Block, r: Reg, v: Value) {
        self.defs[block.index()].insert(r.0, v);
    }

    /// Gives every block-parameter its arguments on each incoming edge.
    /// Reading at the end of a predecessor may add parameters to other
    /// blocks, which are filled in turn.
    fn fill_block_args(&mut self) {
        let mut done = vec![0usize; self.ir.blocks.len()];
        loop {
            let mut progress = false;
            for (bi, done) in done.iter_mut().enumerate() {
                while *done < self.params[bi].len() {
                    let r = self.params[bi][*done];
                    *done += 1;
                    progress = true;
                    let block = super::ir::Block(bi as u32);
                    // A block that branches here both ways is listed twice
                    // in a row; one visit gives both of its edges the argument.
                    let mut preds = self.preds[bi].clone();
                    preds.dedup();
                    for p in preds {
                        let v = self.read(p, r);
                        let term = &mut self.ir.blocks[p.index()].term;
                        for d in term.successors_mut() {
                            if d.block == block {
                                d.args.push(v);
                            }
                        }
                    }
                }
            }
            if !progress {
                break;
            }
        }
    }

    fn build_block(&mut self, i: usize) -> Result<(), BuildError> {
        let block = self.blocks[i].expect("built blocks are reachable");
        let start = self.cfg.starts[i] as usize;
        let end = self
            .cfg
            .starts
            .get(i + 1)
            .map_or(self.f.code.len(), |&e| e as usize);
        if self.cfg.loop_headers[i] {
            self.ir.append(
                block,
                Op::Poll,
                Vec::new(),
                None,
                Loc {
                    inline: 0,
                    pc: start as u32,
                },
            );
        }
        for pc in start..end {
            let instr = self.f.code[pc];
            self.instr(block, pc as u32, &instr, i)?;
        }
        if matches!(self.ir.block(block).term, Term::None) {
            // Falls through into the next block.
            let next = self.cfg.succs[i][0];
            let to = self.blocks[next].expect("reachable");
            self.ir.set_term(
                block,
                Term::Jump(BlockCall::new(to, Vec::new())),
                Loc {
                    inline: 0,
                    pc: (end - 1) as u32,
                },
            );
        }
        Ok(())
    }

    fn target(&self, pc: u32) -> super::ir::Block {
        self.blocks[self.cfg.block_at[pc as usize] as usize].expect("targets are reachable")
    }

    fn fallthrough(&self, pc: u32) -> super::ir::Block {
        self.blocks[self.cfg.block_at[pc as usize + 1] as usize]
            .expect("fall-through successors are reachable")
    }

    fn instr(
        &mut self,
        block: super::ir::Block,
        pc: u32,
        instr: &Instr,
        _bytecode_block: usize,
    ) -> Result<(), BuildError> {
        let loc = Loc { inline: 0, pc };
        macro_rules! r {
            ($reg:expr) => {
                self.read(block, $reg.0)
            };
        }
        macro_rules! emit {
            ($op:expr, [$($a:expr),*], $ty:expr) => {{
                let args = vec![$($a),*];
                self.ir.append(block, $op, args, $ty, loc)
            }};
        }
        macro_rules! def {
            ($dst:expr, $op:expr, [$($a:expr),*], $ty:expr) => {{
                let v = emit!($op, [$($a),*], Some($ty)).expect("has a result");
                self.write(block, $dst, v);
            }};
        }
        let int = Type::Int;
        let float = Type::Float;
        let boolean = Type::Bool;
        match *instr {
            Instr::Mov { dst, src } => {
                let v = r!(src);
                self.write(block, dst, v);
            }
            Instr::LoadInt { dst, imm } => def!(dst, Op::Iconst(imm as i64), [], int),
            Instr::LoadConstInt { dst, k } => {
                def!(dst, Op::Iconst(self.f.consts[k as usize] as i64), [], int)
            }
            Instr::LoadConstFloat { dst, k } => {
                def!(dst, Op::Fconst(self.f.consts[k as usize]), [], float)
            }
            Instr::LoadBool { dst, imm } => def!(dst, Op::Bconst(imm != 0), [], boolean),
            Instr::AddInt { dst, a, b } => def!(dst, Op::Iadd, [r!(a), r!(b)], int),
            Instr::AddIntImm { dst, a, imm } => {
                let a = r!(a);
                let c = emit!(Op::Iconst(imm as i64), [], Some(int)).expect("value");
                def!(dst, Op::Iadd, [a, c], int)
            }
            Instr::SubInt { dst, a, b } => def!(dst, Op::Isub, [r!(a), r!(b)], int),
            Instr::MulInt { dst, a, b } => def!(dst, Op::Imul, [r!(a), r!(b)], int),
            Instr::DivInt { dst, a, b } => def!(dst, Op::Idiv, [r!(a), r!(b)], int),
            Instr::RemInt { dst, a, b } => def!(dst, Op::Irem, [r!(a), r!(b)], int),
            Instr::AndInt { dst, a, b } => def!(dst, Op::Iand, [r!(a), r!(b)], int),
            Instr::OrInt { dst, a, b } => def!(dst, Op::Ior, [r!(a), r!(b)], int),
            Instr::XorInt { dst, a, b } => def!(dst, Op::Ixor, [r!(a), r!(b)], int),
            Instr::ShlInt { dst, a, b } => def!(dst, Op::Ishl, [r!(a), r!(b)], int),
            Instr::ShrInt { dst, a, b } => def!(dst, Op::Ishr, [r!(a), r!(b)], int),
            Instr::NegInt { dst, a } => def!(dst, Op::Ineg, [r!(a)], int),
            Instr::NotInt { dst, a } => def!(dst, Op::Inot, [r!(a)], int),
            Instr::AbsInt { dst, a } => def!(dst, Op::Iabs, [r!(a)], int),
            Instr::MinInt { dst, a, b } => def!(dst, Op::Imin, [r!(a), r!(b)], int),
            Instr::MaxInt { dst, a, b } => def!(dst, Op::Imax, [r!(a), r!(b)], int),
            Instr::AddFloat { dst, a, b } => def!(dst, Op::Fadd, [r!(a), r!(b)], float),
            Instr::SubFloat { dst, a, b } => def!(dst, Op::Fsub, [r!(a), r!(b)], float),
            Instr::MulFloat { dst, a, b } => def!(dst, Op::Fmul, [r!(a), r!(b)], float),
            Instr::DivFloat { dst, a, b } => def!(dst, Op::Fdiv, [r!(a), r!(b)], float),
            Instr::NegFloat { dst, a } => def!(dst, Op::Fneg, [r!(a)], float),
            Instr::AbsFloat { dst, a } => def!(dst, Op::Fabs, [r!(a)], float),
            Instr::SqrtFloat { dst, a } => def!(dst, Op::Fsqrt, [r!(a)], float),
            Instr::MinFloat { dst, a, b } => def!(dst, Op::Fmin, [r!(a), r!(b)], float),
            Instr::MaxFloat { dst, a, b } => def!(dst, Op::Fmax, [r!(a), r!(b)], float),
            Instr::IntToFloat { dst, a } => def!(dst, Op::ItoF, [r!(a)], float),
            Instr::FloatToInt { dst, a } => def!(dst, Op::FtoI, [r!(a)], int),
            Instr::EqInt { dst, a, b } | Instr::EqBool { dst, a, b } => {
                def!(dst, Op::Icmp(IntCC::Eq), [r!(a), r!(b)], boolean)
            }
            Instr::NeInt { dst, a, b } | Instr::NeBool { dst, a, b } => {
                def!(dst, Op::Icmp(IntCC::Ne), [r!(a), r!(b)], boolean)
            }
            Instr::LtInt { dst, a, b } => def!(dst, Op::Icmp(IntCC::Lt), [r!(a), r!(b)], boolean),
            Instr::LeInt { dst, a, b } => def!(dst, Op::Icmp(IntCC::Le), [r!(a), r!(b)], boolean),
            Instr::EqFloat { dst, a, b } => {
                def!(dst, Op::Fcmp(FloatCC::Eq), [r!(a), r!(b)], boolean)
            }
            Instr::NeFloat { dst, a, b } => {
                def!(dst, Op::Fcmp(FloatCC::Ne), [r!(a), r!(b)], boolean)
            }
            Instr::LtFloat { dst, a, b } => {
                def!(dst, Op::Fcmp(FloatCC::Lt), [r!(a), r!(b)], boolean)
            }
            Instr::LeFloat { dst, a, b } => {
                def!(dst, Op::Fcmp(FloatCC::Le), [r!(a), r!(b)], boolean)
            }
            Instr::NotBool { dst, a } => def!(dst, Op::Bnot, [r!(a)], boolean),

            Instr::Jump { target } => {
                let to = self.target(target);
                self.ir
                    .set_term(block, Term::Jump(BlockCall::new(to, Vec::new())), loc);
            }
            Instr::JumpIfTrue { cond, target } => {
                let c = r!(cond);
                self.branch(block, c, target, pc, loc);
            }
            Instr::JumpIfFalse { cond, target } => {
                let c = r!(cond);
                let n = emit!(Op::Bnot, [c], Some(boolean)).expect("value");
                self.branch(block, n, target, pc, loc);
            }
            Instr::JumpEqInt { a, b, target } => {
                self.cmp_branch(block, Op::Icmp(IntCC::Eq), a, b, target, pc, loc)
            }
            Instr::JumpNeInt { a, b, target } => {
                self.cmp_branch(block, Op::Icmp(IntCC::Ne), a, b, target, pc, loc)
            }
            Instr::JumpLtInt { a, b, target } => {
                self.cmp_branch(block, Op::Icmp(IntCC::Lt), a, b, target, pc, loc)
            }
            Instr::JumpLeInt { a, b, target } => {
                self.cmp_branch(block, Op::Icmp(IntCC::Le), a, b, target, pc, loc)
            }
            Instr::JumpEqFloat { a, b, target } => {
                self.cmp_branch(block, Op::Fcmp(FloatCC::Eq), a, b, target, pc, loc)
            }
            Instr::JumpNeFloat { a, b, target } => {
                self.cmp_branch(block, Op::Fcmp(FloatCC::Ne), a, b, target, pc, loc)
            }
            Instr::JumpLtFloat { a, b, target } => {
                self.cmp_branch(block, Op::Fcmp(FloatCC::Lt), a, b, target, pc, loc)
            }
            Instr::JumpLeFloat { a, b, target } => {
                self.cmp_branch(block, Op::Fcmp(FloatCC::Le), a, b, target, pc, loc)
            }
            Instr::JumpNotLtFloat { a, b, target } => {
                self.cmp_branch(block, Op::Fcmp(FloatCC::NotLt), a, b, target, pc, loc)
            }
            Instr::JumpNotLeFloat { a, b, target } => {
                self.cmp_branch(block, Op::Fcmp(FloatCC::NotLe), a, b, target, pc, loc)
            }
            Instr::JumpEqIntImm { a, imm, target } => {
                self.imm_branch(block, IntCC::Eq, a, imm, target, pc, loc)
            }
            Instr::JumpNeIntImm { a, imm, target } => {
                self.imm_branch(block, IntCC::Ne, a, imm, target, pc, loc)
            }
            Instr::JumpLtIntImm { a, imm, target } => {
                self.imm_branch(block, IntCC::Lt, a, imm, target, pc, loc)
            }
            Instr::JumpLeIntImm { a, imm, target } => {
                self.imm_branch(block, IntCC::Le, a, imm, target, pc, loc)
            }
            Instr::JumpGtIntImm { a, imm, target } => {
                self.imm_branch(block, IntCC::Gt, a, imm, target, pc, loc)
            }
            Instr::JumpGeIntImm { a, imm, target } => {
                self.imm_branch(block, IntCC::Ge, a, imm, target, pc, loc)
            }

            Instr::NewIntArray { dst, init, len } => {
                def!(dst, Op::NewArray, [r!(init), r!(len)], Type::IntArray)
            }
            Instr::NewFloatArray { dst, init, len } => {
                def!(dst, Op::NewArray, [r!(init), r!(len)], Type::FloatArray)
            }
            Instr::ArrayLen { dst, arr } => def!(dst, Op::Len, [r!(arr)], int),
            Instr::LoadIntElem { dst, arr, idx } | Instr::LoadFloatElem { dst, arr, idx } => {
                let (a, i) = (r!(arr), r!(idx));
                emit!(Op::BoundsCheck, [a, i], None);
                let ty = self.ir.ty(a).element().expect("verified: an array");
                def!(dst, Op::Load, [a, i], ty)
            }
            Instr::StoreIntElem { arr, idx, val } | Instr::StoreFloatElem { arr, idx, val } => {
                let (a, i, v) = (r!(arr), r!(idx), r!(val));
                emit!(Op::BoundsCheck, [a, i], None);
                emit!(Op::Store, [a, i, v], None);
            }
            Instr::AtomicAdd { dst, arr, idx, val } => {
                let (a, i, v) = (r!(arr), r!(idx), r!(val));
                emit!(Op::BoundsCheck, [a, i], None);
                def!(dst, Op::AtomicAdd, [a, i, v], int)
            }
            Instr::Call { dst, func, base } => {
                let args = self.window_args(block, func, base);
                let ret = self.module.func(func).ret;
                let v = self.ir.append(
                    block,
                    Op::Call {
                        func,
                        window: base.0 as u32,
                    },
                    args,
                    ret,
                    loc,
                );
                if let Some(v) = v {
                    self.write(block, dst, v);
                }
            }
            Instr::CallVoid { func, base } => {
                let args = self.window_args(block, func, base);
                self.ir.append(
                    block,
                    Op::Call {
                        func,
                        window: base.0 as u32,
                    },
                    args,
                    None,
                    loc,
                );
            }
            Instr::Return { src } => {
                let v = r!(src);
                self.ir.set_term(block, Term::Return(Some(v)), loc);
            }
            Instr::ReturnVoid {} => self.ir.set_term(block, Term::Return(None), loc),
            Instr::Spawn { dst, func, base } => {
                let args = self.window_args(block, func, base);
                let v = self
                    .ir
                    .append(
                        block,
                        Op::Spawn {
                            func,
                            window: base.0 as u32,
                        },
                        args,
                        Some(int),
                        loc,
                    )
                    .expect("value");
                self.write(block, dst, v);
            }
            Instr::CallHost { dst, host, base } => {
                let n = self.module.host(host).params.len() as u16;
                let args = self.window_of(block, n, base);
                let op = Op::CallHost {
                    host,
                    window: base.0 as u32,
                };
                let ret = self.module.host(host).ret;
                if let Some(v) = self.ir.append(block, op, args, ret, loc) {
                    self.write(block, dst, v);
                }
            }
            Instr::CallHostVoid { host, base } => {
                let n = self.module.host(host).params.len() as u16;
                let args = self.window_of(block, n, base);
                let op = Op::CallHost {
                    host,
                    window: base.0 as u32,
                };
                self.ir.append(block, op, args, None, loc);
            }
            Instr::Join { dst, handle } => def!(dst, Op::Join, [r!(handle)], int),
            Instr::PrintInt { src } => {
                emit!(Op::PrintInt, [r!(src)], None);
            }
            Instr::PrintFloat { src } => {
                emit!(Op::PrintFloat, [r!(src)], None);
            }
            Instr::PrintBool { src } => {
                emit!(Op::PrintBool, [r!(src)], None);
            }
            Instr::PrintStr { s } => {
                emit!(Op::PrintStr(s), [], None);
            }
            Instr::Arg { dst, idx } => def!(dst, Op::Arg, [r!(idx)], int),
            Instr::Argc { dst } => def!(dst, Op::Argc, [], int),
            Instr::NowNs { dst } => def!(dst, Op::NowNs, [], int),
        }
        Ok(())
    }

    fn window_args(&mut self, block: super::ir::Block, func: FuncId, base: Reg) -> Vec<Value> {
        let n = self.module.func(func).params.len() as u16;
        self.window_of(block, n, base)
    }

    /// The values of the `n` registers from `base`.
    fn window_of(&mut self, block: super::ir::Block, n: u16, base: Reg) -> Vec<Value> {
        (0..n).map(|i| self.read(block, base.0 + i)).collect()
    }

    fn branch(&mut self, block: super::ir::Block, cond: Value, target: u32, pc: u32, loc: Loc) {
        let then_dest = BlockCall::new(self.target(target), Vec::new());
        let else_dest = BlockCall::new(self.fallthrough(pc), Vec::new());
        self.ir.set_term(
            block,
            Term::Branch {
                cond,
                then_dest,
                else_dest,
            },
            loc,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn cmp_branch(
        &mut self,
        block: super::ir::Block,
        op: Op,
        a: Reg,
        b: Reg,
        target: u32,
        pc: u32,
        loc: Loc,
    ) {
        let (a, b) = (self.read(block, a.0), self.read(block, b.0));
        let c = self
            .ir
            .append(block, op, vec![a, b], Some(Type::Bool), loc)
            .expect("value");
        self.branch(block, c, target, pc, loc);
    }

    #[allow(clippy::too_many_arguments)]
    fn imm_branch(
        &mut self,
        block: super::ir::Block,
        cc: IntCC,
        a: Reg,
        imm: i32,
        target: u32,
        pc: u32,
        loc: Loc,
    ) {
        let a = self.read(block, a.0);
        let k = self
            .ir
            .append(block, Op::Iconst(imm as i64), vec![], Some(Type::Int), loc)
            .expect("value");
        let c = self
            .ir
            .append(block, Op::Icmp(cc), vec![a, k], Some(Type::Bool), loc)
            .expect("value");
        self.branch(block, c, target, pc, loc);
    }
}

/// Removes block parameters that are trivial: every argument passed to
/// them is either the parameter itself or one single other value, which
/// then replaces the parameter everywhere. Repeats until none is left
/// (removing one may make another trivial). Entry-block parameters stay.
pub fn remove_trivial_params(f: &mut Func) {
    loop {
        let preds = f.compute_preds();
        let mut map = f.identity_map();
        let mut changed = false;
        for &b in &f.layout.clone() {
            if b == f.entry {
                continue;
            }
            let params = f.blocks[b.index()].params.clone();
            let mut keep = Vec::new();
            for (idx, &p) in params.iter().enumerate() {
                let mut same: Option<Value> = None;
                let mut trivial = true;
                for &pred in &preds[b.index()] {
                    for d in f.blocks[pred.index()].term.successors() {
                        if d.block != b {
                            continue;
                        }
                        let a = resolve(&map, d.args[idx]);
                        if a == p || Some(a) == same {
                            continue;
                        }
                        if same.is_none() {
                            same = Some(a);
                        } else {
                            trivial = false;
                        }
                    }
                }
                match (trivial, same) {
                    (true, Some(v)) => {
                        map[p.index()] = v;
                        changed = true;
                    }
                    _ => keep.push(idx),
                }
            }
            if keep.len() != params.len() {
                drop_params(f, b, &keep, &preds[b.index()]);
            }
        }
        if !changed {
            return;
        }
        f.substitute_chains(&mut map);
    }
}

fn resolve(map: &[Value], mut v: Value) -> Value {
    while map[v.index()] != v {
        v = map[v.index()];
    }
    v
}

/// Keeps only the parameters of `b` at indices `keep` (and the matching
/// arguments in every predecessor's branch).
pub fn drop_params(f: &mut Func, b: super::ir::Block, keep: &[usize], preds: &[super::ir::Block]) {
    let params = std::mem::take(&mut f.blocks[b.index()].params);
    let kept: Vec<Value> = keep.iter().map(|&i| params[i]).collect();
    for (new_index, &p) in kept.iter().enumerate() {
        f.values[p.index()].def = super::ir::ValueDef::Param(b, new_index as u32);
    }
    f.blocks[b.index()].params = kept;
    // Each predecessor once (one may have two edges here); sorting keeps
    // this linear-logarithmic in the number of predecessors.
    let mut preds = preds.to_vec();
    preds.sort_unstable();
    preds.dedup();
    for pred in preds {
        for d in f.blocks[pred.index()].term.successors_mut() {
            if d.block == b {
                let args = std::mem::take(&mut d.args);
                d.args = keep.iter().map(|&i| args[i]).collect();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::verify::verify_module;
    use crate::bytecode::LineTable;
    use crate::opt::ir::print::func_to_string;
    use crate::opt::ir::verify::verify;

    /// A one-function module of `code` (checked by the bytecode verifier).
    fn module(params: Vec<Type>, ret: Option<Type>, num_regs: u16, code: Vec<Instr>) -> Module {
        let func = Function {
            name: "f".into(),
            params,
            ret,
            num_regs,
            code: code.into(),
            consts: Default::default(),
            lines: LineTable::default(),
        };
        let module = Module {
            funcs: vec![func],
            ..Module::default()
        };
        verify_module(&module).expect("valid bytecode");
        module
    }

    fn build_verified(module: &Module, osr_pc: Option<u32>) -> Func {
        let ir = build(module, FuncId(0), osr_pc).expect("builds");
        if let Err(e) = verify(&ir) {
            panic!("{e}\n{}", func_to_string(&ir));
        }
        ir
    }

    #[test]
    fn branch_whose_target_is_also_its_fall_through() {
        // pc 2 branches to pc 3 both ways: two edges from one block into
        // a block with a parameter (r0 comes from pc 0 or from pc 1).
        let m = module(
            vec![Type::Int],
            Some(Type::Int),
            1,
            vec![
                Instr::JumpGtIntImm {
                    a: Reg(0),
                    imm: 0,
                    target: 3,
                },
                Instr::LoadInt {
                    dst: Reg(0),
                    imm: 7,
                },
                Instr::JumpGtIntImm {
                    a: Reg(0),
                    imm: 0,
                    target: 3,
                },
                Instr::Return { src: Reg(0) },
            ],
        );
        build_verified(&m, None);
    }

    #[test]
    fn osr_entry_loads_only_registers_set_on_every_path() {
        // r2 is written only inside the loop: it holds nothing on the way
        // in, so the loop header at pc 2 does not load it.
        let m = module(
            vec![Type::Int],
            Some(Type::Int),
            3,
            vec![
                Instr::LoadInt {
                    dst: Reg(1),
                    imm: 0,
                },
                Instr::Jump { target: 4 },
                Instr::AddIntImm {
                    dst: Reg(2),
                    a: Reg(1),
                    imm: 1,
                },
                Instr::Mov {
                    dst: Reg(1),
                    src: Reg(2),
                },
                Instr::JumpLtInt {
                    a: Reg(1),
                    b: Reg(0),
                    target: 2,
                },
                Instr::Return { src: Reg(1) },
            ],
        );
        let ir = build_verified(&m, Some(2));
        assert_eq!(ir.entry_regs, vec![0, 1]);
    }

    #[test]
    fn long_chain_of_single_predecessor_blocks() {
        // 100,000 early exits: reading r1 at the end walks back through
        // every block of the chain.
        let n = 100_000;
        let mut code = vec![Instr::LoadInt {
            dst: Reg(1),
            imm: 1,
        }];
        for _ in 0..n {
            code.push(Instr::JumpGtIntImm {
                a: Reg(0),
                imm: 0,
                target: n + 2,
            });
        }
        code.push(Instr::Return { src: Reg(1) });
        code.push(Instr::Return { src: Reg(1) });
        let m = module(vec![Type::Int], Some(Type::Int), 2, code);
        build_verified(&m, None);
    }
}
