//! Building functions: the API the tj front end uses, and a host would.
//!
//! Jumps are emitted against [`Label`]s and patched when the label is
//! bound, so code can be emitted in one forward pass. Every instruction is
//! tagged with the current source line ([`FunctionBuilder::set_line`]).

use super::{Function, Instr, LineTable, Reg, MAX_REGS};
use crate::Type;

/// A position in the code that jumps can name before it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(u32);

/// Too many registers or instructions for one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge(pub &'static str);

/// Builds one [`Function`].
#[derive(Debug)]
pub struct FunctionBuilder {
    func: Function,
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
                code: Vec::new(),
                consts: Vec::new(),
                lines: LineTable::default(),
            },
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
        let pc = self.func.code.len() as u32;
        if pc == u32::MAX {
            self.too_large = Some(TooLarge("instructions"));
            return pc;
        }
        self.func.lines.push(pc, self.line);
        self.func.code.push(instr);
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
        self.func.code.len() as u32
    }

    /// True if control can reach the next pc: the code so far falls
    /// through, or a label that a jump aims at is bound there.
    pub fn can_fall_through(&self) -> bool {
        let terminated = self
            .func
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
        let code = &mut self.func.code;
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
        if let Some(i) = self.func.consts.iter().position(|&c| c == bits) {
            return i as u32;
        }
        self.func.consts.push(bits);
        self.func.consts.len() as u32 - 1
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

    /// Finishes the function. Labels that were never bound leave their
    /// jumps aimed at pc 0 (the verifier accepts that, so binding is the
    /// caller's job); a function too large for the format is an error.
    pub fn finish(self) -> Result<Function, TooLarge> {
        match self.too_large {
            Some(e) => Err(e),
            None => Ok(self.func),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
