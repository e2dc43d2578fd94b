//! The bytecode verifier: checks that a module is safe to run.
//!
//! The interpreter and the compilers trust verified bytecode: they index
//! registers, constants and code without checks. So the verifier must reject
//! anything that could make them misbehave:
//!
//! - structure: every register operand is inside the frame, every call's
//!   argument window fits, every branch target, constant, string and
//!   function index exists, the code is not empty and its last instruction
//!   never falls through (no falling off the end);
//! - calls: `call` names a function that returns a value, `spawn` one that
//!   returns int, `call.h` a host import that gives a value, `ret` only in
//!   a function with a return type, `ret.v` only in one without;
//! - host imports: each has a distinct name, and only scalar parameters
//!   and result (arrays never reach the host);
//! - types: by forward dataflow over the control-flow graph, the type held
//!   by each register at each reachable pc; every read must find the type
//!   the operand kind requires (so a register is never read before it is
//!   written, on any path, and an array register always holds an array).
//!   Where paths disagree on a register's type it becomes unusable.
//!
//! A module that passes is guaranteed: no out-of-range access to registers,
//! code, constants or strings, and array registers only ever hold arrays.

use super::{FuncId, Function, HostId, Instr, Module, OperandKind, MAX_REGS};
use crate::Type;
use std::fmt;

/// Why a module was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// The function at fault.
    pub func: String,
    /// The pc at fault, if the error is about one instruction.
    pub pc: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(
                f,
                "invalid bytecode in function '{}' at pc {}: {}",
                self.func, pc, self.message
            ),
            None => write!(
                f,
                "invalid bytecode in function '{}': {}",
                self.func, self.message
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks every host import and every function of `module`.
pub fn verify_module(module: &Module) -> Result<(), VerifyError> {
    for (i, host) in module.hosts.iter().enumerate() {
        check_import(module, i, host).map_err(|message| VerifyError {
            func: host.name.clone(),
            pc: None,
            message,
        })?;
    }
    for func in &module.funcs {
        verify_function(module, func)?;
    }
    Ok(())
}

/// Checks one function against the module it belongs to.
pub fn verify_function(module: &Module, func: &Function) -> Result<(), VerifyError> {
    let fail = |pc: Option<u32>, message: String| VerifyError {
        func: func.name.clone(),
        pc,
        message,
    };
    check_signature(func).map_err(|m| fail(None, m))?;
    for (pc, instr) in func.code.iter().enumerate() {
        check_structure(module, func, instr).map_err(|m| fail(Some(pc as u32), m))?;
    }
    check_types(module, func).map_err(|(pc, m)| fail(Some(pc), m))
}

fn check_import(module: &Module, index: usize, host: &super::HostImport) -> Result<(), String> {
    if module.hosts[..index].iter().any(|h| h.name == host.name) {
        return Err("the host function is imported twice".into());
    }
    if host.params.len() > MAX_REGS {
        return Err(format!("{} parameters are too many", host.params.len()));
    }
    match host.params.iter().chain(&host.ret).find(|t| t.is_array()) {
        Some(t) => Err(format!("a host function cannot take or give {t}")),
        None => Ok(()),
    }
}

/// What a call instruction calls: a function of the module or of the host.
#[derive(Clone, Copy)]
struct Callee<'m> {
    name: &'m str,
    params: &'m [Type],
    ret: Option<Type>,
}

