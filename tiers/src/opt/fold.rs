//! Constant folding and propagation, algebraic simplification, copy
//! propagation and branch folding, in one walk over the blocks in reverse
//! postorder (so a value's definition is seen before its uses, except
//! through loop-carried block parameters).
//!
//! Every rule is exact for every input, NaN and overflow included:
//!
//! - integer arithmetic folds with wrapping, `/` and `%` fold only for a
//!   non-zero divisor (a zero one must still trap at run time), shifts
//!   take their count mod 64;
//! - floats fold only when every operand is a constant, with the very
//!   operation the machine does (IEEE, round to nearest, one rounding per
//!   operation); no algebraic rule touches a float (`x + 0.0` is not `x`
//!   for `-0.0`, `x * 0.0` is not `0.0` for NaN);
//! - a branch on a constant becomes a jump (the other edge is gone; dead
//!   code elimination drops what it made unreachable).
//!
//! Rules, in the order `simplify` tries them:
//!
//! 1. `copy x` is `x`.
//! 2. All operands constant: the folded constant.
//! 3. Commutative operations and comparisons put a constant operand
//!    second (so lowering can use an immediate).
//! 4. Identities: `x+0`, `x-0`, `x*1`, `x/1`, `x|0`, `x^0`, `x&-1`,
//!    `x<<0`, `x>>0` are `x`; `x*0`, `x&0`, `x%1`, `x%-1`, `x-x`, `x^x`
//!    are 0; `x/-1` is `-x`; `x&x`, `x|x`, `min(x,x)`, `max(x,x)` are `x`;
//!    `x cmp x` is a constant; `(x+c1)+c2` is `x+(c1+c2)`.
//! 5. `!!b` is `b`; `!(a cmp b)` is `a (inverse cmp) b`.
//! 6. `len([v; n])` is `n`.

use super::analysis::compute_rpo;
use super::build::remove_trivial_params;
use super::dce::{merge_identical_branch_targets, merge_jump_chains, remove_unreachable_blocks};
use super::ir::{Func, Inst, IntCC, Op, Term, Value};
use crate::builtins::{float_max, float_min};
use crate::Type;

/// What a rule turns an instruction into.
enum Rewrite {
    /// Its result is this other value; the instruction goes.
    Value(Value),
    /// The instruction becomes this one (same result value).
    Op(Op, Vec<Value>),
    /// The instruction becomes `x + c` for a new constant `c`.
    AddConst(Value, i64),
}

/// Folds constants and simplifies `f`.
pub fn fold_constants(f: &mut Func, _: &super::PassContext) {
    let mut map = f.identity_map();
    for b in compute_rpo(f) {
        let insts = std::mem::take(&mut f.blocks[b.index()].insts);
        let mut kept = Vec::with_capacity(insts.len());
        for i in insts {
            for a in f.insts[i.index()].args.iter_mut() {
                *a = map[a.index()];
            }
            match simplify(f, i) {
                Some(Rewrite::Value(v)) => {
                    let r = f.insts[i.index()].result.expect("rewritten to a value");
                    map[r.index()] = v;
                }
                Some(Rewrite::Op(op, args)) => {
                    let inst = &mut f.insts[i.index()];
                    inst.op = op;
                    inst.args = args;
                    kept.push(i);
                }
                Some(Rewrite::AddConst(x, c)) => {
                    let loc = f.insts[i.index()].loc;
                    let k = f.make_inst(Op::Iconst(c), Vec::new(), Some(Type::Int), loc);
                    kept.push(k);
                    let c = f.insts[k.index()].result.expect("a constant");
                    let inst = &mut f.insts[i.index()];
                    inst.op = Op::Iadd;
                    inst.args = vec![x, c];
                    kept.push(i);
                }
                None => kept.push(i),
            }
        }
        f.blocks[b.index()].insts = kept;
        let m = &map;
        f.blocks[b.index()].term.map_uses(|v| m[v.index()]);
        fold_branch(f, b);
    }
    // Uses reached only through back edges were rewritten before their
    // definitions were: rewrite once more with the final map.
    f.substitute_chains(&mut map);
    merge_identical_branch_targets(f);
    remove_unreachable_blocks(f);
    remove_trivial_params(f);
    merge_jump_chains(f);
}

