//! The IR verifier: run after building and after every pass.
//!
//! [`verify`] accepts a [`Func`] only if all of this holds:
//!
//! - Frame: the layout is not empty, lists each block once (each one that
//!   exists), starts with `entry`, and `entry_regs` has one register per
//!   entry parameter. Inline frame `k` has a parent below `k`; every
//!   [`Loc::inline`](super::Loc::inline) and `frame_check` names a frame that exists.
//! - Control flow: every live block ends in a terminator (not
//!   [`Term::None`]) whose successors are live blocks, with one argument
//!   per parameter, of the parameter's type. The entry block has no
//!   predecessors; every live block is reachable from it.
//! - SSA: every value in live code is defined once, as a block parameter
//!   or an instruction result, and its [`ValueData::def`](super::ValueData::def) says where; each
//!   instruction is in one block only. Every use is dominated by its
//!   definition: an earlier instruction of the same block, a parameter of
//!   the same block, or a definition in a dominating block (terminator
//!   arguments are uses at the end of their block).
//! - Types: each op's operands and result as its doc comment on [`Op`]
//!   says ([`check_operands`], [`result_type`]); `brif` takes a bool;
//!   `ret` returns [`Func::ret`]. Calls take any arguments and give any
//!   result or none: only the module knows the callee.
//!
//! Cost: linear in the size of the function, plus the dominator
//! computation: Lengauer and Tarjan's, O(E log V) on any graph (Cooper,
//! Harvey and Kennedy's iteration is simpler but quadratic on a long chain
//! of early exits, which the SSA builder makes of a long run of `if ..
//! { return }`). Dominance queries are O(1) by intervals of a
//! dominator-tree walk.
//!
//! It never panics, whatever the `Func` holds (out-of-range indices
//! included): the parser's output goes straight in.

use super::print::{inst_to_string, term_to_string};
use super::{Block, Func, Inst, Op, Term, Value, ValueDef};
use crate::Type;
use std::fmt;

/// Why a function is not well formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// The block at fault, if one is.
    pub block: Option<Block>,
    /// The instruction at fault, if one is.
    pub inst: Option<Inst>,
    /// Where, for people: the block and the instruction's text.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for VerifyError {}

/// What an operand must be.
#[derive(Clone, Copy)]
enum Want {
    Is(Type),
    Array,
    IntOrFloat,
    IntOrBool,
    Any,
    /// The type of operand `k`.
    SameAs(usize),
    /// The element type of operand `k` (an array).
    ElementOf(usize),
}

/// What an op's result is.
#[derive(Clone, Copy)]
enum Gives {
    Nothing,
    Is(Type),
    /// The type of operand `k`.
    SameAs(usize),
    /// The array of operand `k`'s type.
    ArrayOf(usize),
    /// The element type of operand `k`.
    ElementOf(usize),
}