impl<'m> Callee<'m> {
    fn func(module: &'m Module, id: u32) -> Option<Callee<'m>> {
        let f = module.funcs.get(FuncId(id).index())?;
        Some(Callee {
            name: &f.name,
            params: &f.params,
            ret: f.ret,
        })
    }

    fn host(module: &'m Module, id: u32) -> Option<Callee<'m>> {
        let h = module.hosts.get(HostId(id).index())?;
        Some(Callee {
            name: &h.name,
            params: &h.params,
            ret: h.ret,
        })
    }
}

fn check_signature(func: &Function) -> Result<(), String> {
    if func.params.len() > func.num_regs as usize || func.num_regs as usize > MAX_REGS {
        return Err(format!(
            "{} parameters do not fit in a frame of {} registers",
            func.params.len(),
            func.num_regs
        ));
    }
    match func.code.last() {
        None => Err("the function has no code".into()),
        Some(last) if !last.effects().contains(super::Effects::TERMINATOR) => {
            Err("the last instruction falls off the end of the code".into())
        }
        Some(_) => Ok(()),
    }
}

/// Checks that every operand of `instr` names something that exists.
fn check_structure(module: &Module, func: &Function, instr: &Instr) -> Result<(), String> {
    let num_regs = func.num_regs as u32;
    let mut result = Ok(());
    let mut callee = None;
    instr.for_each_operand(|kind, v| {
        match kind {
            OperandKind::Func => callee = Callee::func(module, v),
            OperandKind::Host => callee = Callee::host(module, v),
            _ => {}
        }
        let problem = match kind {
            OperandKind::Window => None, // checked below, once the callee is known
            k if k.is_register() && v >= num_regs => {
                Some(format!("register r{v} is outside the frame of {num_regs}"))
            }
            OperandKind::Target if v as usize >= func.code.len() => {
                Some(format!("branch target {v} is outside the code"))
            }
            OperandKind::ConstInt | OperandKind::ConstFloat if v as usize >= func.consts.len() => {
                Some(format!("constant k{v} does not exist"))
            }
            OperandKind::Str if v as usize >= module.strings.len() => {
                Some(format!("string s{v} does not exist"))
            }
            OperandKind::Func if v as usize >= module.funcs.len() => {
                Some(format!("function f{v} does not exist"))
            }
            OperandKind::Host if v as usize >= module.hosts.len() => {
                Some(format!("host function h{v} does not exist"))
            }
            OperandKind::RRet if func.ret.is_none() => {
                Some("'ret' with a value in a function that returns nothing".into())
            }
            _ => None,
        };
        if let (Some(p), Ok(())) = (problem, &result) {
            result = Err(p);
        }
    });
    result?;
    let window_fits = |base: u16, callee: Callee| {
        if base as usize + callee.params.len() > num_regs as usize {
            Err(format!(
                "the arguments of '{}' (r{}..) do not fit in the frame of {}",
                callee.name, base, num_regs
            ))
        } else {
            Ok(())
        }
    };
    match *instr {
        Instr::Call { base, .. } | Instr::CallHost { base, .. } => {
            let callee = callee.expect("checked above");
            window_fits(base.0, callee)?;
            if callee.ret.is_none() {
                return Err(format!(
                    "'{}' of '{}', which returns nothing",
                    instr.opcode().mnemonic(),
                    callee.name
                ));
            }
        }
        Instr::CallVoid { base, .. } | Instr::CallHostVoid { base, .. } => {
            window_fits(base.0, callee.expect("checked above"))?
        }
        Instr::Spawn { base, .. } => {
            let callee = callee.expect("checked above");
            window_fits(base.0, callee)?;
            if callee.ret != Some(Type::Int) {
                return Err(format!(
                    "'spawn' of '{}', which does not return int",
                    callee.name
                ));
            }
        }
        Instr::ReturnVoid {} if func.ret.is_some() => {
            return Err("'ret.v' in a function that returns a value".into());
        }
        _ => {}
    }
    Ok(())
}

/// The type held by each register; `None` where unassigned or conflicting.
type RegTypes = Vec<Option<Type>>;

/// Forward dataflow of register types over the basic blocks.
fn check_types(module: &Module, func: &Function) -> Result<(), (u32, String)> {
    let code = &func.code;
    let mut entry_state: Vec<Option<RegTypes>> = vec![None; code.len()];
    let mut initial: RegTypes = vec![None; func.num_regs as usize];
    for (i, &t) in func.params.iter().enumerate() {
        initial[i] = Some(t);
    }
    entry_state[0] = Some(initial);
    // A block starts at pc 0, at every branch target and after every branch.
    let mut is_leader = vec![false; code.len()];
    is_leader[0] = true;
    for (pc, instr) in code.iter().enumerate() {
        if let Some(t) = instr.target() {
            is_leader[t as usize] = true;
            if pc + 1 < code.len() {
                is_leader[pc + 1] = true;
            }
        }
    }
    let mut worklist = vec![0usize];
    while let Some(start) = worklist.pop() {
        let mut state = entry_state[start]
            .clone()
            .expect("queued blocks have a state");
        let mut pc = start;
        loop {
            let instr = &code[pc];
            transfer(module, func, instr, &mut state).map_err(|m| (pc as u32, m))?;
            let mut successors = [None, None];
            if let Some(t) = instr.target() {
                successors[0] = Some(t as usize);
            }
            if !instr.effects().contains(super::Effects::TERMINATOR) {
                // Not past the end: the last instruction is a terminator.
                successors[1] = Some(pc + 1);
            }
            let falls_into_next_block = successors[1].is_some_and(|n| !is_leader[n]);
            for succ in successors.into_iter().flatten() {
                if succ == pc + 1 && falls_into_next_block {
                    continue;
                }
                if merge_into(&mut entry_state[succ], &state) {
                    worklist.push(succ);
                }
            }
            if !falls_into_next_block {
                break;
            }
            pc += 1;
        }
    }
    Ok(())
}

/// Merges `state` into a block's entry state; true if that changed it.
fn merge_into(entry: &mut Option<RegTypes>, state: &RegTypes) -> bool {
    match entry {
        None => {
            *entry = Some(state.clone());
            true
        }
        Some(existing) => {
            let mut changed = false;
            for (e, s) in existing.iter_mut().zip(state) {
                if e.is_some() && e != s {
                    *e = None;
                    changed = true;
                }
            }
            changed
        }
    }
}

/// Checks the reads of `instr` against `state`, then applies its writes.
fn transfer(
    module: &Module,
    func: &Function,
    instr: &Instr,
    state: &mut RegTypes,
) -> Result<(), String> {
    let mut error = None;
    let mut any_type = None;
    let mut callee = None;
    instr.for_each_operand(|kind, v| {
        if error.is_some() {
            return;
        }
        let held = |r: u32| state.get(r as usize).copied().flatten();
        let expect = |r: u32, want: Type| match held(r) {
            Some(t) if t == want => None,
            Some(t) => Some(format!("r{r} holds {t}, expected {want}")),
            None => Some(format!(
                "r{r} is read before it is written (expected {want})"
            )),
        };
        error = match kind {
            OperandKind::RInt => expect(v, Type::Int),
            OperandKind::RFloat => expect(v, Type::Float),
            OperandKind::RBool => expect(v, Type::Bool),
            OperandKind::RIntArray => expect(v, Type::IntArray),
            OperandKind::RFloatArray => expect(v, Type::FloatArray),
            OperandKind::RRet => expect(v, func.ret.expect("checked by structure")),
            OperandKind::RArray => match held(v) {
                Some(t) if t.is_array() => None,
                Some(t) => Some(format!("r{v} holds {t}, expected an array")),
                None => Some(format!(
                    "r{v} is read before it is written (expected an array)"
                )),
            },
            OperandKind::RAny => {
                any_type = held(v);
                any_type
                    .is_none()
                    .then(|| format!("r{v} is read before it is written"))
            }
            OperandKind::Func => {
                callee = Callee::func(module, v);
                None
            }
            OperandKind::Host => {
                callee = Callee::host(module, v);
                None
            }
            OperandKind::Window => {
                let callee = callee.expect("the callee comes before its window");
                callee
                    .params
                    .iter()
                    .enumerate()
                    .find_map(|(i, &t)| expect(v + i as u32, t))
                    .map(|e| format!("argument {} of '{}': {e}", v, callee.name))
            }
            _ => None,
        };
    });
    if let Some(e) = error {
        return Err(e);
    }
    if let Instr::Call { base, .. } | Instr::CallVoid { base, .. } = *instr {
        for r in &mut state[base.0 as usize..] {
            *r = None;
        }
    }
    instr.for_each_operand(|kind, v| {
        let written = match kind {
            OperandKind::WInt => Type::Int,
            OperandKind::WFloat => Type::Float,
            OperandKind::WBool => Type::Bool,
            OperandKind::WIntArray => Type::IntArray,
            OperandKind::WFloatArray => Type::FloatArray,
            OperandKind::WLike => any_type.expect("checked above"),
            OperandKind::WRet => callee.and_then(|c| c.ret).expect("checked by structure"),
            _ => return,
        };
        state[v as usize] = Some(written);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::builder::FunctionBuilder;
    use super::super::{FuncId, Reg};
    use super::*;

    fn module_of(funcs: Vec<Function>) -> Module {
        Module {
            funcs,
            strings: vec!["hi".into()],
            hosts: Vec::new(),
        }
    }

    fn one(build: impl FnOnce(&mut FunctionBuilder), ret: Option<Type>) -> Result<(), VerifyError> {
        let mut b = FunctionBuilder::new("f", vec![Type::Int], ret);
        b.reserve_regs(4);
        build(&mut b);
        verify_module(&module_of(vec![b.finish().unwrap()]))
    }

    #[test]
    fn accepts_well_typed_code() {
        one(
            |b| {
                b.emit(Instr::AddIntImm {
                    dst: Reg(1),
                    a: Reg(0),
                    imm: 1,
                });
                b.emit(Instr::Return { src: Reg(1) });
            },
            Some(Type::Int),
        )
        .unwrap();
    }

    #[test]
    fn rejects_wrong_register_type() {
        let e = one(
            |b| {
                b.load_float(Reg(1), 1.0);
                b.emit(Instr::AddInt {
                    dst: Reg(2),
                    a: Reg(0),
                    b: Reg(1),
                });
                b.emit(Instr::Return { src: Reg(2) });
            },
            Some(Type::Int),
        )
        .unwrap_err();
        assert_eq!(e.pc, Some(1));
        assert!(e.message.contains("holds float, expected int"), "{e}");
    }

    #[test]
    fn rejects_read_of_unassigned_register_on_some_path() {
        // r1 is written only when r0 == r0 is false.
        let e = one(
            |b| {
                let join = b.new_label();
                b.emit_branch(
                    Instr::JumpEqInt {
                        a: Reg(0),
                        b: Reg(0),
                        target: 0,
                    },
                    join,
                );
                b.emit(Instr::LoadInt {
                    dst: Reg(1),
                    imm: 3,
                });
                b.bind(join);
                b.emit(Instr::Return { src: Reg(1) });
            },
            Some(Type::Int),
        )
        .unwrap_err();
        assert!(e.message.contains("read before it is written"), "{e}");
    }

    #[test]
    fn rejects_conflicting_types_at_a_join() {
        let e = one(
            |b| {
                let other = b.new_label();
                let join = b.new_label();
                b.emit_branch(
                    Instr::JumpEqInt {
                        a: Reg(0),
                        b: Reg(0),
                        target: 0,
                    },
                    other,
                );
                b.emit(Instr::LoadInt {
                    dst: Reg(1),
                    imm: 3,
                });
                b.emit_branch(Instr::Jump { target: 0 }, join);
                b.bind(other);
                b.load_float(Reg(1), 2.0);
                b.bind(join);
                b.emit(Instr::PrintInt { src: Reg(1) });
                b.emit(Instr::Return { src: Reg(0) });
            },
            Some(Type::Int),
        )
        .unwrap_err();
        assert_eq!(e.pc, Some(4));
    }

    #[test]
    fn rejects_falling_off_the_end_and_bad_targets() {
        let e = one(
            |b| {
                b.emit(Instr::PrintInt { src: Reg(0) });
            },
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("falls off the end"), "{e}");
        let e = one(
            |b| {
                b.emit(Instr::Jump { target: 9 });
            },
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("outside the code"), "{e}");
        let e = one(
            |b| {
                b.emit(Instr::PrintInt { src: Reg(40) });
                b.emit(Instr::ReturnVoid {});
            },
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("outside the frame"), "{e}");
        let e = one(
            |b| {
                b.emit(Instr::ReturnVoid {});
            },
            Some(Type::Int),
        )
        .unwrap_err();
        assert!(e.message.contains("returns a value"), "{e}");
        let e = one(
            |b| {
                b.emit(Instr::PrintStr { s: 3 });
                b.emit(Instr::ReturnVoid {});
            },
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("string s3"), "{e}");
    }

    #[test]
    fn checks_call_signatures_and_clobbers_the_window() {
        // callee(int, float) -> int
        let mut c = FunctionBuilder::new("callee", vec![Type::Int, Type::Float], Some(Type::Int));
        c.emit(Instr::Return { src: Reg(0) });
        let callee = c.finish().unwrap();
        let caller = |args_ok: bool, read_after: bool| {
            let mut b = FunctionBuilder::new("caller", vec![], None);
            b.reserve_regs(4);
            b.emit(Instr::LoadInt {
                dst: Reg(1),
                imm: 1,
            });
            if args_ok {
                b.load_float(Reg(2), 1.0);
            } else {
                b.emit(Instr::LoadInt {
                    dst: Reg(2),
                    imm: 1,
                });
            }
            b.emit(Instr::Call {
                dst: Reg(0),
                func: FuncId(1),
                base: Reg(1),
            });
            b.emit(Instr::PrintInt {
                src: if read_after { Reg(1) } else { Reg(0) },
            });
            b.emit(Instr::ReturnVoid {});
            verify_module(&module_of(vec![b.finish().unwrap(), callee.clone()]))
        };
        caller(true, false).unwrap();
        assert!(caller(false, false)
            .unwrap_err()
            .message
            .contains("argument"));
        assert!(caller(true, true)
            .unwrap_err()
            .message
            .contains("read before"));
    }

    #[test]
    fn rejects_array_registers_holding_ints() {
        let e = one(
            |b| {
                b.emit(Instr::ArrayLen {
                    dst: Reg(1),
                    arr: Reg(0),
                });
                b.emit(Instr::Return { src: Reg(1) });
            },
            Some(Type::Int),
        )
        .unwrap_err();
        assert!(e.message.contains("expected an array"), "{e}");
    }
}
