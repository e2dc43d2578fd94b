//! The readable text form of bytecode (`tierjit dump`), and the opcode
//! reference that `docs/bytecode.md` is generated from.
//!
//! ```text
//! fn fib(int) -> int    ; 4 registers
//!     pc  line  instruction
//!      0     3  ldi        r1, 2
//!      1     3  jle.i      r1, r0, @4
//! ```
//!
//! Registers print as `rN`, branch targets as `@PC`, constants as their
//! value, functions by name, strings quoted with tj's escapes.

use super::{Function, Instr, Module, Opcode, OperandKind};
use std::fmt::Write;

/// The whole module, one function after another.
pub fn module_to_string(module: &Module) -> String {
    let mut out = String::new();
    for host in &module.hosts {
        let params: Vec<&str> = host.params.iter().map(|t| t.name()).collect();
        let _ = write!(out, "host fn {}({})", host.name, params.join(", "));
        if let Some(ret) = host.ret {
            let _ = write!(out, " -> {ret}");
        }
        out.push('\n');
    }
    for (i, func) in module.funcs.iter().enumerate() {
        if i > 0 || !module.hosts.is_empty() {
            out.push('\n');
        }
        out.push_str(&function_to_string(module, func));
    }
    out
}

/// One function: its signature, then one line per instruction.
pub fn function_to_string(module: &Module, func: &Function) -> String {
    let params: Vec<&str> = func.params.iter().map(|t| t.name()).collect();
    let mut out = format!("fn {}({})", func.name, params.join(", "));
    if let Some(ret) = func.ret {
        let _ = write!(out, " -> {ret}");
    }
    let _ = writeln!(out, "    ; {} registers", func.num_regs);
    let _ = writeln!(out, "    pc  line  instruction");
    for (pc, instr) in func.code.iter().enumerate() {
        let line = func.lines.line(pc as u32);
        let _ = writeln!(
            out,
            "{pc:>6}  {line:>4}  {}",
            instr_to_string(module, func, instr)
        );
    }
    out
}

/// One instruction: mnemonic and operands.
pub fn instr_to_string(module: &Module, func: &Function, instr: &Instr) -> String {
    let mut operands = Vec::new();
    instr.for_each_operand(|kind, v| operands.push(operand_to_string(module, func, kind, v)));
    let mnemonic = instr.opcode().mnemonic();
    if operands.is_empty() {
        mnemonic.to_string()
    } else {
        format!("{mnemonic:<10} {}", operands.join(", "))
    }
}

fn operand_to_string(module: &Module, func: &Function, kind: OperandKind, v: u32) -> String {
    let constant = |v: u32| func.consts.get(v as usize).copied();
    match kind {
        OperandKind::Imm => (v as i32).to_string(),
        OperandKind::Target => format!("@{v}"),
        OperandKind::ConstInt => match constant(v) {
            Some(bits) => (bits as i64).to_string(),
            None => format!("k{v}?"),
        },
        OperandKind::ConstFloat => match constant(v) {
            Some(bits) => format!("{:?}", f64::from_bits(bits)),
            None => format!("k{v}?"),
        },
        OperandKind::Func => match module.funcs.get(v as usize) {
            Some(f) => f.name.clone(),
            None => format!("f{v}?"),
        },
        OperandKind::Host => match module.hosts.get(v as usize) {
            Some(h) => format!("host:{}", h.name),
            None => format!("h{v}?"),
        },
        OperandKind::Str => match module.strings.get(v as usize) {
            Some(s) => quote(s),
            None => format!("s{v}?"),
        },
        _ => format!("r{v}"),
    }
}

/// A string as a tj string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The opcode reference in Markdown, generated from the opcode table;
/// `docs/bytecode.md` holds exactly this (a test keeps it in step).
pub fn opcode_reference() -> String {
    let mut out = String::from(
        "# Bytecode reference\n\n\
         Generated from the opcode table in `tiers/src/bytecode/opcodes.rs`; do not\n\
         edit by hand (`TIERJIT_BLESS=1 cargo test -p tierjit-tiers` rewrites it).\n\n\
         `R[x]` is register `x` of the current frame, `K[k]` the function's\n\
         constant pool, `S[s]` the module's string table. Operand kinds: `R*` reads\n\
         a register of that type, `W*` writes one, `Window` is the first register\n\
         of a call's argument window (the callee's frame starts there),\n\
         `Target` a pc, `Imm` a signed 32-bit immediate, `Func` a function of\n\
         the module, `Host` a host function it imports (`Module::hosts`).\n\n\
         | # | mnemonic | operands | effects | semantics |\n\
         |---|---|---|---|---|\n",
    );
    for (n, &op) in Opcode::ALL.iter().enumerate() {
        let operands: Vec<String> = op
            .operand_names()
            .iter()
            .zip(op.operand_kinds())
            .map(|(name, kind)| format!("{name}: {kind:?}"))
            .collect();
        let _ = writeln!(
            out,
            "| {n} | `{}` | {} | {} | {} |",
            op.mnemonic(),
            operands.join(", "),
            op.effects().names().join(", "),
            op.semantics().replace('|', "\\|")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::builder::FunctionBuilder;
    use super::super::Reg;
    use super::*;
    use crate::Type;

    #[test]
    fn prints_a_function() {
        let mut b = FunctionBuilder::new("f", vec![Type::Int], Some(Type::Int));
        b.reserve_regs(2);
        b.set_line(7);
        b.load_float(Reg(1), 0.5);
        b.emit(Instr::Return { src: Reg(0) });
        let module = Module {
            funcs: vec![b.finish().unwrap()],
            ..Module::default()
        };
        let text = module_to_string(&module);
        assert_eq!(
            text,
            "fn f(int) -> int    ; 2 registers\n    pc  line  instruction\n     0     7  ldk.f      r1, 0.5\n     1     7  ret        r0\n"
        );
    }

    #[test]
    fn docs_bytecode_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/bytecode.md");
        let expected = opcode_reference();
        if std::env::var_os("TIERJIT_BLESS").is_some() {
            std::fs::write(path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/bytecode.md is stale: run TIERJIT_BLESS=1 cargo test -p tierjit-tiers"
        );
    }
}