/// A branch on a constant becomes a jump; a branch on `!c` branches on
/// `c` with the destinations swapped.
fn fold_branch(f: &mut Func, b: super::ir::Block) {
    let Term::Branch { cond, .. } = f.blocks[b.index()].term else {
        return;
    };
    let def = f
        .def_inst(cond)
        .map(|i| (f.inst(i).op, f.inst(i).args.clone()));
    let term = &mut f.blocks[b.index()].term;
    let Term::Branch {
        cond,
        then_dest,
        else_dest,
    } = term
    else {
        return;
    };
    match def {
        Some((Op::Bconst(c), _)) => {
            let dest = if c {
                then_dest.clone()
            } else {
                else_dest.clone()
            };
            *term = Term::Jump(dest);
        }
        Some((Op::Bnot, args)) => {
            *cond = args[0];
            std::mem::swap(then_dest, else_dest);
        }
        _ => {}
    }
}

fn int_const(f: &Func, v: Value) -> Option<i64> {
    f.as_iconst(v)
}

/// The bits of a constant of any type.
fn const_bits(f: &Func, v: Value) -> Option<u64> {
    match f.def_op(v)? {
        Op::Iconst(c) => Some(c as u64),
        Op::Fconst(b) => Some(b),
        Op::Bconst(b) => Some(b as u64),
        _ => None,
    }
}

fn is_commutative(op: Op) -> bool {
    matches!(
        op,
        Op::Iadd | Op::Imul | Op::Iand | Op::Ior | Op::Ixor | Op::Imin | Op::Imax
    )
}

fn simplify(f: &Func, i: Inst) -> Option<Rewrite> {
    let inst = f.inst(i);
    let (op, args) = (inst.op, &inst.args);
    if op == Op::Copy {
        return Some(Rewrite::Value(args[0]));
    }
    if let Some(folded) = fold_all_constant(f, op, args) {
        return Some(Rewrite::Op(folded, Vec::new()));
    }
    if args.len() == 2 && const_bits(f, args[0]).is_some() && const_bits(f, args[1]).is_none() {
        if is_commutative(op) {
            return Some(Rewrite::Op(op, vec![args[1], args[0]]));
        }
        if let Op::Icmp(cc) = op {
            return Some(Rewrite::Op(Op::Icmp(cc.swap()), vec![args[1], args[0]]));
        }
    }
    identity(f, op, args)
}

/// The constant an operation on constant operands gives, if it may be
/// folded (never for an operation that would trap).
fn fold_all_constant(f: &Func, op: Op, args: &[Value]) -> Option<Op> {
    if args.is_empty() || !op.is_pure() && !matches!(op, Op::Idiv | Op::Irem) {
        return None;
    }
    let bits: Vec<u64> = args
        .iter()
        .map(|&a| const_bits(f, a))
        .collect::<Option<_>>()?;
    let i = |n: usize| bits[n] as i64;
    let x = |n: usize| f64::from_bits(bits[n]);
    let int = |v: i64| Some(Op::Iconst(v));
    let float = |v: f64| Some(Op::Fconst(v.to_bits()));
    match op {
        Op::Iadd => int(i(0).wrapping_add(i(1))),
        Op::Isub => int(i(0).wrapping_sub(i(1))),
        Op::Imul => int(i(0).wrapping_mul(i(1))),
        Op::Idiv if i(1) != 0 => int(i(0).wrapping_div(i(1))),
        Op::Irem if i(1) != 0 => int(i(0).wrapping_rem(i(1))),
        Op::Iand => int(i(0) & i(1)),
        Op::Ior => int(i(0) | i(1)),
        Op::Ixor => int(i(0) ^ i(1)),
        Op::Ishl => int(i(0).wrapping_shl(bits[1] as u32)),
        Op::Ishr => int(i(0).wrapping_shr(bits[1] as u32)),
        Op::Imin => int(i(0).min(i(1))),
        Op::Imax => int(i(0).max(i(1))),
        Op::Ineg => int(i(0).wrapping_neg()),
        Op::Inot => int(!i(0)),
        Op::Iabs => int(i(0).wrapping_abs()),
        Op::Fadd => float(x(0) + x(1)),
        Op::Fsub => float(x(0) - x(1)),
        Op::Fmul => float(x(0) * x(1)),
        Op::Fdiv => float(x(0) / x(1)),
        Op::Fmin => float(float_min(x(0), x(1))),
        Op::Fmax => float(float_max(x(0), x(1))),
        Op::Fneg => Some(Op::Fconst(bits[0] ^ (1 << 63))),
        Op::Fabs => Some(Op::Fconst(bits[0] & !(1 << 63))),
        Op::Fsqrt => float(x(0).sqrt()),
        Op::ItoF => float(i(0) as f64),
        Op::FtoI => int(x(0) as i64),
        Op::Icmp(cc) => Some(Op::Bconst(cc.eval(i(0), i(1)))),
        Op::Fcmp(cc) => Some(Op::Bconst(cc.eval(x(0), x(1)))),
        Op::Bnot => Some(Op::Bconst(bits[0] == 0)),
        _ => None,
    }
}

