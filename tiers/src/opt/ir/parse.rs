//! Reading the IR's text form (as [`super::print`] writes it) back into a
//! [`Func`].
//!
//! Guarantees: `print(parse(print(f))) == print(f)` for every `f` whose
//! layout lists each block once; the parser never panics, whatever the
//! input, and names the line of the first error.
//!
//! Numbers are kept: `v7` is `Value(7)`, `block3` is `Block(3)`, so a
//! printed function reads back with the same numbers. Values and blocks
//! whose numbers the text never mentions are unused arena entries: a block
//! that is empty, has no terminator and is not in the layout, a value of
//! type `int` whose `def` names no instruction (`Inst(u32::MAX)`). Numbers
//! go up to `max(65536, 8 * text length)`, so that no input makes the
//! arenas huge. Instructions are numbered in text order.
//!
//! The text gives the types of block parameters and of call results;
//! other results get the type their op gives for their operands
//! ([`super::verify::result_type`]), wherever the operands are defined.
//!
//! Beyond what the printer writes, blank lines and lines starting with
//! `;` (comments) are skipped, and leading and trailing spaces are free.
//!
//! The parser checks syntax only: a text that names an undefined value,
//! defines one twice or adds a float to an int parses, and
//! [`super::verify::verify`] says what is wrong with it.

use super::verify::result_type;
use super::{
    Block, BlockCall, BlockData, Func, InlineFrame, Inst, InstData, IntCC, Loc, Op, Term, Value,
    ValueData, ValueDef,
};
use crate::bytecode::{FuncId, HostId};
use crate::Type;
use std::fmt;

/// A syntax error in IR text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line, counting from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

type Parsed<T> = Result<T, ParseError>;

/// Reads a function in the text form.
pub fn parse_func(text: &str) -> Result<Func, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with(';'));
    let Some((line, header)) = lines.next() else {
        return Err(ParseError {
            line: 1,
            message: "no function header (`function fN \"name\" ...`)".into(),
        });
    };
    let mut p = Parser {
        f: parse_header(&mut Cursor::new(header, line))?,
        limit: (8 * text.len()).max(1 << 16),
        explicit_type: Vec::new(),
        block_defined: Vec::new(),
        open_block: None,
        line,
    };
    for (line, text) in lines {
        p.line = line;
        let mut c = Cursor::new(text, line);
        if text.starts_with("inline") {
            p.inline_line(&mut c)?;
        } else if text.starts_with("block") {
            p.block_header(&mut c)?;
        } else {
            p.body_line(&mut c)?;
        }
    }
    if let Some(b) = p.open_block {
        return Err(p.error(format!("block{} has no terminator", b.0)));
    }
    p.f.entry = p.f.layout.first().copied().unwrap_or(Block(0));
    p.infer_result_types();
    Ok(p.f)
}