/// The operands (`None`: any number of any type) and result of `op`, as
/// the doc comments of [`Op`] give them.
fn signature(op: Op) -> (Option<&'static [Want]>, Gives) {
    use Type::{Bool, Float, Int, IntArray};
    use Want::Is;
    const NONE: &[Want] = &[];
    const II: &[Want] = &[Is(Int), Is(Int)];
    const I: &[Want] = &[Is(Int)];
    const FF: &[Want] = &[Is(Float), Is(Float)];
    const F: &[Want] = &[Is(Float)];
    let (wants, gives) = match op {
        Op::Iconst(_) | Op::Argc | Op::NowNs => (NONE, Gives::Is(Int)),
        Op::Fconst(_) => (NONE, Gives::Is(Float)),
        Op::Bconst(_) => (NONE, Gives::Is(Bool)),
        Op::Iadd
        | Op::Isub
        | Op::Imul
        | Op::Idiv
        | Op::Irem
        | Op::Iand
        | Op::Ior
        | Op::Ixor
        | Op::Ishl
        | Op::Ishr
        | Op::Imin
        | Op::Imax => (II, Gives::Is(Int)),
        Op::Ineg | Op::Inot | Op::Iabs | Op::Join | Op::Arg => (I, Gives::Is(Int)),
        Op::Fadd | Op::Fsub | Op::Fmul | Op::Fdiv | Op::Fmin | Op::Fmax => (FF, Gives::Is(Float)),
        Op::Fneg | Op::Fabs | Op::Fsqrt => (F, Gives::Is(Float)),
        Op::ItoF => (I, Gives::Is(Float)),
        Op::FtoI => (F, Gives::Is(Int)),
        Op::Icmp(_) => (&[Want::IntOrBool, Want::SameAs(0)][..], Gives::Is(Bool)),
        Op::Fcmp(_) => (FF, Gives::Is(Bool)),
        Op::Bnot => (&[Is(Bool)][..], Gives::Is(Bool)),
        Op::NewArray => (&[Want::IntOrFloat, Is(Int)][..], Gives::ArrayOf(0)),
        Op::Len => (&[Want::Array][..], Gives::Is(Int)),
        Op::BoundsCheck => (&[Want::Array, Is(Int)][..], Gives::Nothing),
        Op::Load => (&[Want::Array, Is(Int)][..], Gives::ElementOf(0)),
        Op::Store => (
            &[Want::Array, Is(Int), Want::ElementOf(0)][..],
            Gives::Nothing,
        ),
        Op::AtomicAdd => (&[Is(IntArray), Is(Int), Is(Int)][..], Gives::Is(Int)),
        Op::Call { .. } | Op::CallHost { .. } => return (None, Gives::Nothing),
        Op::Spawn { .. } => return (None, Gives::Is(Int)),
        Op::PrintInt => (I, Gives::Nothing),
        Op::PrintFloat => (F, Gives::Nothing),
        Op::PrintBool => (&[Is(Bool)][..], Gives::Nothing),
        Op::PrintStr(_) | Op::Poll => (NONE, Gives::Nothing),
        Op::FrameOk(_) => (NONE, Gives::Is(Bool)),
        Op::FrameCheck(_) => (&[Is(Bool)][..], Gives::Nothing),
        Op::Copy => (&[Want::Any][..], Gives::SameAs(0)),
    };
    (Some(wants), gives)
}

/// The type of the result of `op` on operands of types `args` (`None`:
/// no result). Where the operands are wrong the answer is a guess (`int`
/// for an element or copy of nothing sensible). For [`Op::Call`] it is
/// `None`: a call's result has its callee's return type, which only the
/// module knows.
pub fn result_type(op: Op, args: &[Type]) -> Option<Type> {
    match signature(op).1 {
        Gives::Nothing => None,
        Gives::Is(t) => Some(t),
        Gives::SameAs(k) => Some(args.get(k).copied().unwrap_or(Type::Int)),
        Gives::ArrayOf(k) => Some(
            args.get(k)
                .and_then(|t| t.array_of())
                .unwrap_or(Type::IntArray),
        ),
        Gives::ElementOf(k) => Some(args.get(k).and_then(|t| t.element()).unwrap_or(Type::Int)),
    }
}

/// Checks the number and types of `op`'s operands.
pub fn check_operands(op: Op, args: &[Type]) -> Result<(), String> {
    let Some(wants) = signature(op).0 else {
        return Ok(());
    };
    if wants.len() != args.len() {
        return Err(format!(
            "{} takes {} operands, not {}",
            op.name(),
            wants.len(),
            args.len()
        ));
    }
    for (k, (want, &t)) in wants.iter().zip(args).enumerate() {
        let (ok, expected) = match *want {
            Want::Is(w) => (t == w, w.name().to_string()),
            Want::Array => (t.is_array(), "an array".into()),
            Want::IntOrFloat => (matches!(t, Type::Int | Type::Float), "int or float".into()),
            Want::IntOrBool => (matches!(t, Type::Int | Type::Bool), "int or bool".into()),
            Want::Any => (true, String::new()),
            Want::SameAs(j) => (t == args[j], format!("{} like operand {j}", args[j])),
            Want::ElementOf(j) => match args[j].element() {
                Some(e) => (t == e, format!("{e}, the element type of operand {j}")),
                None => (true, String::new()),
            },
        };
        if !ok {
            return Err(format!("operand {k} is {t}, expected {expected}"));
        }
    }
    Ok(())
}

