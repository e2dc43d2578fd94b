//! Baseline machine code, disassembled and interleaved with the bytecode
//! and the source it came from (`tierjit disasm`).
//!
//! ```text
//! fn fib(int) -> int    ; 4 registers, 333 bytes of baseline code
//!       ; prologue
//!       0000  55                                push rbp
//! ...
//! ; line 4: if n < 2 { return n; }
//!    0  jgei.i     r0, 2, @2
//!       0045  48 83 3b 02                       cmp qword ptr [rbx], 2
//!       0049  0f 8d 08 00 00 00                 jge 0x57    ; @2
//! ...
//! ; out-of-line code
//!       ; pc 7: ret        r1
//!       00d2  49 83 6f 20 01                    sub qword ptr [r15+0x20], 1
//! ```
//!
//! Needs: a verified module (what [`crate::lang::compile`] gives) and the
//! source text it was compiled from (used only to show lines; a line past
//! the end shows empty). Guarantees: every byte of the function's baseline
//! code appears in exactly one machine-instruction row, in offset order.
//! The code is decoded at address 0, as it is position independent, so
//! offsets and branch targets are the same on every run.
//!
//! The listing follows the layout [`tierjit_tiers::baseline::compile`] documents: its pc
//! map's first entry is the prologue (at offset 0, pc 0); then one entry per
//! instruction in pc order, so body pcs strictly increase; the first entry
//! that does not increase begins the out-of-line code (epilogue, trap stubs,
//! unwind path, overflow exit), each stub mapped to the pc of its site.
//! Entries that share an offset keep only the first, so after an
//! instruction that emitted no code the next pc has no entry: it is listed
//! with no machine instructions, and its code shows under the pc before.
//! Entries for inlined code (none in baseline code) are listed where they
//! fall, under their whole inline chain, and do not end the body.

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, OpKind};
use std::fmt::Write;
use std::ops::Range;
use tierjit_tiers::baseline::{self, BaselineError};
use tierjit_tiers::bytecode::{text, FuncId, Module};
use tierjit_tiers::code::{CompiledCode, Tier};
use tierjit_tiers::opt;

/// Width of the hex-bytes column: instructions up to this many bytes keep
/// the next column aligned.
const HEX_COLUMN_BYTES: usize = 11;

/// Every function of `module`, one listing after another, separated by
/// blank lines.
pub fn module_listing(module: &Module, source: &str, tier: Tier) -> Result<String, String> {
    let mut out = String::new();
    for i in 0..module.funcs.len() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&function_listing(module, FuncId(i as u32), source, tier)?);
    }
    Ok(out)
}

/// Compiles `func` with the compiler of `tier` (baseline or opt) and lists
/// its machine code under the bytecode instruction and source line each
/// part came from.
pub fn function_listing(
    module: &Module,
    func: FuncId,
    source: &str,
    tier: Tier,
) -> Result<String, String> {
    match tier {
        Tier::Opt => {
            let compiled =
                opt::compile(module, func, &opt::Options::default()).map_err(|e| e.to_string())?;
            Ok(render_linear(module, source, &compiled))
        }
        _ => {
            let compiled =
                baseline::compile(module, func).map_err(|e: BaselineError| e.to_string())?;
            Ok(render(module, source, &compiled))
        }
    }
}

/// A run of machine code that one heading stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// The frame setup before pc 0.
    Prologue,
    /// The in-line code of bytecode instruction `pc`.
    Body { pc: u32 },
    /// Out-of-line code for the site at bytecode `pc`.
    Stub { pc: u32 },
    /// Code of an inlined function, starting at this native offset (its
    /// frames come from the pc map).
    Inlined { offset: u32 },
}