/// Rules 4 to 6 of the module doc.
fn identity(f: &Func, op: Op, args: &[Value]) -> Option<Rewrite> {
    let c1 = args.get(1).and_then(|&a| int_const(f, a));
    let same = args.len() == 2 && args[0] == args[1];
    let zero = || Rewrite::Op(Op::Iconst(0), Vec::new());
    let keep = || Rewrite::Value(args[0]);
    match (op, c1) {
        (Op::Iadd | Op::Isub | Op::Ior | Op::Ixor, Some(0)) => Some(keep()),
        (Op::Imul | Op::Idiv, Some(1)) => Some(keep()),
        (Op::Iand, Some(-1)) => Some(keep()),
        (Op::Ishl | Op::Ishr, Some(c)) if c & 63 == 0 => Some(keep()),
        (Op::Imul | Op::Iand, Some(0)) => Some(zero()),
        (Op::Irem, Some(1 | -1)) => Some(zero()),
        (Op::Idiv, Some(-1)) => Some(Rewrite::Op(Op::Ineg, vec![args[0]])),
        (Op::Isub | Op::Ixor, _) if same => Some(zero()),
        (Op::Iand | Op::Ior | Op::Imin | Op::Imax, _) if same => Some(keep()),
        (Op::Icmp(cc), _) if same => Some(Rewrite::Op(
            Op::Bconst(matches!(cc, IntCC::Eq | IntCC::Le | IntCC::Ge)),
            Vec::new(),
        )),
        (Op::Iadd, Some(c2)) => {
            // (x + c1) + c2 = x + (c1 + c2): wrapping addition associates.
            let inner = f.def_inst(args[0]).map(|i| f.inst(i))?;
            let c1 = (inner.op == Op::Iadd)
                .then(|| int_const(f, inner.args[1]))
                .flatten()?;
            Some(Rewrite::AddConst(inner.args[0], c1.wrapping_add(c2)))
        }
        (Op::Bnot, _) => {
            let inner = f.def_inst(args[0]).map(|i| f.inst(i))?;
            match inner.op {
                Op::Bnot => Some(Rewrite::Value(inner.args[0])),
                Op::Icmp(cc) => Some(Rewrite::Op(Op::Icmp(cc.invert()), inner.args.clone())),
                Op::Fcmp(cc) => Some(Rewrite::Op(Op::Fcmp(cc.invert()), inner.args.clone())),
                _ => None,
            }
        }
        (Op::Len, _) => {
            let inner = f.def_inst(args[0]).map(|i| f.inst(i))?;
            (inner.op == Op::NewArray).then(|| Rewrite::Value(inner.args[1]))
        }
        _ => None,
    }
}
