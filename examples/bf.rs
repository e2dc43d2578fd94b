//! `bf`: a Brainfuck implementation that embeds tierjit, the example host
//! of issue 12.
//!
//! ```text
//! cargo run --release --example bf -- [--tier auto|interp|baseline|opt]
//!                                     [--trace-tiers] [--dump] FILE.b
//! ```
//!
//! The program is parsed, lowered to tierjit's bytecode with
//! `ModuleBuilder` (bf loops become bytecode loops; each loop that has
//! loops inside it becomes a function of its own, `loop_LINE_COL`, see
//! [`lower`]) and run in a `Vm` with automatic tiering by default: it
//! starts in the interpreter, and the sampler sends its hot loops to the
//! baseline and optimizing compilers; running loops move into the new
//! code by on-stack replacement (`--trace-tiers` shows each compile and
//! move). `--tier` picks one tier instead, as `tierjit run --tier` does;
//! `--dump` prints the bytecode and runs nothing.
//!
//! Semantics:
//!
//! - a tape of 30,000 cells, each 8 bits and wrapping (`-` on 0 gives
//!   255), the pointer starting on the leftmost cell;
//! - `.` writes the cell as one byte to stdout; `,` reads one byte from
//!   stdin, and **at end of input stores 0**;
//! - characters other than the eight commands are comments.
//!
//! I/O goes through two host functions, `read_byte() -> int` (the byte,
//! or -1 at end of input) and `write_byte(int)`. Output is buffered here,
//! in the host, and written when 64 KiB have collected, before each `,`
//! reads (so that prompts show) and at the end.
//!
//! The lowering does what a bf compiler does cheaply: runs of `+`/`-` and
//! of `<`/`>` become one add or one pointer move, `[-]` and `[+]` (any
//! loop that only adds an odd amount) clear the cell, and a *multiply
//! loop*, a loop of adds and moves that comes back to its start and
//! steps its start cell by 1 or -1 (`[->+++>+<<]`), becomes one add of a
//! multiple to each cell it touches. The tape is a tj `[int]` array;
//! every cell write masks with `& 255`, so cells always hold 0..=255.
//!
//! Errors, on stderr as `bf: FILE:LINE:COL: ...`:
//!
//! - unbalanced brackets: the position of the unmatched one; status 1;
//! - a pointer moved off the tape: the array's bounds check makes the
//!   next access through it a runtime error, `index out of bounds`, at
//!   that command's position; status 2;
//! - a bad command line: status 64.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use tierjit::runtime::{TierMode, Vm, VmOptions};
use tierjit::tiers::bytecode::builder::{BuildError, FunctionBuilder, ModuleBuilder};
use tierjit::tiers::bytecode::{FuncId, HostId, Instr, Module, Reg};
use tierjit::tiers::trap::{RuntimeError, Trap};
use tierjit::tiers::Type;
use tierjit::{HostError, HostFunctions};

/// Cells on the tape.
const TAPE_CELLS: i32 = 30_000;

/// Output collected in the host before it is written.
const OUTPUT_BUFFER_BYTES: usize = 64 * 1024;

const EXIT_SYNTAX_ERROR: u8 = 1;
const EXIT_RUNTIME_ERROR: u8 = 2;
const EXIT_USAGE: u8 = 64;
/// As a process killed by SIGPIPE: stdout's reader went away.
const EXIT_BROKEN_PIPE: u8 = 128 + 13;

const USAGE: &str = "usage: bf [--tier auto|interp|baseline|opt] [--trace-tiers] [--dump] FILE.b";

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("bf: {message}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let source = match std::fs::read(&args.path) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("bf: cannot read {}: {e}", args.path);
            return ExitCode::from(EXIT_SYNTAX_ERROR);
        }
    };
    let program = match parse(&source) {
        Ok(program) => program,
        Err(e) => {
            let (line, col) = line_col(&source, e.pos);
            eprintln!("bf: {}:{line}:{col}: error: {}", args.path, e.message);
            return ExitCode::from(EXIT_SYNTAX_ERROR);
        }
    };
    let module = match lower(&program, &source) {
        Ok(module) => module,
        Err(e) => {
            eprintln!("bf: {}: cannot build the bytecode: {e}", args.path);
            return ExitCode::from(EXIT_SYNTAX_ERROR);
        }
    };
    if args.dump {
        print!(
            "{}",
            tierjit::tiers::bytecode::text::module_to_string(&module)
        );
        return ExitCode::SUCCESS;
    }
    run(module, &args, &source)
}

