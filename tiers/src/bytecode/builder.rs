//! Building functions: the API the tj front end uses, and a host would.
//!
//! Jumps are emitted against [`Label`]s and patched when the label is
//! bound, so code can be emitted in one forward pass. Every instruction is
//! tagged with the current source line ([`FunctionBuilder::set_line`]).

use super::verify::{verify_module, VerifyError};
use super::{
    FuncId, Function, HostId, HostImport, Instr, LineRun, LineTable, Module, Reg, MAX_REGS,
};
use crate::Type;
use std::fmt;

/// A position in the code that jumps can name before it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(u32);

/// Too many registers or instructions for one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge(pub &'static str);

/// Builds one [`Function`].
#[derive(Debug)]
pub struct FunctionBuilder {
    /// The signature and frame size (its tables are the three below).
    func: Function,
    code: Vec<Instr>,
    consts: Vec<u64>,
    lines: Vec<LineRun>,
    line: u32,
    /// Bound pc of each label (`u32::MAX` while unbound).
    labels: Vec<u32>,
    /// (pc of a jump, label it targets) for jumps emitted before binding.
    fixups: Vec<(u32, Label)>,
    too_large: Option<TooLarge>,
    /// The pc a label was last bound to.
    last_bound: Option<u32>,
}

impl FunctionBuilder {
    /// Starts a function; its parameters occupy registers `0..params.len()`.
    pub fn new(name: &str, params: Vec<Type>, ret: Option<Type>) -> FunctionBuilder {
        let num_regs = params.len().min(MAX_REGS) as u16;
        let too_large = (params.len() > MAX_REGS).then_some(TooLarge("registers"));
        FunctionBuilder {
            func: Function {
                name: name.to_string(),
                params,
                ret,
                num_regs,
                code: Default::default(),
                consts: Default::default(),
                lines: LineTable::default(),
            },
            code: Vec::new(),
            consts: Vec::new(),
            lines: Vec::new(),
            line: 0,
            labels: Vec::new(),
            fixups: Vec::new(),
            too_large,
            last_bound: None,
        }
    }

    /// Instructions emitted from now on come from source line `line`.
    pub fn set_line(&mut self, line: u32) {
        self.line = line;
    }

    /// Makes sure the frame has at least `n` registers.
    pub fn reserve_regs(&mut self, n: usize) {
        if n > MAX_REGS {
            self.too_large = Some(TooLarge("registers"));
        } else if n > self.func.num_regs as usize {
            self.func.num_regs = n as u16;
        }
    }

    /// Appends an instruction; returns its pc.
    pub fn emit(&mut self, instr: Instr) -> u32 {
        let pc = self.code.len() as u32;
        if pc == u32::MAX {
            self.too_large = Some(TooLarge("instructions"));
            return pc;
        }
        LineTable::push_run(&mut self.lines, pc, self.line);
        self.code.push(instr);
        pc
    }

    /// Appends a branch instruction whose target is `label` (the target
    /// operand of `instr` is replaced when the label is bound).
    pub fn emit_branch(&mut self, instr: Instr, label: Label) -> u32 {
        let bound = self.labels[label.0 as usize];
        if bound != u32::MAX {
            return self.emit(instr.with_target(bound));
        }
        let pc = self.emit(instr);
        self.fixups.push((pc, label));
        pc
    }

    /// The pc the next instruction will get.
    pub fn next_pc(&self) -> u32 {
        self.code.len() as u32
    }

    /// True if control can reach the next pc: the code so far falls
    /// through, or a label that a jump aims at is bound there.
    pub fn can_fall_through(&self) -> bool {
        let terminated = self
            .code
            .last()
            .is_some_and(|i| i.effects().contains(super::Effects::TERMINATOR));
        !terminated || self.last_bound == Some(self.next_pc())
    }

