//! The IR's text form, as [`super::parse`] reads it back.
//!
//! ```text
//! function f0 "sum" -> int regs 6 entry_regs 0 osr 3
//! inline 1 = f2 parent 0 call_pc 7 reg_base 3 depth 1 regs 4
//! block0(v0: [int]):
//!     v1 = iconst 0 @0
//!     v2 = len v0 @1
//!     bounds_check v0, v1 @2
//!     v3 = load v0, v1 @2
//!     v4 = call f2 window 4 (v3) -> int @5
//!     print_str 3 @6
//!     brif v4, block1(v1), block2 @7
//! block1(v5: int):
//!     jump block2 @8
//! block2:
//!     ret v3 @1:4
//! ```
//!
//! - The header gives the function id and name, the return type (`-> T`,
//!   absent for none), the frame size, the frame register of each entry
//!   parameter (comma separated, `entry_regs -` for none) and, for code
//!   entered by on-stack replacement, the loop header pc (`osr PC`).
//! - One `inline K = ...` line per inlined frame, in order.
//! - Blocks in layout order, the entry block first; parameters with types.
//! - `@PC` is a location in the function itself, `@K:PC` in inlined frame K.
//! - Immediates: `iconst` in decimal, `fconst` as the float's bits in hex
//!   (`0x3ff0000000000000`), `bconst true|false`, `frame_ok K`, `frame_check K v`,
//!   `print_str S`; calls and spawns name the callee `fN` and the window,
//!   then their arguments in parentheses; a call with a result ends with
//!   its type (`-> T`), which only the module could tell otherwise.
//! - The terminator is the block's last line: `jump`, `brif`, `ret`, or
//!   `<none>` for a block not finished yet.

use super::{Block, Func, Inst, Op, Term, Value};
use std::fmt::Write;

/// The whole function as text.
pub fn func_to_string(f: &Func) -> String {
    let mut out = String::new();
    write!(out, "function f{} {:?}", f.id.0, f.name).unwrap();
    if let Some(ret) = f.ret {
        write!(out, " -> {ret}").unwrap();
    }
    write!(out, " regs {} entry_regs ", f.num_regs).unwrap();
    if f.entry_regs.is_empty() {
        out.push('-');
    } else {
        let regs: Vec<String> = f.entry_regs.iter().map(|r| r.to_string()).collect();
        out.push_str(&regs.join(","));
    }
    if let Some(pc) = f.osr_pc {
        write!(out, " osr {pc}").unwrap();
    }
    out.push('\n');
    for (i, inline) in f.inlines.iter().enumerate() {
        writeln!(
            out,
            "inline {} = f{} parent {} call_pc {} reg_base {} depth {} regs {}",
            i + 1,
            inline.func.0,
            inline.parent,
            inline.call_pc,
            inline.reg_base,
            inline.depth,
            inline.num_regs
        )
        .unwrap();
    }
    for &b in &f.layout {
        block_to_string(f, b, &mut out);
    }
    out
}

fn value(v: Value) -> String {
    format!("v{}", v.0)
}

fn values(vs: &[Value]) -> String {
    vs.iter().map(|&v| value(v)).collect::<Vec<_>>().join(", ")
}

fn loc(l: super::Loc) -> String {
    if l.inline == 0 {
        format!("@{}", l.pc)
    } else {
        format!("@{}:{}", l.inline, l.pc)
    }
}

fn block_call(d: &super::BlockCall) -> String {
    if d.args.is_empty() {
        format!("block{}", d.block.0)
    } else {
        format!("block{}({})", d.block.0, values(&d.args))
    }
}

fn block_to_string(f: &Func, b: Block, out: &mut String) {
    let data = f.block(b);
    write!(out, "block{}", b.0).unwrap();
    if !data.params.is_empty() {
        let params: Vec<String> = data
            .params
            .iter()
            .map(|&p| format!("{}: {}", value(p), f.ty(p)))
            .collect();
        write!(out, "({})", params.join(", ")).unwrap();
    }
    out.push_str(":\n");
    for &i in &data.insts {
        writeln!(out, "    {}", inst_to_string(f, i)).unwrap();
    }
    writeln!(out, "    {}", term_to_string(f, b)).unwrap();
}

/// One instruction as its line of the text form (without indentation).
pub fn inst_to_string(f: &Func, i: Inst) -> String {
    let inst = f.inst(i);
    let mut out = String::new();
    if let Some(r) = inst.result {
        write!(out, "{} = ", value(r)).unwrap();
    }
    out.push_str(&inst.op.name());
    let imm = match inst.op {
        Op::Iconst(c) => Some(c.to_string()),
        Op::Fconst(bits) => Some(format!("{bits:#x}")),
        Op::Bconst(b) => Some(b.to_string()),
        Op::PrintStr(s) => Some(s.to_string()),
        Op::FrameCheck(k) | Op::FrameOk(k) => Some(k.to_string()),
        Op::Call { func, window } | Op::Spawn { func, window } => {
            Some(format!("f{} window {window}", func.0))
        }
        Op::CallHost { host, window } => Some(format!("h{} window {window}", host.0)),
        _ => None,
    };
    if let Some(imm) = imm {
        write!(out, " {imm}").unwrap();
    }
    if inst.op.has_window() {
        write!(out, " ({})", values(&inst.args)).unwrap();
    } else if !inst.args.is_empty() {
        write!(out, " {}", values(&inst.args)).unwrap();
    }
    // A call's result type is the callee's return type, which the text
    // does not otherwise say.
    if let (Op::Call { .. } | Op::CallHost { .. }, Some(r)) = (inst.op, inst.result) {
        write!(out, " -> {}", f.ty(r)).unwrap();
    }
    write!(out, " {}", loc(inst.loc)).unwrap();
    out
}

/// A block's terminator as its line of the text form (without
/// indentation).
pub fn term_to_string(f: &Func, b: Block) -> String {
    let data = f.block(b);
    let mut out = String::new();
    match &data.term {
        Term::None => out.push_str("<none>"),
        Term::Jump(d) => write!(out, "jump {}", block_call(d)).unwrap(),
        Term::Branch {
            cond,
            then_dest,
            else_dest,
        } => write!(
            out,
            "brif {}, {}, {}",
            value(*cond),
            block_call(then_dest),
            block_call(else_dest)
        )
        .unwrap(),
        Term::Return(None) => out.push_str("ret"),
        Term::Return(Some(v)) => write!(out, "ret {}", value(*v)).unwrap(),
    }
    write!(out, " {}", loc(data.term_loc)).unwrap();
    out
}