/// The command line.
struct Args {
    path: String,
    tier: TierMode,
    trace_tiers: bool,
    dump: bool,
}

impl Args {
    /// The command line `args`, or `None` if it asks for help.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
        let (mut path, mut tier, mut trace_tiers, mut dump) = (None, TierMode::Auto, false, false);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--tier" => {
                    let name = args.next().ok_or("--tier needs a value")?;
                    tier = parse_tier(&name)?;
                }
                "--trace-tiers" => trace_tiers = true,
                "--dump" => dump = true,
                "-h" | "--help" => return Ok(None),
                _ => match arg.strip_prefix("--tier=") {
                    Some(name) => tier = parse_tier(name)?,
                    None if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
                    None if path.is_some() => return Err(format!("unexpected argument {arg}")),
                    None => path = Some(arg),
                },
            }
        }
        let path = path.ok_or("no program file given")?;
        Ok(Some(Args {
            path,
            tier,
            trace_tiers,
            dump,
        }))
    }
}

fn parse_tier(name: &str) -> Result<TierMode, String> {
    match name {
        "auto" => Ok(TierMode::Auto),
        "interp" => Ok(TierMode::Interp),
        "baseline" => Ok(TierMode::Baseline),
        "opt" => Ok(TierMode::Opt),
        _ => Err(format!(
            "unknown tier '{name}' (auto, interp, baseline or opt)"
        )),
    }
}

// ---- parsing ----------------------------------------------------------

/// One operation of the parsed program; `pos` is the byte offset in the
/// source of the command it starts at.
#[derive(Clone, Debug, PartialEq)]
struct Node {
    op: Op,
    pos: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// The cell += n (mod 256); a run of `+` and `-`.
    Add(u8),
    /// The pointer += n; a run of `<` and `>`.
    Move(i32),
    /// The cell := 0: `[-]`, `[+]`.
    Clear,
    /// A multiply loop: for each `(offset, factor)`, cell[p + offset] +=
    /// count * factor, where count is the iterations the loop would run
    /// (the cell if it steps by -1, 256 - the cell if it steps by +1);
    /// then the cell := 0. Offsets are in the order the loop first
    /// touches them (a factor may be 0: the loop still touches the cell).
    Multiply {
        targets: Vec<(i32, u8)>,
        step_up: bool,
    },
    /// `.`
    Output,
    /// `,`
    Input,
    /// `[...]`
    Loop(Vec<Node>),
}

/// Unbalanced brackets.
#[derive(Debug, PartialEq)]
struct SyntaxError {
    pos: usize,
    message: &'static str,
}

/// Parses `source`, collapsing runs and recognising clear and multiply
/// loops.
fn parse(source: &[u8]) -> Result<Vec<Node>, SyntaxError> {
    // The bodies being parsed, outermost first, each with its `[`'s offset.
    let mut open: Vec<(Vec<Node>, usize)> = Vec::new();
    let mut code = Vec::new();
    for (pos, &c) in source.iter().enumerate() {
        match c {
            b'+' => push_add(&mut code, 1, pos),
            b'-' => push_add(&mut code, 255, pos),
            b'>' => push_move(&mut code, 1, pos),
            b'<' => push_move(&mut code, -1, pos),
            b'.' => code.push(Node {
                op: Op::Output,
                pos,
            }),
            b',' => code.push(Node { op: Op::Input, pos }),
            b'[' => open.push((std::mem::take(&mut code), pos)),
            b']' => {
                let Some((outer, start)) = open.pop() else {
                    return Err(SyntaxError {
                        pos,
                        message: "unmatched ']'",
                    });
                };
                let body = std::mem::replace(&mut code, outer);
                code.push(Node {
                    op: loop_op(body),
                    pos: start,
                });
            }
            _ => {}
        }
    }
    match open.last() {
        Some(&(_, pos)) => Err(SyntaxError {
            pos,
            message: "unmatched '['",
        }),
        None => Ok(code),
    }
}