    /// A new unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(u32::MAX);
        Label(self.labels.len() as u32 - 1)
    }

    /// Binds `label` to the next pc and patches the jumps already aimed at it.
    pub fn bind(&mut self, label: Label) {
        let pc = self.next_pc();
        self.labels[label.0 as usize] = pc;
        if self.fixups.iter().any(|&(_, l)| l == label) {
            // Only a label some jump aims at makes this pc reachable.
            self.last_bound = Some(pc);
        }
        let code = &mut self.code;
        self.fixups.retain(|&(at, l)| {
            if l == label {
                code[at as usize] = code[at as usize].with_target(pc);
                false
            } else {
                true
            }
        });
    }

    /// Adds a 64-bit constant to the pool (deduplicated); returns its index.
    pub fn constant(&mut self, bits: u64) -> u32 {
        if let Some(i) = self.consts.iter().position(|&c| c == bits) {
            return i as u32;
        }
        self.consts.push(bits);
        self.consts.len() as u32 - 1
    }

    /// Emits the cheapest load of the int `value` into `dst`.
    pub fn load_int(&mut self, dst: Reg, value: i64) {
        match i32::try_from(value) {
            Ok(imm) => self.emit(Instr::LoadInt { dst, imm }),
            Err(_) => {
                let k = self.constant(value as u64);
                self.emit(Instr::LoadConstInt { dst, k })
            }
        };
    }

    /// Emits a load of the float `value` into `dst`.
    pub fn load_float(&mut self, dst: Reg, value: f64) {
        let k = self.constant(value.to_bits());
        self.emit(Instr::LoadConstFloat { dst, k });
    }

    /// Jumps aimed at labels not bound yet.
    pub fn unbound_jumps(&self) -> usize {
        self.fixups.len()
    }

    /// Finishes the function. Labels that were never bound leave their
    /// jumps aimed at pc 0 (the verifier accepts that, so binding is the
    /// caller's job); a function too large for the format is an error.
    pub fn finish(self) -> Result<Function, TooLarge> {
        match self.too_large {
            Some(e) => Err(e),
            None => Ok(Function {
                code: self.code.into(),
                consts: self.consts.into(),
                lines: LineTable::from_runs(self.lines.into()),
                ..self.func
            }),
        }
    }
}

/// Builds a [`Module`] for a host that emits bytecode directly: declare
/// every function first (so that calls can name one before it is built,
/// itself included), build each with the [`FunctionBuilder`] that
/// [`ModuleBuilder::function`] starts, and [`ModuleBuilder::finish`]
/// checks the whole module with the verifier.
///
/// ```
/// use tierjit_tiers::bytecode::builder::ModuleBuilder;
/// use tierjit_tiers::bytecode::{Instr, Reg};
/// use tierjit_tiers::Type;
///
/// // sum(n) = 0 + 1 + ... + (n - 1), as a loop.
/// let mut module = ModuleBuilder::new();
/// let sum = module.declare("sum", vec![Type::Int], Some(Type::Int)).unwrap();
/// let mut f = module.function(sum);
/// let (n, acc, i) = (Reg(0), Reg(1), Reg(2));
/// f.reserve_regs(3);
/// f.load_int(acc, 0);
/// f.load_int(i, 0);
/// let (top, done) = (f.new_label(), f.new_label());
/// f.bind(top);
/// f.emit_branch(Instr::JumpLeInt { a: n, b: i, target: 0 }, done);
/// f.emit(Instr::AddInt { dst: acc, a: acc, b: i });
/// f.emit(Instr::AddIntImm { dst: i, a: i, imm: 1 });
/// f.emit_branch(Instr::Jump { target: 0 }, top);
/// f.bind(done);
/// f.emit(Instr::Return { src: acc });
/// module.define(sum, f).unwrap();
/// let module = module.finish().unwrap();
/// assert_eq!(module.find("sum"), Some(sum));
/// ```
///
/// Mistakes come back as a [`BuildError`] that names the function (and
/// for bytecode the verifier rejects, the pc):
///
/// ```
/// use tierjit_tiers::bytecode::builder::ModuleBuilder;
/// use tierjit_tiers::bytecode::{Instr, Reg};
/// use tierjit_tiers::Type;
///
/// let mut module = ModuleBuilder::new();
/// let f = module.declare("f", vec![Type::Float], Some(Type::Int)).unwrap();
/// let mut b = module.function(f);
/// b.emit(Instr::Return { src: Reg(0) }); // a float where an int is returned
/// module.define(f, b).unwrap();
/// let error = module.finish().unwrap_err().to_string();
/// assert!(error.starts_with("invalid bytecode in function 'f' at pc 0"), "{error}");
/// ```
#[derive(Debug, Default)]
pub struct ModuleBuilder {
    /// Each declared function, with its code once defined.
    funcs: Vec<(Function, bool)>,
    strings: Vec<String>,
    hosts: Vec<HostImport>,
}