/// A position in one line.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, line: usize) -> Cursor<'a> {
        Cursor { text, pos: 0, line }
    }

    fn error<T>(&self, message: String) -> Parsed<T> {
        Err(ParseError {
            line: self.line,
            message,
        })
    }

    fn rest(&mut self) -> &'a str {
        let rest = &self.text[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        trimmed
    }

    /// Takes `token` if the line continues with it.
    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    fn expect(&mut self, token: &str) -> Parsed<()> {
        if self.eat(token) {
            return Ok(());
        }
        let found = self.rest();
        self.error(format!("expected `{token}`, found `{found}`"))
    }

    /// A run of letters, digits, `_`, `.` and `-` (may be empty).
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn keyword(&mut self, keyword: &str) -> Parsed<()> {
        match self.word() {
            w if w == keyword => Ok(()),
            w => self.error(format!("expected `{keyword}`, found `{w}`")),
        }
    }

    fn end(&mut self) -> Parsed<()> {
        match self.rest() {
            "" => Ok(()),
            rest => self.error(format!("unexpected `{rest}` at the end of the line")),
        }
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Parsed<T> {
        let w = self.word();
        w.parse()
            .or_else(|_| self.error(format!("expected {what}, found `{w}`")))
    }

    fn u32(&mut self) -> Parsed<u32> {
        self.number("a number")
    }

    /// A number after `prefix` (`v3`, `block2`, `f1`).
    fn prefixed(&mut self, prefix: &str, what: &str) -> Parsed<u32> {
        let w = self.word();
        match w.strip_prefix(prefix).map(str::parse) {
            Some(Ok(n)) => Ok(n),
            _ => self.error(format!("expected {what} (`{prefix}N`), found `{w}`")),
        }
    }

    fn ty(&mut self) -> Parsed<Type> {
        let name = if self.eat("[") {
            let element = self.word();
            self.expect("]")?;
            format!("[{element}]")
        } else {
            self.word().to_string()
        };
        Type::from_name(&name).map_or_else(|| self.error(format!("unknown type `{name}`")), Ok)
    }

    /// A string as `{:?}` writes it.
    fn string(&mut self) -> Parsed<String> {
        self.expect("\"")?;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let escaped = match chars.next().map(|(_, e)| e) {
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('0') => '\0',
                        Some(e @ ('\\' | '"' | '\'')) => e,
                        Some('u') => unicode_escape(&mut chars)
                            .map_or_else(|| self.error("bad `\\u{..}` escape".into()), Ok)?,
                        _ => return self.error("bad escape in a string".into()),
                    };
                    out.push(escaped);
                }
                c => out.push(c),
            }
        }
        self.error("unterminated string".into())
    }

    /// `@PC` or `@K:PC`.
    fn loc(&mut self) -> Parsed<Loc> {
        self.expect("@")?;
        let first = self.u32()?;
        if self.eat(":") {
            let pc = self.u32()?;
            return Ok(Loc { inline: first, pc });
        }
        Ok(Loc {
            inline: 0,
            pc: first,
        })
    }
}

/// The rest of `\u{hex}` after the `u`.
fn unicode_escape(chars: &mut std::str::CharIndices) -> Option<char> {
    if chars.next()?.1 != '{' {
        return None;
    }
    let mut code = 0u32;
    for (_, c) in chars.by_ref() {
        if c == '}' {
            return char::from_u32(code);
        }
        code = code.checked_mul(16)?.checked_add(c.to_digit(16)?)?;
    }
    None
}

/// `function fN "name" [-> T] regs N entry_regs (-|R,R..) [osr PC]`
fn parse_header(c: &mut Cursor) -> Parsed<Func> {
    c.keyword("function")?;
    let id = c.prefixed("f", "a function")?;
    let name = c.string()?;
    let ret = if c.eat("->") { Some(c.ty()?) } else { None };
    c.keyword("regs")?;
    let num_regs = c.u32()?;
    let mut f = Func::new(FuncId(id), &name, ret, num_regs);
    c.keyword("entry_regs")?;
    if !c.eat("-") {
        f.entry_regs.push(c.u32()?);
        while c.eat(",") {
            f.entry_regs.push(c.u32()?);
        }
    }
    if !c.rest().is_empty() {
        c.keyword("osr")?;
        f.osr_pc = Some(c.u32()?);
    }
    c.end()?;
    Ok(f)
}

/// The ops without immediates, to look up by name.
const PLAIN_OPS: [Op; 42] = [
    Op::Iadd,
    Op::Isub,
    Op::Imul,
    Op::Idiv,
    Op::Irem,
    Op::Iand,
    Op::Ior,
    Op::Ixor,
    Op::Ishl,
    Op::Ishr,
    Op::Imin,
    Op::Imax,
    Op::Ineg,
    Op::Inot,
    Op::Iabs,
    Op::Fadd,
    Op::Fsub,
    Op::Fmul,
    Op::Fdiv,
    Op::Fmin,
    Op::Fmax,
    Op::Fneg,
    Op::Fabs,
    Op::Fsqrt,
    Op::ItoF,
    Op::FtoI,
    Op::Bnot,
    Op::NewArray,
    Op::Len,
    Op::BoundsCheck,
    Op::Load,
    Op::Store,
    Op::AtomicAdd,
    Op::Join,
    Op::PrintInt,
    Op::PrintFloat,
    Op::PrintBool,
    Op::Arg,
    Op::Argc,
    Op::NowNs,
    Op::Poll,
    Op::Copy,
];

