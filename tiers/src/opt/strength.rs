//! Strength reduction: cheaper instructions for the same result.
//!
//! - `x * 2^k` is `x << k` (wrapping multiplication by a power of two is
//!   exactly a left shift);
//! - `x / 2^k` (k >= 1) rounds toward zero: `(x + ((x >> 63) & (2^k - 1)))
//!   >> k`, the bias making negative dividends round up;
//! - `x % 2^k` is `x - ((x / 2^k) << k)` with that quotient, which has the
//!   sign of `x` as `%` must.
//!
//! A divisor that is a non-zero constant cannot trap, so the rewritten
//! code is pure (and may then move out of loops).

use super::ir::{Func, Inst, Op, Value};
use super::PassContext;
use crate::Type;

/// Rewrites multiplications and divisions by powers of two in `f`.
pub fn reduce_strength(f: &mut Func, _: &PassContext) {
    for bi in 0..f.layout.len() {
        let b = f.layout[bi];
        let insts = std::mem::take(&mut f.blocks[b.index()].insts);
        let mut out = Vec::with_capacity(insts.len());
        for i in insts {
            let inst = f.inst(i);
            let (op, loc) = (inst.op, inst.loc);
            let k = match op {
                Op::Imul | Op::Idiv | Op::Irem => f
                    .as_iconst(inst.args[1])
                    .filter(|&c| c > 1 && (c as u64).is_power_of_two())
                    .map(|c| c.trailing_zeros() as i64),
                _ => None,
            };
            let Some(k) = k else {
                out.push(i);
                continue;
            };
            let x = f.inst(i).args[0];
            let mut new = |f: &mut Func, op: Op, args: Vec<Value>| -> Value {
                let n = f.make_inst(op, args, Some(Type::Int), loc);
                out.push(n);
                f.inst(n).result.expect("int result")
            };
            match op {
                Op::Imul => {
                    let kv = new(f, Op::Iconst(k), vec![]);
                    rewrite(f, i, Op::Ishl, vec![x, kv]);
                }
                _ => {
                    let c63 = new(f, Op::Iconst(63), vec![]);
                    let sign = new(f, Op::Ishr, vec![x, c63]);
                    let mask = new(f, Op::Iconst((1i64 << k) - 1), vec![]);
                    let bias = new(f, Op::Iand, vec![sign, mask]);
                    let biased = new(f, Op::Iadd, vec![x, bias]);
                    let kv = new(f, Op::Iconst(k), vec![]);
                    if op == Op::Idiv {
                        rewrite(f, i, Op::Ishr, vec![biased, kv]);
                    } else {
                        let q = new(f, Op::Ishr, vec![biased, kv]);
                        let back = new(f, Op::Ishl, vec![q, kv]);
                        rewrite(f, i, Op::Isub, vec![x, back]);
                    }
                }
            }
            out.push(i);
        }
        f.blocks[b.index()].insts = out;
    }
}

fn rewrite(f: &mut Func, i: Inst, op: Op, args: Vec<Value>) {
    let inst = &mut f.insts[i.index()];
    inst.op = op;
    inst.args = args;
}