/// Splits the code into parts by the pc map (see the module doc): every
/// byte falls in exactly one range, and the ranges are in offset order.
fn split(compiled: &CompiledCode, num_instrs: usize) -> Vec<(Part, Range<usize>)> {
    let map = &compiled.pc_map;
    let mut parts = Vec::with_capacity(map.len() + num_instrs);
    let mut next_pc = 0u32;
    let mut in_body = true;
    for (i, entry) in map.iter().enumerate() {
        let (offset, pc) = (entry.offset, entry.pc);
        let end = map
            .get(i + 1)
            .map_or(compiled.code.len(), |e| e.offset as usize);
        let range = offset as usize..end;
        if i == 0 {
            parts.push((Part::Prologue, range));
            continue;
        }
        if entry.inline != 0 {
            parts.push((Part::Inlined { offset }, range));
            continue;
        }
        in_body = in_body && pc >= next_pc;
        if !in_body {
            parts.push((Part::Stub { pc }, range));
            continue;
        }
        // The compiler keeps only the first of entries sharing an offset;
        // a pc without an entry is listed, with no code.
        for skipped in next_pc..pc {
            parts.push((Part::Body { pc: skipped }, offset as usize..offset as usize));
        }
        parts.push((Part::Body { pc }, range));
        next_pc = pc + 1;
    }
    let body_end = parts
        .iter()
        .rev()
        .find(|(part, _)| matches!(part, Part::Body { .. }))
        .map_or(0, |(_, r)| r.end);
    for pc in next_pc..num_instrs as u32 {
        parts.push((Part::Body { pc }, body_end..body_end));
    }
    // Keep offset order if trailing empty bodies were appended after stubs.
    parts.sort_by_key(|(part, r)| (r.start, !matches!(part, Part::Body { .. })));
    parts
}

/// One decoded machine instruction.
#[derive(Clone, Debug)]
struct Row {
    offset: usize,
    len: usize,
    text: String,
    /// Where a direct jump or call goes.
    branch_target: Option<usize>,
}

/// Decodes `code[range]` at its own offsets (the code's base is address 0).
fn decode(code: &[u8], range: Range<usize>, formatter: &mut IntelFormatter) -> Vec<Row> {
    let mut decoder = Decoder::with_ip(
        64,
        &code[range.clone()],
        range.start as u64,
        DecoderOptions::NONE,
    );
    let mut rows = Vec::new();
    while decoder.can_decode() {
        let instr = decoder.decode();
        let mut text = String::new();
        if instr.is_invalid() {
            text.push_str("(bad)");
        } else {
            formatter.format(&instr, &mut text);
        }
        let branch_target = (instr.op_count() == 1 && instr.op0_kind() == OpKind::NearBranch64)
            .then(|| instr.near_branch64() as usize);
        rows.push(Row {
            offset: instr.ip() as usize,
            len: instr.len(),
            text,
            branch_target,
        });
    }
    rows
}

fn formatter() -> IntelFormatter {
    let mut formatter = IntelFormatter::new();
    let options = formatter.options_mut();
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_signed_immediate_operands(true);
    options.set_branch_leading_zeros(false);
    options.set_space_after_operand_separator(true);
    formatter
}

/// `fn name(int, [float]) -> int`, the heading of a listing.
fn signature(func: &tierjit_tiers::bytecode::Function) -> String {
    let params: Vec<&str> = func.params.iter().map(|t| t.name()).collect();
    let mut out = format!("fn {}({})", func.name, params.join(", "));
    if let Some(ret) = func.ret {
        let _ = write!(out, " -> {ret}");
    }
    out
}

fn render(module: &Module, source: &str, compiled: &CompiledCode) -> String {
    let func = module.func(compiled.func);
    let source_lines: Vec<&str> = source.lines().collect();
    let mut formatter = formatter();
    let mut out = signature(func);
    let _ = writeln!(
        out,
        "    ; {} registers, {} bytes of baseline code",
        func.num_regs,
        compiled.code.len()
    );
    let instr_text = |pc: u32| text::instr_to_string(module, func, &func.code[pc as usize]);
    let parts = split(compiled, func.code.len());
    // Branches to the start of a part say which: `@pc` as in bytecode text.
    let target_name = |offset: usize| {
        let (part, _) = parts
            .iter()
            .find(|(_, r)| r.start == offset && !r.is_empty())?;
        match part {
            Part::Prologue => None,
            Part::Body { pc } => Some(format!("@{pc}")),
            Part::Stub { pc } => Some(format!("out-of-line, pc {pc}")),
            Part::Inlined { .. } => None,
        }
    };
    let mut last_line = None;
    let mut in_tail = false;
    for (part, range) in parts.iter().cloned() {
        match part {
            Part::Prologue => out.push_str("      ; prologue\n"),
            Part::Body { pc } => {
                let line = func.lines.line(pc);
                if last_line != Some(line) {
                    last_line = Some(line);
                    let text = source_lines
                        .get((line as usize).wrapping_sub(1))
                        .map_or("", |l| l.trim());
                    let _ = writeln!(out, "; line {line}: {text}");
                }
                let _ = writeln!(out, "{pc:>4}  {}", instr_text(pc));
            }
            Part::Stub { pc } => {
                if !in_tail {
                    in_tail = true;
                    out.push_str("; out-of-line code\n");
                }
                let _ = writeln!(out, "      ; pc {pc}: {}", instr_text(pc));
            }
            Part::Inlined { offset } => {
                let _ = writeln!(out, "      ; {}", inline_heading(module, compiled, offset));
            }
        }
        write_rows(
            &mut out,
            &compiled.code,
            range,
            &mut formatter,
            &target_name,
            &|_| None,
        );
    }
    out
}