/// Checks every invariant in the module doc.
pub fn verify(f: &Func) -> Result<(), VerifyError> {
    let mut v = Verifier::new(f);
    v.check_header()?;
    v.check_layout()?;
    v.check_cfg()?;
    v.compute_dominators();
    v.check_defs()?;
    v.check_uses()
}

/// Where a value is defined: its block, the position in it (0 for a
/// parameter, `i + 1` for the `i`th instruction), and what its
/// [`ValueData::def`](super::ValueData::def) must say.
#[derive(Clone, Copy)]
struct DefSite {
    block: Block,
    pos: usize,
    def: ValueDef,
}

struct Verifier<'a> {
    f: &'a Func,
    /// Per block: in the layout.
    live: Vec<bool>,
    /// Per block: predecessors (one per edge) among the live blocks.
    preds: Vec<Vec<Block>>,
    /// Blocks reachable from the entry in depth-first preorder.
    dfs_order: Vec<Block>,
    /// Per block: its index in `dfs_order` (`usize::MAX` if unreached).
    dfs_index: Vec<usize>,
    /// Per depth-first number: the parent's number (0 for the entry).
    dfs_parent: Vec<usize>,
    /// Per block: pre- and postorder numbers in the dominator tree; `a`
    /// dominates `b` iff `a`'s interval contains `b`'s.
    dom_pre: Vec<u32>,
    dom_post: Vec<u32>,
    /// Per value: where live code defines it.
    defs: Vec<Option<DefSite>>,
}