/// Appends cell += n, merged into an add just before it (and dropped if
/// they cancel, so that the moves around it can merge).
fn push_add(code: &mut Vec<Node>, n: u8, pos: usize) {
    if let Some(Node { op: Op::Add(m), .. }) = code.last_mut() {
        *m = m.wrapping_add(n);
        if *m == 0 {
            code.pop();
        }
    } else {
        code.push(Node {
            op: Op::Add(n),
            pos,
        });
    }
}

/// Appends pointer += n, merged as [`push_add`] merges.
fn push_move(code: &mut Vec<Node>, n: i32, pos: usize) {
    if let Some(Node {
        op: Op::Move(m), ..
    }) = code.last_mut()
    {
        if let Some(sum) = m.checked_add(n) {
            *m = sum;
            if sum == 0 {
                code.pop();
            }
            return;
        }
    }
    code.push(Node {
        op: Op::Move(n),
        pos,
    });
}

/// What a loop with this body is: a clear, a multiply loop or a loop.
fn loop_op(body: Vec<Node>) -> Op {
    if let [Node { op: Op::Add(n), .. }] = body[..] {
        // An odd step reaches 0 from any cell.
        if n % 2 == 1 {
            return Op::Clear;
        }
    }
    multiply(&body).unwrap_or(Op::Loop(body))
}

/// The body as a multiply loop, if it is one: only adds and moves, back
/// at its start at the end, stepping its start cell by 1 or -1.
fn multiply(body: &[Node]) -> Option<Op> {
    let mut offset = 0i32;
    let mut step = 0u8;
    let mut targets: Vec<(i32, u8)> = Vec::new();
    for node in body {
        match node.op {
            Op::Move(n) => offset = offset.checked_add(n)?,
            Op::Add(n) if offset == 0 => step = step.wrapping_add(n),
            Op::Add(n) => match targets.iter_mut().find(|(o, _)| *o == offset) {
                Some((_, factor)) => *factor = factor.wrapping_add(n),
                None => targets.push((offset, n)),
            },
            _ => return None,
        }
    }
    match (offset, step) {
        (0, 255) => Some(Op::Multiply {
            targets,
            step_up: false,
        }),
        (0, 1) => Some(Op::Multiply {
            targets,
            step_up: true,
        }),
        _ => None,
    }
}

/// 1-based line and column of byte `pos` of `source`.
fn line_col(source: &[u8], pos: usize) -> (usize, usize) {
    let before = &source[..pos.min(source.len())];
    let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
    let col = 1 + before.iter().rev().take_while(|&&c| c != b'\n').count();
    (line, col)
}

// ---- lowering to bytecode -----------------------------------------------

/// The registers of every function: `main` makes the tape and starts
/// the pointer at 0; a loop function gets both as its parameters.
const TAPE: Reg = Reg(0);
const PTR: Reg = Reg(1);
/// 255, for masking cells.
const MASK: Reg = Reg(2);
/// The current cell's value.
const CELL: Reg = Reg(3);
/// A multiply loop's iteration count.
const COUNT: Reg = Reg(4);
/// The index of a multiply loop's target cell.
const INDEX: Reg = Reg(5);
/// A multiply loop's target cell's value.
const TARGET: Reg = Reg(6);
/// 0.
const ZERO: Reg = Reg(7);
/// A factor of a multiply loop.
const FACTOR: Reg = Reg(8);
/// The argument window of a call to a loop function: the tape, then the
/// pointer (the call clobbers these two only).
const WINDOW: Reg = Reg(9);
const NUM_REGS: usize = 11;

/// The module for `program`: `main`, with no parameters and no result,
/// and a function for each loop that has loops inside it,
/// `loop_LINE_COL(tape, ptr) -> ptr`. Each instruction's line in the line
/// table is the byte offset (+ 1) of the command it comes from, for
/// runtime errors.
///
/// Why loops with loops inside get functions of their own: tierjit moves
/// a running activation into optimized code only at the header of an
/// outermost loop of its function (docs/tiering.md), and a bf program is
/// often one loop nest whose outermost loop runs once, or seldom. As its
/// own function, each loop is outermost, so whatever level of the nest
/// is hot moves into optimized code at its next iteration, and every
/// later call starts there. Innermost loops stay inline: they are entered
/// often, and a call each time would cost more than it could give.
fn lower(program: &[Node], source: &[u8]) -> Result<Module, BuildError> {
    let mut module = ModuleBuilder::new();
    let io = HostIo::declare(&mut module)?;
    let main = module.declare("main", vec![], None)?;
    let mut lowering = Lowering { module, io, source };
    let mut f = lowering.module.function(main);
    load_constants(&mut f);
    f.load_int(PTR, 0);
    f.load_int(CELL, TAPE_CELLS.into());
    f.emit(Instr::NewIntArray {
        dst: TAPE,
        init: ZERO,
        len: CELL,
    });
    lowering.block(&mut f, program)?;
    f.emit(Instr::ReturnVoid {});
    lowering.module.define(main, f)?;
    lowering.module.finish()
}