/// One row per machine instruction of `code[range]`: offset, bytes,
/// instruction, and the name of a branch target where `target_name` has
/// one (a direct call, the callee `call_sites` names for the
/// instruction's displacement: its target is patched in when the code is
/// placed, so the listing's address means nothing).
fn write_rows(
    out: &mut String,
    code: &[u8],
    range: Range<usize>,
    formatter: &mut IntelFormatter,
    target_name: &dyn Fn(usize) -> Option<String>,
    call_sites: &dyn Fn(usize) -> Option<String>,
) {
    for row in decode(code, range, formatter) {
        let bytes = &code[row.offset..row.offset + row.len];
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = write!(
            out,
            "      {:04x}  {:<width$}  {}",
            row.offset,
            hex.join(" "),
            row.text,
            width = HEX_COLUMN_BYTES * 3 - 1
        );
        let note = match call_sites(row.offset + 1) {
            Some(callee) => Some(format!("{callee}, direct: patched to its code when placed")),
            None => row.branch_target.and_then(target_name),
        };
        match note {
            Some(name) => {
                let _ = writeln!(out, "    ; {name}");
            }
            None => out.push('\n'),
        }
    }
}

/// Optimized code, in offset order: its blocks are not in bytecode order,
/// so each run of code the pc map gives one location is headed by that
/// location's frames (innermost first), line and instruction.
fn render_linear(module: &Module, source: &str, compiled: &CompiledCode) -> String {
    let source_lines: Vec<&str> = source.lines().collect();
    let mut formatter = formatter();
    let mut out = signature(module.func(compiled.func));
    let _ = writeln!(
        out,
        "    ; {} bytes of optimized code, frame {} bytes",
        compiled.code.len(),
        compiled.frame_size
    );
    let map = &compiled.pc_map;
    let starts: Vec<(usize, String)> = map
        .iter()
        .map(|e| (e.offset as usize, format!("@{}", e.pc)))
        .collect();
    let target_name = |offset: usize| {
        starts
            .iter()
            .find(|(o, _)| *o == offset)
            .map(|(_, n)| n.clone())
    };
    let call_sites = |displacement: usize| {
        compiled
            .call_sites
            .iter()
            .find(|s| s.offset as usize == displacement)
            .map(|s| module.func(s.callee).name.clone())
    };
    for (i, entry) in map.iter().enumerate() {
        let end = map
            .get(i + 1)
            .map_or(compiled.code.len(), |e| e.offset as usize);
        let mut frames = Vec::new();
        compiled.frames_at(entry.offset, &mut frames);
        if let Some(&(f, pc)) = frames.first() {
            let callee = module.func(f);
            let line = callee.lines.line(pc);
            let text = source_lines
                .get((line as usize).wrapping_sub(1))
                .map_or("", |l| l.trim());
            let instr = callee.code.get(pc as usize).map_or(String::new(), |instr| {
                text::instr_to_string(module, callee, instr)
            });
            let _ = write!(out, "; {} pc {pc} line {line}: {instr}", callee.name);
            for &(caller, call_pc) in &frames[1..] {
                let _ = write!(out, " <- {} pc {call_pc}", module.func(caller).name);
            }
            let _ = writeln!(out, "    // {text}");
        }
        let range = entry.offset as usize..end;
        write_rows(
            &mut out,
            &compiled.code,
            range,
            &mut formatter,
            &target_name,
            &call_sites,
        );
    }
    out
}