/// Why a [`ModuleBuilder`] refused a function or the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// A second function of this name.
    Duplicate(String),
    /// A function declared but never defined.
    Undefined(String),
    /// A function defined twice, or with a builder of another signature.
    Redefined(String),
    /// A function whose jumps aim at labels never bound.
    UnboundLabel(String),
    /// A function too large for the format (`what`: registers or
    /// instructions).
    TooLarge {
        /// The function.
        func: String,
        /// What there are too many of.
        what: &'static str,
    },
    /// The verifier's verdict.
    Invalid(VerifyError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Duplicate(name) => write!(f, "'{name}' is declared twice"),
            BuildError::Undefined(name) => {
                write!(f, "function '{name}' is declared but not defined")
            }
            BuildError::Redefined(name) => write!(
                f,
                "function '{name}' is defined twice, or with another signature"
            ),
            BuildError::UnboundLabel(name) => {
                write!(f, "function '{name}' jumps to a label that is never bound")
            }
            BuildError::TooLarge { func, what } => {
                write!(f, "function '{func}' has too many {what}")
            }
            BuildError::Invalid(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

impl ModuleBuilder {
    /// An empty module.
    pub fn new() -> ModuleBuilder {
        ModuleBuilder::default()
    }

    /// Declares a function; its id is what calls name.
    pub fn declare(
        &mut self,
        name: &str,
        params: Vec<Type>,
        ret: Option<Type>,
    ) -> Result<FuncId, BuildError> {
        if self.funcs.iter().any(|(f, _)| f.name == name) {
            return Err(BuildError::Duplicate(name.to_string()));
        }
        let func = FunctionBuilder::new(name, params, ret)
            .finish()
            .map_err(|TooLarge(what)| BuildError::TooLarge {
                func: name.to_string(),
                what,
            })?;
        self.funcs.push((func, false));
        Ok(FuncId(self.funcs.len() as u32 - 1))
    }

    /// A builder for declared function `id`, with its signature.
    pub fn function(&self, id: FuncId) -> FunctionBuilder {
        let (f, _) = &self.funcs[id.index()];
        FunctionBuilder::new(&f.name, f.params.clone(), f.ret)
    }

    /// Gives declared function `id` the code built in `builder`.
    pub fn define(&mut self, id: FuncId, builder: FunctionBuilder) -> Result<(), BuildError> {
        let Some((declared, defined)) = self.funcs.get_mut(id.index()) else {
            return Err(BuildError::Undefined(format!("#{}", id.0)));
        };
        let name = declared.name.clone();
        if builder.unbound_jumps() > 0 {
            return Err(BuildError::UnboundLabel(name));
        }
        let func = builder
            .finish()
            .map_err(|TooLarge(what)| BuildError::TooLarge {
                func: name.clone(),
                what,
            })?;
        let same = (&func.name, &func.params, func.ret)
            == (&declared.name, &declared.params, declared.ret);
        if *defined || !same {
            return Err(BuildError::Redefined(name));
        }
        *declared = func;
        *defined = true;
        Ok(())
    }

    /// Declares a function of the host that the module calls with
    /// `call.h` or `call.hv`; the host defines it when it starts the
    /// program. Parameters and result must be scalars.
    pub fn import(
        &mut self,
        name: &str,
        params: Vec<Type>,
        ret: Option<Type>,
    ) -> Result<HostId, BuildError> {
        if self.hosts.iter().any(|h| h.name == name) {
            return Err(BuildError::Duplicate(name.to_string()));
        }
        self.hosts.push(HostImport {
            name: name.to_string(),
            params,
            ret,
        });
        Ok(HostId(self.hosts.len() as u32 - 1))
    }

    /// Adds a string for `print.s`; returns its index.
    pub fn string(&mut self, s: &str) -> u32 {
        if let Some(i) = self.strings.iter().position(|t| t == s) {
            return i as u32;
        }
        self.strings.push(s.to_string());
        self.strings.len() as u32 - 1
    }

    /// The module, once every declared function is defined and the
    /// verifier accepts it.
    pub fn finish(self) -> Result<Module, BuildError> {
        if let Some((f, _)) = self.funcs.iter().find(|(_, defined)| !defined) {
            return Err(BuildError::Undefined(f.name.clone()));
        }
        let module = Module {
            funcs: self.funcs.into_iter().map(|(f, _)| f).collect(),
            strings: self.strings,
            hosts: self.hosts,
        };
        verify_module(&module).map_err(BuildError::Invalid)?;
        Ok(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_builder_refuses_what_a_host_can_get_wrong() {
        let mut m = ModuleBuilder::new();
        let f = m.declare("f", vec![], None).unwrap();
        assert_eq!(
            m.declare("f", vec![], None),
            Err(BuildError::Duplicate("f".into()))
        );
        let g = m.declare("g", vec![], None).unwrap();
        // A jump to a label never bound.
        let mut b = m.function(f);
        let nowhere = b.new_label();
        b.emit_branch(Instr::Jump { target: 0 }, nowhere);
        assert_eq!(m.define(f, b), Err(BuildError::UnboundLabel("f".into())));
        // A builder of another signature.
        let other = FunctionBuilder::new("f", vec![Type::Int], None);
        assert_eq!(m.define(f, other), Err(BuildError::Redefined("f".into())));
        let mut b = m.function(f);
        b.emit(Instr::ReturnVoid {});
        m.define(f, b).unwrap();
        let mut again = m.function(f);
        again.emit(Instr::ReturnVoid {});
        assert_eq!(m.define(f, again), Err(BuildError::Redefined("f".into())));
        // `g` was never defined.
        let _ = g;
        assert_eq!(m.finish().unwrap_err(), BuildError::Undefined("g".into()));
    }

    #[test]
    fn forward_and_backward_labels_are_patched() {
        let mut b = FunctionBuilder::new("f", vec![Type::Int], Some(Type::Int));
        b.reserve_regs(2);
        let top = b.new_label();
        let out = b.new_label();
        b.bind(top);
        b.emit_branch(
            Instr::JumpEqInt {
                a: Reg(0),
                b: Reg(0),
                target: 0,
            },
            out,
        );
        b.emit_branch(Instr::Jump { target: 0 }, top);
        b.bind(out);
        b.emit(Instr::Return { src: Reg(0) });
        let f = b.finish().unwrap();
        assert_eq!(f.code[0].target(), Some(2));
        assert_eq!(f.code[1].target(), Some(0));
    }

    #[test]
    fn constants_are_shared_and_lines_recorded() {
        let mut b = FunctionBuilder::new("f", vec![], None);
        b.reserve_regs(1);
        b.set_line(3);
        b.load_int(Reg(0), 1 << 40);
        b.set_line(4);
        b.load_int(Reg(0), 1 << 40);
        b.load_int(Reg(0), 7);
        let f = b.finish().unwrap();
        assert_eq!(f.consts.len(), 1);
        assert_eq!(f.lines.line(0), 3);
        assert_eq!(f.lines.line(1), 4);
        assert_eq!(f.lines.line(2), 4);
        assert_eq!(
            f.code[2],
            Instr::LoadInt {
                dst: Reg(0),
                imm: 7
            }
        );
    }
}