fn load_constants(f: &mut FunctionBuilder) {
    f.reserve_regs(NUM_REGS);
    f.load_int(ZERO, 0);
    f.load_int(MASK, 255);
}

/// The module being built, and what lowering a block needs besides.
struct Lowering<'a> {
    module: ModuleBuilder,
    io: HostIo,
    source: &'a [u8],
}

impl Lowering<'_> {
    fn block(&mut self, f: &mut FunctionBuilder, block: &[Node]) -> Result<(), BuildError> {
        for node in block {
            f.set_line(node.pos as u32 + 1);
            match &node.op {
                Op::Add(n) => {
                    load_cell(f);
                    // As -128..=127: the mask makes it the same, and
                    // `-` reads as -1 in the dump.
                    f.emit(Instr::AddIntImm {
                        dst: CELL,
                        a: CELL,
                        imm: (*n as i8).into(),
                    });
                    store_cell(f, CELL);
                }
                Op::Move(n) => {
                    f.emit(Instr::AddIntImm {
                        dst: PTR,
                        a: PTR,
                        imm: *n,
                    });
                }
                Op::Clear => {
                    f.emit(Instr::StoreIntElem {
                        arr: TAPE,
                        idx: PTR,
                        val: ZERO,
                    });
                }
                Op::Multiply { targets, step_up } => lower_multiply(f, targets, *step_up),
                Op::Output => {
                    load_cell(f);
                    self.io.emit_write(f, CELL);
                }
                Op::Input => {
                    self.io.emit_read(f, CELL);
                    // End of input (-1) stores 0.
                    f.emit(Instr::MaxInt {
                        dst: CELL,
                        a: CELL,
                        b: ZERO,
                    });
                    f.emit(Instr::StoreIntElem {
                        arr: TAPE,
                        idx: PTR,
                        val: CELL,
                    });
                }
                Op::Loop(body) if has_loops(body) => {
                    let func = self.loop_function(node.pos, body)?;
                    f.emit(Instr::Mov {
                        dst: WINDOW,
                        src: TAPE,
                    });
                    f.emit(Instr::Mov {
                        dst: Reg(WINDOW.0 + 1),
                        src: PTR,
                    });
                    f.emit(Instr::Call {
                        dst: PTR,
                        func,
                        base: WINDOW,
                    });
                }
                Op::Loop(body) => self.inline_loop(f, node.pos, body)?,
            }
        }
        Ok(())
    }

    /// The loop at `pos` as a function of its own (see [`lower`]).
    fn loop_function(&mut self, pos: usize, body: &[Node]) -> Result<FuncId, BuildError> {
        let (line, col) = line_col(self.source, pos);
        let func = self.module.declare(
            &format!("loop_{line}_{col}"),
            vec![Type::IntArray, Type::Int],
            Some(Type::Int),
        )?;
        let mut f = self.module.function(func);
        load_constants(&mut f);
        self.inline_loop(&mut f, pos, body)?;
        f.emit(Instr::Return { src: PTR });
        self.module.define(func, f)?;
        Ok(func)
    }

    /// The loop at `pos`, rotated: one test before it, one per iteration
    /// at its end, whose backward branch makes the loop header.
    fn inline_loop(
        &mut self,
        f: &mut FunctionBuilder,
        pos: usize,
        body: &[Node],
    ) -> Result<(), BuildError> {
        let (top, end) = (f.new_label(), f.new_label());
        f.set_line(pos as u32 + 1);
        load_cell(f);
        f.emit_branch(
            Instr::JumpEqIntImm {
                a: CELL,
                imm: 0,
                target: 0,
            },
            end,
        );
        f.bind(top);
        self.block(f, body)?;
        f.set_line(pos as u32 + 1);
        load_cell(f);
        f.emit_branch(
            Instr::JumpNeIntImm {
                a: CELL,
                imm: 0,
                target: 0,
            },
            top,
        );
        f.bind(end);
        Ok(())
    }
}