struct Parser {
    f: Func,
    /// Largest value or block number accepted, plus one.
    limit: usize,
    /// Per value: its type is written in the text (a parameter or a call
    /// result) rather than inferred.
    explicit_type: Vec<bool>,
    /// Per block: its header has been read.
    block_defined: Vec<bool>,
    /// The block whose instructions are being read.
    open_block: Option<Block>,
    line: usize,
}

impl Parser {
    fn error(&self, message: String) -> ParseError {
        ParseError {
            line: self.line,
            message,
        }
    }

    /// `vN`, making the arena entry if it is new.
    fn value(&mut self, c: &mut Cursor) -> Parsed<Value> {
        let n = c.prefixed("v", "a value")?;
        self.check_limit(n)?;
        while self.f.values.len() <= n as usize {
            self.f.values.push(ValueData {
                ty: Type::Int,
                def: ValueDef::Inst(Inst(u32::MAX)),
            });
            self.explicit_type.push(false);
        }
        Ok(Value(n))
    }

    /// `blockN`, making the arena entry if it is new.
    fn block(&mut self, c: &mut Cursor) -> Parsed<Block> {
        let n = c.prefixed("block", "a block")?;
        self.check_limit(n)?;
        while self.f.blocks.len() <= n as usize {
            self.f.blocks.push(BlockData {
                params: Vec::new(),
                insts: Vec::new(),
                term: Term::None,
                term_loc: Loc::default(),
            });
            self.block_defined.push(false);
        }
        Ok(Block(n))
    }

    fn check_limit(&self, n: u32) -> Parsed<()> {
        if n as usize >= self.limit {
            return Err(self.error(format!(
                "number {n} is too large for a text this size (limit {})",
                self.limit
            )));
        }
        Ok(())
    }

    /// `v1, v2, ..` up to (not including) `close`; empty if `close` is next.
    fn values_until(&mut self, c: &mut Cursor, close: &str) -> Parsed<Vec<Value>> {
        let mut values = Vec::new();
        if c.rest().starts_with(close) {
            return Ok(values);
        }
        values.push(self.value(c)?);
        while c.eat(",") {
            values.push(self.value(c)?);
        }
        Ok(values)
    }

    /// `blockN` or `blockN(v1, ..)`.
    fn block_call(&mut self, c: &mut Cursor) -> Parsed<BlockCall> {
        let block = self.block(c)?;
        let mut args = Vec::new();
        if c.eat("(") {
            args = self.values_until(c, ")")?;
            c.expect(")")?;
        }
        Ok(BlockCall::new(block, args))
    }

    /// `inline K = fF parent P call_pc C reg_base R depth D regs N`
    fn inline_line(&mut self, c: &mut Cursor) -> Parsed<()> {
        if !self.f.layout.is_empty() {
            return Err(self.error("inline frames come before the blocks".into()));
        }
        c.keyword("inline")?;
        let k = c.u32()?;
        if k as usize != self.f.inlines.len() + 1 {
            return Err(self.error(format!(
                "inline frame {k} out of order (expected {})",
                self.f.inlines.len() + 1
            )));
        }
        c.expect("=")?;
        let func = FuncId(c.prefixed("f", "a function")?);
        let mut field = |name: &str| -> Parsed<u32> {
            c.keyword(name)?;
            c.u32()
        };
        let frame = InlineFrame {
            func,
            parent: field("parent")?,
            call_pc: field("call_pc")?,
            reg_base: field("reg_base")?,
            depth: field("depth")?,
            num_regs: field("regs")?,
        };
        c.end()?;
        self.f.inlines.push(frame);
        Ok(())
    }

    /// `blockN:` or `blockN(v1: T, ..):`
    fn block_header(&mut self, c: &mut Cursor) -> Parsed<()> {
        if let Some(b) = self.open_block {
            return Err(self.error(format!(
                "block{} has no terminator (its last line must be jump, brif, ret or <none>)",
                b.0
            )));
        }
        let b = self.block(c)?;
        if std::mem::replace(&mut self.block_defined[b.index()], true) {
            return Err(self.error(format!("block{} is defined twice", b.0)));
        }
        let mut params = Vec::new();
        if c.eat("(") && !c.eat(")") {
            loop {
                let v = self.value(c)?;
                c.expect(":")?;
                let ty = c.ty()?;
                self.f.values[v.index()] = ValueData {
                    ty,
                    def: ValueDef::Param(b, params.len() as u32),
                };
                self.explicit_type[v.index()] = true;
                params.push(v);
                if !c.eat(",") {
                    break;
                }
            }
            c.expect(")")?;
        }
        c.expect(":")?;
        c.end()?;
        self.f.blocks[b.index()].params = params;
        self.f.layout.push(b);
        self.open_block = Some(b);
        Ok(())
    }