impl<'a> Verifier<'a> {
    fn new(f: &'a Func) -> Verifier<'a> {
        Verifier {
            f,
            live: vec![false; f.blocks.len()],
            preds: vec![Vec::new(); f.blocks.len()],
            dfs_order: Vec::new(),
            dfs_index: vec![usize::MAX; f.blocks.len()],
            dfs_parent: Vec::new(),
            dom_pre: vec![0; f.blocks.len()],
            dom_post: vec![0; f.blocks.len()],
            defs: vec![None; f.values.len()],
        }
    }

    fn err_func(&self, message: String) -> VerifyError {
        VerifyError {
            block: None,
            inst: None,
            location: format!("function {:?}", self.f.name),
            message,
        }
    }

    fn err_block(&self, b: Block, message: String) -> VerifyError {
        VerifyError {
            block: Some(b),
            inst: None,
            location: format!("block{}", b.0),
            message,
        }
    }

    /// An error at an instruction whose indices are all in range.
    fn err_inst(&self, b: Block, i: Inst, message: String) -> VerifyError {
        VerifyError {
            block: Some(b),
            inst: Some(i),
            location: format!("block{}: `{}`", b.0, inst_to_string(self.f, i)),
            message,
        }
    }

    /// An error at a terminator whose indices are all in range.
    fn err_term(&self, b: Block, message: String) -> VerifyError {
        VerifyError {
            block: Some(b),
            inst: None,
            location: format!("block{}: `{}`", b.0, term_to_string(self.f, b)),
            message,
        }
    }

    fn value_in_range(&self, v: Value) -> bool {
        v.index() < self.f.values.len()
    }

    fn check_header(&self) -> Result<(), VerifyError> {
        let f = self.f;
        for (i, frame) in f.inlines.iter().enumerate() {
            if frame.parent as usize > i {
                return Err(self.err_func(format!(
                    "inline frame {} has parent {}: a parent comes before its child",
                    i + 1,
                    frame.parent
                )));
            }
        }
        Ok(())
    }

    fn check_layout(&mut self) -> Result<(), VerifyError> {
        let f = self.f;
        if f.layout.first() != Some(&f.entry) {
            return Err(self.err_func(format!(
                "the entry block{} is not first in the layout",
                f.entry.0
            )));
        }
        for &b in &f.layout {
            match self.live.get_mut(b.index()) {
                None => {
                    return Err(
                        self.err_func(format!("layout lists block{}, which does not exist", b.0))
                    )
                }
                Some(true) => return Err(self.err_func(format!("layout lists block{} twice", b.0))),
                Some(live) => *live = true,
            }
            let data = f.block(b);
            let out_of_range = data.insts.iter().find(|i| i.index() >= f.insts.len());
            if let Some(i) = out_of_range {
                return Err(self.err_block(b, format!("instruction {} does not exist", i.0)));
            }
            let mut values = data.params.clone();
            for &i in &data.insts {
                let inst = f.inst(i);
                values.extend(inst.args.iter().chain(&inst.result));
            }
            data.term.for_each_use(|v| values.push(v));
            if let Some(v) = values.iter().find(|v| !self.value_in_range(**v)) {
                return Err(self.err_block(b, format!("v{} does not exist", v.0)));
            }
        }
        let entry_params = f.block(f.entry).params.len();
        if f.entry_regs.len() != entry_params {
            return Err(self.err_func(format!(
                "{} entry registers for {} entry block parameters",
                f.entry_regs.len(),
                entry_params
            )));
        }
        Ok(())
    }

    /// Terminators, successors, predecessors, reachability.
    fn check_cfg(&mut self) -> Result<(), VerifyError> {
        let f = self.f;
        for &b in &f.layout {
            let term = &f.block(b).term;
            if matches!(term, Term::None) {
                return Err(self.err_block(b, "has no terminator".into()));
            }
            for d in term.successors() {
                if !self.live.get(d.block.index()).copied().unwrap_or(false) {
                    return Err(self.err_term(b, format!("block{} is not a live block", d.block.0)));
                }
                self.preds[d.block.index()].push(b);
            }
        }
        if let Some(p) = self.preds[f.entry.index()].first() {
            return Err(self.err_block(
                f.entry,
                format!("the entry block has a predecessor: block{}", p.0),
            ));
        }
        self.compute_dfs();
        if let Some(b) = f
            .layout
            .iter()
            .find(|b| self.dfs_index[b.index()] == usize::MAX)
        {
            return Err(self.err_block(*b, "is unreachable from the entry block".into()));
        }
        Ok(())
    }

    /// Numbers the blocks reachable from the entry in depth-first
    /// preorder, with each one's parent in the depth-first tree.
    fn compute_dfs(&mut self) {
        let f = self.f;
        let mut stack: Vec<(Block, usize)> = vec![(f.entry, 0)];
        self.dfs_index[f.entry.index()] = 0;
        self.dfs_order.push(f.entry);
        self.dfs_parent.push(0);
        while let Some(&mut (b, ref mut next)) = stack.last_mut() {
            let Some(s) = f.block(b).term.successors().nth(*next) else {
                stack.pop();
                continue;
            };
            *next += 1;
            if self.dfs_index[s.block.index()] == usize::MAX {
                self.dfs_index[s.block.index()] = self.dfs_order.len();
                self.dfs_parent.push(self.dfs_index[b.index()]);
                self.dfs_order.push(s.block);
                stack.push((s.block, 0));
            }
        }
    }

    /// Immediate dominators by Lengauer and Tarjan's algorithm (the simple
    /// version, with path compression: O(E log V), whatever the shape of
    /// the graph), then a walk of the dominator tree numbering each block
    /// on the way down and up.
    fn compute_dominators(&mut self) {
        let n = self.dfs_order.len();
        let idom = crate::opt::analysis::immediate_dominators(&self.dfs_parent, |w, out| {
            out.extend(
                self.preds[self.dfs_order[w].index()]
                    .iter()
                    .map(|p| self.dfs_index[p.index()]),
            );
        });
        let mut children = vec![Vec::new(); n];
        for (w, &d) in idom.iter().enumerate().skip(1) {
            children[d].push(w);
        }
        let mut counter = 0u32;
        let mut stack = vec![(0usize, 0usize)];
        while let Some(&mut (w, ref mut next)) = stack.last_mut() {
            counter += 1;
            if let Some(&c) = children[w].get(*next) {
                *next += 1;
                self.dom_pre[self.dfs_order[c].index()] = counter;
                stack.push((c, 0));
            } else {
                self.dom_post[self.dfs_order[w].index()] = counter;
                stack.pop();
            }
        }
    }

    fn dominates(&self, a: Block, b: Block) -> bool {
        let (a, b) = (a.index(), b.index());
        self.dom_pre[a] <= self.dom_pre[b] && self.dom_post[b] <= self.dom_post[a]
    }

    /// Every value defined once, `ValueData::def` pointing back, each
    /// instruction in one place, result types right.
    fn check_defs(&mut self) -> Result<(), VerifyError> {
        let f = self.f;
        let mut placed = vec![false; f.insts.len()];
        for &b in &f.layout {
            let data = f.block(b);
            for (k, &p) in data.params.iter().enumerate() {
                let def = ValueDef::Param(b, k as u32);
                self.define(
                    p,
                    DefSite {
                        block: b,
                        pos: 0,
                        def,
                    },
                )
                .map_err(|m| self.err_block(b, m))?;
            }
            for (pos, &i) in data.insts.iter().enumerate() {
                if std::mem::replace(&mut placed[i.index()], true) {
                    return Err(self.err_inst(b, i, "the instruction is in the code twice".into()));
                }
                let Some(r) = f.inst(i).result else { continue };
                let site = DefSite {
                    block: b,
                    pos: pos + 1,
                    def: ValueDef::Inst(i),
                };
                self.define(r, site).map_err(|m| self.err_inst(b, i, m))?;
            }
        }
        // Each value is defined once: now its record must name that place.
        for (v, site) in self.defs.iter().enumerate() {
            let Some(site) = site else { continue };
            let recorded = f.values[v].def;
            if recorded == site.def {
                continue;
            }
            let message = format!("v{v} says it is defined at {recorded:?}");
            return Err(match site.def {
                ValueDef::Inst(i) => self.err_inst(site.block, i, message),
                ValueDef::Param(b, _) => self.err_block(b, message),
            });
        }
        Ok(())
    }

    fn define(&mut self, v: Value, site: DefSite) -> Result<(), String> {
        match self.defs[v.index()].replace(site) {
            Some(first) => Err(format!(
                "v{} is defined twice (first in block{})",
                v.0, first.block.0
            )),
            None => Ok(()),
        }
    }

    /// Checks that `v`, used at `pos` of `block`, is defined there.
    fn check_available(&self, v: Value, block: Block, pos: usize) -> Result<(), String> {
        let Some(def) = self.defs[v.index()] else {
            return Err(format!("v{} is not defined", v.0));
        };
        let ok = if def.block == block {
            def.pos == 0 || def.pos < pos
        } else {
            self.dominates(def.block, block)
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "v{} is used where its definition (in block{}) does not dominate",
                v.0, def.block.0
            ))
        }
    }

    fn check_loc(&self, inline: u32) -> Result<(), String> {
        if inline as usize > self.f.inlines.len() {
            return Err(format!(
                "location in inline frame {inline}, which does not exist"
            ));
        }
        Ok(())
    }

    fn check_uses(&self) -> Result<(), VerifyError> {
        let f = self.f;
        for &b in &f.layout {
            let data = f.block(b);
            for (pos, &i) in data.insts.iter().enumerate() {
                self.check_inst(b, i, pos + 1)
                    .map_err(|m| self.err_inst(b, i, m))?;
            }
            self.check_term(b, data.insts.len() + 1)
                .map_err(|m| self.err_term(b, m))?;
        }
        Ok(())
    }

    fn check_inst(&self, b: Block, i: Inst, pos: usize) -> Result<(), String> {
        let f = self.f;
        let inst = f.inst(i);
        self.check_loc(inst.loc.inline)?;
        for &a in &inst.args {
            self.check_available(a, b, pos)?;
        }
        let types: Vec<Type> = inst.args.iter().map(|&a| f.ty(a)).collect();
        check_operands(inst.op, &types)?;
        if let Op::FrameCheck(k) | Op::FrameOk(k) = inst.op {
            if k == 0 || k as usize > f.inlines.len() {
                return Err(format!(
                    "frame_check of inline frame {k}, which does not exist (in {})",
                    inst.op.name()
                ));
            }
        }
        if matches!(inst.op, Op::Call { .. } | Op::CallHost { .. }) {
            return Ok(());
        }
        let want = result_type(inst.op, &types);
        let got = inst.result.map(|r| f.ty(r));
        if want != got {
            let show = |t: Option<Type>| t.map_or("no result".to_string(), |t| t.to_string());
            return Err(format!("result is {}, expected {}", show(got), show(want)));
        }
        Ok(())
    }

    fn check_term(&self, b: Block, pos: usize) -> Result<(), String> {
        let f = self.f;
        let data = f.block(b);
        self.check_loc(data.term_loc.inline)?;
        let mut uses = Vec::new();
        data.term.for_each_use(|v| uses.push(v));
        for v in uses {
            self.check_available(v, b, pos)?;
        }
        match &data.term {
            Term::Branch { cond, .. } if f.ty(*cond) != Type::Bool => {
                return Err(format!("the condition is {}, expected bool", f.ty(*cond)));
            }
            Term::Return(v) => {
                let got = v.map(|v| f.ty(v));
                if got != f.ret {
                    let show = |t: Option<Type>| t.map_or("nothing".to_string(), |t| t.to_string());
                    return Err(format!(
                        "returns {}, the function returns {}",
                        show(got),
                        show(f.ret)
                    ));
                }
            }
            _ => {}
        }
        for d in data.term.successors() {
            let params = &f.block(d.block).params;
            if params.len() != d.args.len() {
                return Err(format!(
                    "{} arguments for the {} parameters of block{}",
                    d.args.len(),
                    params.len(),
                    d.block.0
                ));
            }
            for (k, (&a, &p)) in d.args.iter().zip(params).enumerate() {
                if f.ty(a) != f.ty(p) {
                    return Err(format!(
                        "argument {k} to block{} is {}, its parameter is {}",
                        d.block.0,
                        f.ty(a),
                        f.ty(p)
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_func;
    use super::super::parse::tests::EVERY_OP;
    use super::*;

    /// A loop summing `0..n` with a call in its body, well formed.
    const LOOP: &str = "function f0 \"sum\" -> int regs 4 entry_regs 0
block0(v0: int):
    v1 = iconst 0 @0
    jump block1(v1, v1) @1
block1(v2: int, v3: int):
    poll @2
    v4 = icmp.lt v2, v0 @2
    brif v4, block2, block3 @2
block2:
    v5 = call f1 window 2 (v2) -> int @3
    v6 = iadd v3, v5 @4
    v7 = iconst 1 @5
    v8 = iadd v2, v7 @5
    jump block1(v8, v6) @6
block3:
    ret v3 @7
";

    fn parse(text: &str) -> Func {
        parse_func(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn accepts_well_formed_functions() {
        verify(&parse(LOOP)).unwrap();
        verify(&parse(EVERY_OP)).unwrap();
    }

    /// Checks that `f` fails with a message containing `message` (and,
    /// when given, at the line containing `at`).
    fn rejects(f: &Func, at: &str, message: &str) {
        let e = verify(f).expect_err("must not verify");
        assert!(e.message.contains(message), "{e}");
        assert!(e.location.contains(at), "{e}");
        assert!(e.to_string().contains(message));
    }

    /// `LOOP` with `from` replaced by `to`.
    fn edited(from: &str, to: &str) -> Func {
        assert!(LOOP.contains(from), "{from}");
        parse(&LOOP.replacen(from, to, 1))
    }

    #[test]
    fn entry_first_in_layout() {
        let mut f = parse(LOOP);
        f.entry = Block(1);
        rejects(&f, "function", "not first in the layout");
    }

    #[test]
    fn entry_without_predecessors() {
        let f = edited("ret v3 @7", "jump block0(v3) @7");
        rejects(&f, "block0", "entry block has a predecessor: block3");
    }

    #[test]
    fn every_block_terminated() {
        rejects(&edited("ret v3 @7", "<none> @7"), "block3", "no terminator");
    }

    #[test]
    fn successors_live() {
        let f = edited("ret v3 @7", "jump block9 @7");
        rejects(&f, "block3: `jump block9 @7`", "block9 is not a live block");
    }

    #[test]
    fn block_argument_count() {
        let f = edited("jump block1(v8, v6) @6", "jump block1(v8) @6");
        rejects(&f, "block2", "1 arguments for the 2 parameters of block1");
    }

    #[test]
    fn block_argument_type() {
        let f = edited("jump block1(v8, v6) @6", "jump block1(v8, v4) @6");
        rejects(
            &f,
            "block2",
            "argument 1 to block1 is bool, its parameter is int",
        );
    }

    #[test]
    fn values_defined_once() {
        let f = edited("v7 = iconst 1 @5", "v6 = iconst 1 @5");
        rejects(&f, "v6 = iconst 1", "v6 is defined twice (first in block2)");
        let f = edited("block3:", "block3(v5: int):");
        rejects(&f, "block3", "v5 is defined twice");
    }

    #[test]
    fn definitions_recorded() {
        let mut f = parse(LOOP);
        f.values[6].def = ValueDef::Inst(Inst(0));
        rejects(&f, "v6 = iadd", "v6 says it is defined at Inst(Inst(0))");
        let mut f = parse(LOOP);
        f.values[3].def = ValueDef::Param(Block(1), 0);
        rejects(&f, "block1", "v3 says it is defined at Param(Block(1), 0)");
    }

    #[test]
    fn instructions_in_one_place() {
        let mut f = parse(LOOP);
        let i = f.blocks[2].insts[2];
        f.blocks[3].insts.push(i);
        rejects(&f, "block3: `v7 = iconst 1 @5`", "in the code twice");
    }

    #[test]
    fn uses_defined() {
        let f = edited("ret v3 @7", "ret v9 @7");
        rejects(&f, "block3", "v9 is not defined");
    }

    #[test]
    fn uses_dominated() {
        // v5 is defined in the loop body, which does not dominate the exit.
        let f = edited("ret v3 @7", "ret v5 @7");
        rejects(&f, "block3: `ret v5 @7`", "does not dominate");
        // Used before its definition in the same block.
        let f = edited("v6 = iadd v3, v5 @4", "v6 = iadd v3, v8 @4");
        rejects(&f, "v6 = iadd v3, v8", "v8 is used where its definition");
        // A terminator sees the whole block; a parameter is seen throughout.
        verify(&edited("jump block1(v8, v6) @6", "jump block1(v2, v3) @6")).unwrap();
    }

    #[test]
    fn operand_counts_and_types() {
        let cases = [
            ("v6 = iadd v3, v5 @4", "v6 = iadd v3 @4", "iadd takes 2 operands, not 1"),
            ("v6 = iadd v3, v5 @4", "v6 = iadd v3, v4 @4", "operand 1 is bool, expected int"),
            ("v4 = icmp.lt v2, v0 @2", "v9 = bconst true @2\n    v4 = icmp.lt v2, v9 @2", "operand 1 is bool, expected int like operand 0"),
            ("v7 = iconst 1 @5", "v9 = itof v2 @5\n    v7 = icmp.eq v9, v9 @5", "operand 0 is float, expected int or bool"),
            ("v7 = iconst 1 @5", "v7 = fcmp.lt v2, v2 @5", "operand 0 is int, expected float"),
            ("v7 = iconst 1 @5", "v9 = new_array v4, v2 @5\n    v7 = iconst 1 @5", "operand 0 is bool, expected int or float"),
            ("v7 = iconst 1 @5", "v9 = load v2, v2 @5\n    v7 = iconst 1 @5", "operand 0 is int, expected an array"),
            ("v7 = iconst 1 @5", "v9 = itof v2 @5\n    v10 = new_array v9, v2 @5\n    store v10, v2, v2 @5\n    v7 = iconst 1 @5", "operand 2 is int, expected float, the element type of operand 0"),
            ("v7 = iconst 1 @5", "v9 = new_array v2, v2 @5\n    v10 = load v9, v4 @5\n    v7 = iconst 1 @5", "operand 1 is bool, expected int"),
            ("v7 = iconst 1 @5", "v9 = itof v2 @5\n    v10 = new_array v9, v2 @5\n    v11 = atomic_add v10, v2, v2 @5\n    v7 = iconst 1 @5", "operand 0 is [float], expected [int]"),
            ("v7 = iconst 1 @5", "print_bool v2 @5\n    v7 = iconst 1 @5", "operand 0 is int, expected bool"),
        ];
        for (from, to, message) in cases {
            rejects(&edited(from, to), "block", message);
        }
        // Calls and spawns take anything.
        verify(&edited("v7 = iconst 1 @5", "v9 = spawn f1 window 2 (v2, v4) @5\n    call f1 window 2 (v9) @5\n    v7 = iconst 1 @5")).unwrap();
    }

    #[test]
    fn result_types() {
        let mut f = parse(LOOP);
        f.values[6].ty = Type::Float;
        rejects(&f, "v6 = iadd", "result is float, expected int");
        let f = edited("v7 = iconst 1 @5", "v7 = iconst 1 @5\n    v9 = poll @5");
        rejects(&f, "v9 = poll", "result is int, expected no result");
        let f = edited("v7 = iconst 1 @5", "v7 = iconst 1 @5\n    len v0 @5");
        rejects(&f, "len v0", "operand 0 is int, expected an array");
        let mut f = edited(
            "v7 = iconst 1 @5",
            "v9 = spawn f1 window 2 () @5\n    v7 = iconst 1 @5",
        );
        f.values[9].ty = Type::Bool;
        rejects(&f, "spawn", "result is bool, expected int");
    }

    #[test]
    fn return_type() {
        rejects(
            &edited("ret v3 @7", "ret v4 @7"),
            "block3",
            "returns bool, the function returns int",
        );
        rejects(
            &edited("ret v3 @7", "ret @7"),
            "block3",
            "returns nothing, the function returns int",
        );
    }

    #[test]
    fn branch_condition_bool() {
        let f = edited("brif v4, block2", "brif v2, block2");
        rejects(
            &f,
            "block1: `brif v2",
            "the condition is int, expected bool",
        );
    }

    #[test]
    fn locations_in_existing_frames() {
        rejects(
            &edited("v7 = iconst 1 @5", "v7 = iconst 1 @1:5"),
            "v7 = iconst",
            "inline frame 1, which does not exist",
        );
        rejects(
            &edited("ret v3 @7", "ret v3 @3:7"),
            "ret v3",
            "inline frame 3",
        );
        rejects(
            &edited("poll @2", "v9 = frame_ok 1 @2"),
            "frame_ok",
            "frame_check of inline frame 1",
        );
        let with_frame = LOOP.replace(
            "entry_regs 0\n",
            "entry_regs 0\ninline 1 = f1 parent 0 call_pc 3 reg_base 2 depth 1 regs 1\n",
        );
        verify(&parse(&with_frame.replace(
            "poll @2",
            "v9 = frame_ok 1 @1:0\n    frame_check 1 v9 @1:0",
        )))
        .unwrap();
    }

    #[test]
    fn inline_parents_come_first() {
        let text = LOOP.replace(
            "entry_regs 0\n",
            "entry_regs 0\ninline 1 = f1 parent 1 call_pc 3 reg_base 2 depth 1 regs 1\n",
        );
        rejects(&parse(&text), "function", "inline frame 1 has parent 1");
    }

    #[test]
    fn entry_regs_match_entry_parameters() {
        let f = parse(&LOOP.replace("entry_regs 0", "entry_regs 0,1"));
        rejects(
            &f,
            "function",
            "2 entry registers for 1 entry block parameters",
        );
    }

    #[test]
    fn no_unreachable_blocks() {
        let f = parse(&format!("{LOOP}block7:\n    ret v1 @0\n"));
        rejects(&f, "block7", "unreachable from the entry block");
    }

    #[test]
    fn layout_lists_each_existing_block_once() {
        let mut f = parse(LOOP);
        f.layout.push(Block(2));
        rejects(&f, "function", "layout lists block2 twice");
        let mut f = parse(LOOP);
        f.layout.push(Block(40));
        rejects(&f, "function", "block40, which does not exist");
    }

    #[test]
    fn out_of_range_indices_are_errors_not_panics() {
        let mut f = parse(LOOP);
        f.blocks[2].insts.push(Inst(1000));
        rejects(&f, "block2", "instruction 1000 does not exist");
        let mut f = parse(LOOP);
        f.insts[0].args.push(Value(1000));
        rejects(&f, "block0", "v1000 does not exist");
        let mut f = parse(LOOP);
        f.values.truncate(5);
        rejects(&f, "block2", "does not exist");
        assert!(verify(&Func::new(crate::bytecode::FuncId(0), "empty", None, 0)).is_err());
    }
}