/// True if `body` has a loop in it (clears and multiply loops are none).
fn has_loops(body: &[Node]) -> bool {
    body.iter().any(|n| matches!(n.op, Op::Loop(_)))
}

/// CELL := tape[ptr].
fn load_cell(f: &mut FunctionBuilder) {
    f.emit(Instr::LoadIntElem {
        dst: CELL,
        arr: TAPE,
        idx: PTR,
    });
}

/// tape[ptr] := value & 255.
fn store_cell(f: &mut FunctionBuilder, value: Reg) {
    f.emit(Instr::AndInt {
        dst: value,
        a: value,
        b: MASK,
    });
    f.emit(Instr::StoreIntElem {
        arr: TAPE,
        idx: PTR,
        val: value,
    });
}

/// A multiply loop: skipped if the cell is 0, as the loop would be.
fn lower_multiply(f: &mut FunctionBuilder, targets: &[(i32, u8)], step_up: bool) {
    let skip = f.new_label();
    f.emit(Instr::LoadIntElem {
        dst: COUNT,
        arr: TAPE,
        idx: PTR,
    });
    f.emit_branch(
        Instr::JumpEqIntImm {
            a: COUNT,
            imm: 0,
            target: 0,
        },
        skip,
    );
    if step_up {
        // Counting up from c reaches 0 after 256 - c steps.
        f.emit(Instr::NegInt {
            dst: COUNT,
            a: COUNT,
        });
        f.emit(Instr::AddIntImm {
            dst: COUNT,
            a: COUNT,
            imm: 256,
        });
    }
    for &(offset, factor) in targets {
        f.emit(Instr::AddIntImm {
            dst: INDEX,
            a: PTR,
            imm: offset,
        });
        f.emit(Instr::LoadIntElem {
            dst: TARGET,
            arr: TAPE,
            idx: INDEX,
        });
        match factor {
            0 => {}
            1 => {
                f.emit(Instr::AddInt {
                    dst: TARGET,
                    a: TARGET,
                    b: COUNT,
                });
            }
            255 => {
                f.emit(Instr::SubInt {
                    dst: TARGET,
                    a: TARGET,
                    b: COUNT,
                });
            }
            _ => {
                f.load_int(FACTOR, factor.into());
                f.emit(Instr::MulInt {
                    dst: FACTOR,
                    a: FACTOR,
                    b: COUNT,
                });
                f.emit(Instr::AddInt {
                    dst: TARGET,
                    a: TARGET,
                    b: FACTOR,
                });
            }
        }
        f.emit(Instr::AndInt {
            dst: TARGET,
            a: TARGET,
            b: MASK,
        });
        f.emit(Instr::StoreIntElem {
            arr: TAPE,
            idx: INDEX,
            val: TARGET,
        });
    }
    f.emit(Instr::StoreIntElem {
        arr: TAPE,
        idx: PTR,
        val: ZERO,
    });
    f.bind(skip);
}

// ---- I/O: host functions ----------------------------------------------

/// The host functions `main` imports.
struct HostIo {
    read: HostId,
    write: HostId,
}

impl HostIo {
    const READ: &'static str = "read_byte";
    const WRITE: &'static str = "write_byte";

    fn declare(module: &mut ModuleBuilder) -> Result<HostIo, BuildError> {
        Ok(HostIo {
            read: module.import(Self::READ, vec![], Some(Type::Int))?,
            write: module.import(Self::WRITE, vec![Type::Int], None)?,
        })
    }

    /// write_byte(R[value]).
    fn emit_write(&self, f: &mut FunctionBuilder, value: Reg) {
        f.emit(Instr::CallHostVoid {
            host: self.write,
            base: value,
        });
    }

    /// R[dst] := read_byte().
    fn emit_read(&self, f: &mut FunctionBuilder, dst: Reg) {
        // No arguments: any register will do as the window.
        f.emit(Instr::CallHost {
            dst,
            host: self.read,
            base: dst,
        });
    }