    /// An instruction or a terminator of the open block.
    fn body_line(&mut self, c: &mut Cursor) -> Parsed<()> {
        let Some(b) = self.open_block else {
            return Err(self.error("expected a block header (`blockN:`)".into()));
        };
        if c.eat("<none>") {
            return self.finish_block(c, b, Term::None);
        }
        let mut result = None;
        let start = c.pos;
        if c.word().starts_with('v') && c.eat("=") {
            c.pos = start;
            result = Some(self.value(c)?);
            c.expect("=")?;
        } else {
            c.pos = start;
        }
        let name = c.word();
        let term = match name {
            "jump" => Some(Term::Jump(self.block_call(c)?)),
            "brif" => {
                let cond = self.value(c)?;
                c.expect(",")?;
                let then_dest = self.block_call(c)?;
                c.expect(",")?;
                let else_dest = self.block_call(c)?;
                Some(Term::Branch {
                    cond,
                    then_dest,
                    else_dest,
                })
            }
            "ret" if c.rest().starts_with('@') => Some(Term::Return(None)),
            "ret" => Some(Term::Return(Some(self.value(c)?))),
            _ => None,
        };
        match term {
            Some(_) if result.is_some() => Err(self.error(format!("`{name}` has no result"))),
            Some(term) => self.finish_block(c, b, term),
            None => self.instruction(c, b, name, result),
        }
    }

    fn finish_block(&mut self, c: &mut Cursor, b: Block, term: Term) -> Parsed<()> {
        let loc = c.loc()?;
        c.end()?;
        self.f.set_term(b, term, loc);
        self.open_block = None;
        Ok(())
    }

    fn instruction(
        &mut self,
        c: &mut Cursor,
        b: Block,
        name: &str,
        result: Option<Value>,
    ) -> Parsed<()> {
        let op = op_with_immediate(c, name)?;
        let is_call = op.has_window();
        let typed_by_callee = matches!(op, Op::Call { .. } | Op::CallHost { .. });
        let args = if is_call {
            c.expect("(")?;
            let args = self.values_until(c, ")")?;
            c.expect(")")?;
            args
        } else {
            self.values_until(c, "@")?
        };
        let call_type = if typed_by_callee && c.eat("->") {
            Some(c.ty()?)
        } else {
            None
        };
        if typed_by_callee && result.is_some() != call_type.is_some() {
            return Err(self
                .error("a call has a result exactly when it ends with its type (`-> T`)".into()));
        }
        let loc = c.loc()?;
        c.end()?;
        let inst = Inst(self.f.insts.len() as u32);
        if let Some(r) = result {
            self.f.values[r.index()] = ValueData {
                ty: call_type.unwrap_or(Type::Int),
                def: ValueDef::Inst(inst),
            };
            self.explicit_type[r.index()] = call_type.is_some();
        }
        self.f.insts.push(InstData {
            op,
            args,
            result,
            loc,
        });
        self.f.blocks[b.index()].insts.push(inst);
        Ok(())
    }