/// `inlined g pc 3 (line 7): add r2, r0, r1 <- f pc 4`: the innermost
/// frame's function, pc, line and instruction, then each caller at its
/// call pc.
fn inline_heading(module: &Module, compiled: &CompiledCode, offset: u32) -> String {
    let mut frames = Vec::new();
    compiled.frames_at(offset, &mut frames);
    let mut heading = String::from("inlined");
    for (i, &(func, pc)) in frames.iter().enumerate() {
        let f = module.func(func);
        if i == 0 {
            let instr = f.code.get(pc as usize).map_or(String::new(), |instr| {
                text::instr_to_string(module, f, instr)
            });
            let line = f.lines.line(pc);
            let _ = write!(heading, " {} pc {pc} (line {line}): {instr}", f.name);
        } else {
            let _ = write!(heading, " <- {} pc {pc}", f.name);
        }
    }
    heading
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: &str = "
fn divide(a: int, b: int) -> int {
    let q = a / b;
    while q > 100 { q = q - 100; }
    return q;
}
fn fib(n: int) -> int {
    if n < 2 { return n; }
    return fib(n - 1) + fib(n - 2);
}
fn main() -> int { return divide(fib(10), 3); }
";

    #[test]
    fn every_byte_is_listed_exactly_once_in_offset_order() {
        let module = crate::lang::compile(PROGRAM.as_bytes()).expect("compiles");
        let mut formatter = formatter();
        for i in 0..module.funcs.len() {
            let func = FuncId(i as u32);
            let compiled = baseline::compile(&module, func).expect("baseline");
            let mut next = 0;
            for (part, range) in split(&compiled, module.func(func).code.len()) {
                assert_eq!(range.start, next, "{part:?} starts where the last ended");
                for row in decode(&compiled.code, range.clone(), &mut formatter) {
                    assert_eq!(row.offset, next, "{part:?} rows are contiguous");
                    assert_ne!(row.text, "(bad)", "{part:?} decodes");
                    next += row.len;
                }
                assert_eq!(next, range.end, "{part:?} ends on an instruction boundary");
            }
            assert_eq!(next, compiled.code.len(), "all of {func:?} is listed");
        }
    }

    #[test]
    fn inlined_code_is_listed_under_its_chain() {
        let module = crate::lang::compile(PROGRAM.as_bytes()).expect("compiles");
        let divide = module.find("divide").expect("divide");
        let fib = module.find("fib").expect("fib");
        let mut compiled = baseline::compile(&module, divide).expect("baseline");
        // Pretend the code of divide's pc 1 is fib's pc 0, inlined at pc 1.
        let entry = compiled.pc_map.iter_mut().find(|e| e.pc == 1).unwrap();
        *entry = tierjit_tiers::code::PcMapEntry {
            inline: 1,
            pc: 0,
            ..*entry
        };
        compiled.inlines.push(tierjit_tiers::code::InlineFrame {
            func: fib,
            parent: 0,
            call_pc: 1,
        });
        let listing = render(&module, PROGRAM, &compiled);
        assert!(
            listing.contains("      ; inlined fib pc 0 (line 8): ")
                && listing.contains(" <- divide pc 1\n"),
            "{listing}"
        );
        let body = listing.split("; out-of-line code").next().unwrap();
        assert!(body.contains("; inlined fib"), "{listing}");
    }

    #[test]
    fn every_bytecode_instruction_is_listed_once_in_pc_order() {
        let module = crate::lang::compile(PROGRAM.as_bytes()).expect("compiles");
        let func = module.find("divide").expect("divide");
        let listing = function_listing(&module, func, PROGRAM, Tier::Baseline).expect("lists");
        let body = listing.split("; out-of-line code").next().unwrap();
        let pcs: Vec<usize> = body
            .lines()
            .filter(|l| l.starts_with(' ') && !l.starts_with("      "))
            .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        let expected: Vec<usize> = (0..module.func(func).code.len()).collect();
        assert_eq!(pcs, expected, "{listing}");
        assert!(listing.contains("; line 3: let q = a / b;"), "{listing}");
        assert!(listing.contains("; out-of-line code"), "{listing}");
    }
}