    /// Their definitions, on `io`.
    fn define(io: &Arc<Io>) -> HostFunctions {
        let mut host = HostFunctions::new();
        let reader = io.clone();
        host.define(Self::READ, move |(): ()| {
            Ok(reader.read_byte()?.map_or(-1, i64::from))
        });
        let writer = io.clone();
        host.define(Self::WRITE, move |(byte,): (i64,)| {
            writer.write_byte(byte as u8).map_err(HostError::new)
        });
        host
    }
}

/// The program's stdin and stdout, shared by the host functions.
struct Io {
    out: Mutex<Output>,
}

struct Output {
    buffer: Vec<u8>,
    /// Why writing failed, if it did; nothing more is written then.
    error: Option<std::io::Error>,
}

impl Io {
    fn new() -> Io {
        Io {
            out: Mutex::new(Output {
                buffer: Vec::with_capacity(OUTPUT_BUFFER_BYTES),
                error: None,
            }),
        }
    }

    /// Buffers `byte`; writes the buffer once it is full.
    fn write_byte(&self, byte: u8) -> Result<(), String> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.buffer.push(byte);
        if out.buffer.len() >= OUTPUT_BUFFER_BYTES {
            out.flush()?;
        }
        Ok(())
    }

    /// Writes what is buffered, then reads a byte: `None` at end of input.
    fn read_byte(&self) -> Result<Option<u8>, String> {
        self.flush()?;
        let mut byte = [0u8];
        loop {
            match std::io::stdin().lock().read(&mut byte) {
                Ok(0) => return Ok(None),
                Ok(_) => return Ok(Some(byte[0])),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot read stdin: {e}")),
            }
        }
    }

    fn flush(&self) -> Result<(), String> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }

    /// True if stdout's reader went away.
    fn broken_pipe(&self) -> bool {
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.error
            .as_ref()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl Output {
    fn flush(&mut self) -> Result<(), String> {
        if let Some(e) = &self.error {
            return Err(format!("cannot write stdout: {e}"));
        }
        let mut stdout = std::io::stdout().lock();
        let written = stdout.write_all(&self.buffer).and_then(|()| stdout.flush());
        self.buffer.clear();
        written.map_err(|e| {
            let message = format!("cannot write stdout: {e}");
            self.error = Some(e);
            message
        })
    }
}

// ---- running ------------------------------------------------------------

fn run(module: Module, args: &Args, source: &[u8]) -> ExitCode {
    let io = Arc::new(Io::new());
    let options = VmOptions {
        tier: args.tier,
        trace_tiers: args.trace_tiers,
        host_functions: HostIo::define(&io),
        ..Default::default()
    };
    let vm = match Vm::new(module, options) {
        Ok(vm) => vm,
        Err(e) => {
            eprintln!("bf: {}: {e}", args.path);
            return ExitCode::from(EXIT_RUNTIME_ERROR);
        }
    };
    let result = vm.run_main();
    let flushed = io.flush();
    vm.shutdown();
    if io.broken_pipe() {
        return ExitCode::from(EXIT_BROKEN_PIPE);
    }
    match (result, flushed) {
        (Ok(_), Ok(())) => ExitCode::SUCCESS,
        (Err(error), _) => {
            report_runtime_error(&error, &vm, &args.path, source);
            ExitCode::from(EXIT_RUNTIME_ERROR)
        }
        (Ok(_), Err(message)) => {
            eprintln!("bf: {message}");
            ExitCode::from(EXIT_RUNTIME_ERROR)
        }
    }
}

/// `bf: FILE:LINE:COL: runtime error: MESSAGE`, at the command whose
/// bytecode failed.
fn report_runtime_error(error: &RuntimeError, vm: &Vm, path: &str, source: &[u8]) {
    let offset = error.frames.first().map(|&(func, pc)| {
        let line = vm.module().func(func).lines.line(pc);
        line.saturating_sub(1) as usize
    });
    let hint = match error.trap {
        Trap::IndexOutOfBounds => " (the pointer is off the tape)",
        _ => "",
    };
    match offset {
        Some(pos) => {
            let (line, col) = line_col(source, pos);
            eprintln!(
                "bf: {path}:{line}:{col}: runtime error: {}{hint}",
                error.message()
            );
        }
        None => eprintln!("bf: {path}: runtime error: {}{hint}", error.message()),
    }
}