    /// Gives each instruction result without a written type the type its
    /// op gives, after typing the operands' definitions first (a
    /// depth-first walk, iterative so that long chains cannot overflow the
    /// stack; cycles, which only wrong code has, keep `int`).
    fn infer_result_types(&mut self) {
        let f = &mut self.f;
        // The instruction defining each value whose type is inferred.
        let mut def_inst = vec![None; f.values.len()];
        for (i, inst) in f.insts.iter().enumerate() {
            if let Some(r) = inst.result.filter(|r| !self.explicit_type[r.index()]) {
                def_inst[r.index()] = Some(i);
            }
        }
        // 0: not typed yet; 1: being typed; 2: typed.
        let mut state = vec![0u8; f.insts.len()];
        for root in 0..f.insts.len() {
            if state[root] != 0 || f.insts[root].result.is_none() {
                continue;
            }
            state[root] = 1;
            let mut stack = vec![root];
            while let Some(&i) = stack.last() {
                let pending = f.insts[i]
                    .args
                    .iter()
                    .filter_map(|a| def_inst[a.index()])
                    .find(|&d| state[d] == 0);
                if let Some(d) = pending {
                    state[d] = 1;
                    stack.push(d);
                    continue;
                }
                stack.pop();
                state[i] = 2;
                let inst = &f.insts[i];
                let Some(r) = inst.result.filter(|r| def_inst[r.index()] == Some(i)) else {
                    continue;
                };
                let types: Vec<Type> = inst.args.iter().map(|a| f.values[a.index()].ty).collect();
                f.values[r.index()].ty = result_type(inst.op, &types).unwrap_or(Type::Int);
            }
        }
    }
}

/// The op called `name`, reading its immediates.
fn op_with_immediate(c: &mut Cursor, name: &str) -> Parsed<Op> {
    let op = match name {
        "iconst" => Op::Iconst(c.number("an integer")?),
        "fconst" => {
            let w = c.word();
            match w.strip_prefix("0x").map(|h| u64::from_str_radix(h, 16)) {
                Some(Ok(bits)) => Op::Fconst(bits),
                _ => {
                    return c.error(format!(
                        "expected float bits like 0x3ff0000000000000, found `{w}`"
                    ))
                }
            }
        }
        "bconst" => Op::Bconst(c.number("true or false")?),
        "print_str" => Op::PrintStr(c.u32()?),
        "frame_check" => Op::FrameCheck(c.u32()?),
        "frame_ok" => Op::FrameOk(c.u32()?),
        "call" | "spawn" => {
            let func = FuncId(c.prefixed("f", "a function")?);
            c.keyword("window")?;
            let window = c.u32()?;
            if name == "call" {
                Op::Call { func, window }
            } else {
                Op::Spawn { func, window }
            }
        }
        "call_host" => {
            let host = HostId(c.prefixed("h", "a host function")?);
            c.keyword("window")?;
            let window = c.u32()?;
            Op::CallHost { host, window }
        }
        _ => {
            let cmp = name.split_once('.').and_then(|(base, cc)| match base {
                "icmp" => IntCC::ALL
                    .into_iter()
                    .find(|c| c.name() == cc)
                    .map(Op::Icmp),
                "fcmp" => super::FloatCC::ALL
                    .into_iter()
                    .find(|c| c.name() == cc)
                    .map(Op::Fcmp),
                _ => None,
            });
            let plain = || PLAIN_OPS.iter().copied().find(|op| op.name() == name);
            match cmp.or_else(plain) {
                Some(op) => op,
                None => return c.error(format!("unknown instruction `{name}`")),
            }
        }
    };
    Ok(op)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::opt::ir::print::func_to_string;
    use crate::opt::ir::verify::verify;

    /// Every op, every terminator form, inline frames, an OSR header and
    /// the awkward float constants (NaN, -0.0); well formed, in the
    /// printer's exact text.
    pub(crate) const EVERY_OP: &str = r#"function f3 "every \"op\"\n" -> float regs 12 entry_regs 0,1,2 osr 7
inline 1 = f2 parent 0 call_pc 7 reg_base 3 depth 1 regs 4
inline 2 = f4 parent 1 call_pc 2 reg_base 5 depth 2 regs 2
block0(v0: int, v1: float, v2: [int]):
    jump block1(v0, v1) @7
block1(v3: int, v4: float):
    poll @7
    v5 = iconst -9223372036854775808 @0
    v6 = fconst 0x7ff8000000000000 @0
    v7 = fconst 0x8000000000000000 @0
    v8 = bconst true @0
    v9 = bconst false @0
    v10 = iadd v3, v5 @1
    v11 = isub v3, v5 @1
    v12 = imul v3, v5 @1
    v13 = idiv v3, v5 @1
    v14 = irem v3, v5 @1
    v15 = iand v3, v5 @1
    v16 = ior v3, v5 @1
    v17 = ixor v3, v5 @1
    v18 = ishl v3, v5 @1
    v19 = ishr v3, v5 @1
    v20 = imin v3, v5 @1
    v21 = imax v3, v5 @1
    v22 = ineg v3 @1
    v23 = inot v3 @1
    v24 = iabs v3 @1
    v25 = fadd v4, v6 @2
    v26 = fsub v4, v6 @2
    v27 = fmul v4, v6 @2
    v28 = fdiv v4, v6 @2
    v29 = fmin v4, v7 @2
    v30 = fmax v4, v7 @2
    v31 = fneg v4 @2
    v32 = fabs v4 @2
    v33 = fsqrt v4 @2
    v34 = itof v3 @2
    v35 = ftoi v4 @2
    v36 = icmp.eq v3, v5 @3
    v37 = icmp.ne v8, v9 @3
    v38 = icmp.lt v3, v5 @3
    v39 = icmp.le v3, v5 @3
    v40 = icmp.gt v3, v5 @3
    v41 = icmp.ge v3, v5 @3
    v42 = fcmp.eq v4, v6 @3
    v43 = fcmp.ne v4, v6 @3
    v44 = fcmp.lt v4, v6 @3
    v45 = fcmp.le v4, v6 @3
    v46 = fcmp.nlt v4, v6 @3
    v47 = fcmp.nle v4, v6 @3
    v48 = bnot v36 @3
    v49 = new_array v3, v3 @4
    v50 = new_array v4, v3 @4
    v51 = len v50 @4
    bounds_check v49, v3 @4
    v52 = load v49, v3 @4
    v53 = load v50, v3 @4
    store v50, v3, v4 @4
    v54 = atomic_add v49, v3, v52 @4
    v55 = call f2 window 3 (v3, v49) -> [float] @5
    call f5 window 3 () @5
    v56 = spawn f6 window 4 (v4) @5
    v57 = join v56 @5
    v90 = frame_ok 1 @1:0
    frame_check 1 v90 @1:0
    print_int v57 @1:1
    print_float v53 @2:0
    print_bool v48 @2:1
    print_str 0 @6
    v58 = arg v3 @6
    v59 = argc @6
    v60 = now_ns @6
    v61 = copy v55 @6
    brif v48, block2(v53), block3 @7
block2(v62: float):
    brif v37, block1(v58, v62), block3 @8
block3:
    ret v1 @9
"#;

    /// Forms not in `EVERY_OP`: no parameters anywhere, `ret` without a
    /// value, an unfinished block, an id and name of the simplest kind.
    const OTHER_FORMS: &str = "function f0 \"main\" regs 0 entry_regs -
block4:
    v0 = iconst 1 @0
    brif v0, block2, block5 @0
block5:
    <none> @0
block2:
    ret @3
";

    fn round_trip(text: &str) -> Func {
        let f = parse_func(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(func_to_string(&f), text);
        f
    }

    #[test]
    fn every_op_and_terminator_round_trips() {
        let f = round_trip(EVERY_OP);
        assert_eq!(f.name, "every \"op\"\n");
        assert_eq!(f.osr_pc, Some(7));
        assert_eq!(f.inlines.len(), 2);
        assert_eq!(f.ty(Value(55)), Type::FloatArray, "a call's written type");
        assert_eq!(f.ty(Value(53)), Type::Float, "a load's element type");
        assert_eq!(f.ty(Value(61)), Type::FloatArray, "a copy's operand type");
        assert_eq!(f.insts[1].op, Op::Iconst(i64::MIN));
        assert!(matches!(f.insts[2].op, Op::Fconst(b) if f64::from_bits(b).is_nan()));
        assert_eq!(f.insts[3].op, Op::Fconst((-0.0f64).to_bits()));
        verify(&f).unwrap();
        round_trip(OTHER_FORMS);
    }

    #[test]
    fn numbers_are_kept_and_gaps_are_unused_entries() {
        let f = round_trip(OTHER_FORMS);
        assert_eq!(f.layout, vec![Block(4), Block(5), Block(2)]);
        assert_eq!(f.entry, Block(4));
        assert_eq!(f.blocks.len(), 6);
        assert_eq!(f.blocks[0].term, Term::None);
        assert_eq!(f.blocks[5].term, Term::None);
        assert_eq!(f.values.len(), 1);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = format!(
            "; a test\n\n{}\n; end\n",
            OTHER_FORMS.replace("block5:", "  ; why\nblock5:")
        );
        assert_eq!(func_to_string(&parse_func(&text).unwrap()), OTHER_FORMS);
    }

    fn error(text: &str) -> ParseError {
        parse_func(text).expect_err("must not parse")
    }

    #[test]
    fn errors_name_the_line() {
        let head = "function f0 \"g\" -> int regs 1 entry_regs -\nblock0:\n";
        let cases = [
            ("", 1, "no function header"),
            ("fn g()\n", 1, "expected `function`"),
            ("function f0 \"g regs 1 entry_regs -\n", 1, "unterminated string"),
            ("function f0 \"g\" -> integer regs 1 entry_regs -\n", 1, "unknown type"),
            (&format!("{head}    v1 = iconst x @0\n"), 3, "expected an integer"),
            (&format!("{head}    v1 = frobnicate @0\n"), 3, "unknown instruction"),
            (&format!("{head}    ret v1\n"), 3, "expected `@`"),
            (&format!("{head}    ret v1 @0 junk\n"), 3, "unexpected `junk`"),
            (&format!("{head}    v1 = iconst 1 @0\n"), 3, "block0 has no terminator"),
            (&format!("{head}    v1 = iconst 1 @0\nblock1:\n"), 4, "block0 has no terminator"),
            (&format!("{head}    ret @0\n    ret @0\n"), 4, "expected a block header"),
            (&format!("{head}    ret @0\nblock0:\n    ret @0\n"), 4, "defined twice"),
            (&format!("{head}    v1 = call f1 window 0 () @0\n"), 3, "`-> T`"),
            (&format!("{head}    v1 = jump block0 @0\n"), 3, "has no result"),
            (&format!("{head}    ret v99999999 @0\n"), 3, "too large"),
            (&format!("{head}    ret v99999999999 @0\n"), 3, "expected a value"),
            ("function f0 \"g\" regs 1 entry_regs -\ninline 2 = f0 parent 0 call_pc 0 reg_base 0 depth 1 regs 1\n", 2, "out of order"),
        ];
        for (text, line, message) in cases {
            let e = error(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
        }
    }

    /// xorshift64*: reproducible randomness without a dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
        }
    }

    fn mutate(rng: &mut Rng, text: &str) -> String {
        const PIECES: [&str; 24] = [
            "v",
            "block",
            "(",
            ")",
            ",",
            ":",
            "@",
            "=",
            "-",
            "->",
            "\"",
            "\\",
            " ",
            "\n",
            "0",
            "9",
            "4294967296",
            "[int]",
            "ret",
            "jump",
            "call f1 window 0 ()",
            "<none>",
            "é",
            "0x",
        ];
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(chars.len() + 1);
            match rng.below(4) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => {
                    let piece = PIECES[rng.below(PIECES.len())];
                    chars.splice(at..at, piece.chars());
                }
                2 if at < chars.len() => chars[at] = char::from(b' ' + rng.below(95) as u8),
                _ => {
                    // Move a line elsewhere.
                    let s: String = chars.iter().collect();
                    let mut lines: Vec<&str> = s.lines().collect();
                    let line = lines.remove(rng.below(lines.len()));
                    lines.insert(rng.below(lines.len() + 1), line);
                    chars = lines.join("\n").chars().collect();
                }
            }
        }
        chars.into_iter().collect()
    }

    #[test]
    fn mutated_texts_never_panic_and_what_parses_round_trips() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut parsed = 0;
        for i in 0..20_000 {
            let base = if i % 2 == 0 { EVERY_OP } else { OTHER_FORMS };
            let text = mutate(&mut rng, base);
            let Ok(f) = parse_func(&text) else { continue };
            parsed += 1;
            let _ = verify(&f);
            let printed = func_to_string(&f);
            let again = parse_func(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
            assert_eq!(func_to_string(&again), printed, "from\n{text}");
        }
        assert!(parsed > 1000, "only {parsed} mutants parsed");
    }
}
