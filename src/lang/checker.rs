//! The tj checker: resolves names, infers and checks types, folds constants.
//!
//! Contract:
//! - Input: a [`Program`] as the parser built it (without syntax errors).
//! - Output: the errors of docs/diagnostics.md's checker table, sorted by
//!   position, at most [`DIAGNOSTIC_LIMIT`]. An expression whose type could
//!   not be determined is silent upward, so one mistake gives one message.
//! - When no error is returned, the tree is complete for lowering: every
//!   `Expr::ty` is set (`None` only for string literals and calls of
//!   functions without a return type), every `Var` is `VarRef::Local` or
//!   `VarRef::Const` (with the folded value), every `Call` has its `callee`,
//!   every `Spawn` its `func`, every `Let`, `For` and `Assign` its `local`,
//!   every `FnDecl::locals` lists parameters, then `let`/`for` variables in
//!   source order (a shadowing `let` gets a new local), and every
//!   `ConstDecl::folded` is set.
//! - Recursion is bounded by the tree's depth, which the parser limits.
//!
//! The passes, in order:
//!
//! ```text
//! collect_globals    functions and constants share one namespace
//! consts::check      type each constant, find cycles, fold in dependency order
//! check_function     each body: scopes, types, loops, returns (returns.rs)
//! check_main         `main` exists with the right signature
//! ```
//!
//! Name resolution: a name used as a value is looked up among the locals in
//! scope, then the constants; a name that is called is looked up among the
//! functions and builtins only, so a local named like a function does not
//! hide it from calls. Locals may be named like builtins.

mod consts;
mod exprs;
mod returns;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use super::ast::{
    Block, Builtin, ConstValue, Expr, FnDecl, LocalId, Pos, Program, Stmt, StmtKind, Type,
};
use super::diag::Diagnostic;
use super::lexer::{quote_name, DIAGNOSTIC_LIMIT};
use tierjit_tiers::bytecode::HostImport;

/// Checks `program` and fills in what it resolves (see the module doc).
pub fn check(program: &mut Program) -> Vec<Diagnostic> {
    check_with_imports(program, &[])
}

/// [`check`], where a call may also name one of the host functions
/// `imports` (a name the program or a builtin does not take).
pub fn check_with_imports(program: &mut Program, imports: &[HostImport]) -> Vec<Diagnostic> {
    let mut sink = Sink::default();
    let mut globals = collect_globals(program, &mut sink);
    globals.hosts = imports
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let signature = Signature {
                params: h.params.clone(),
                ret: h.ret,
            };
            (h.name.clone(), (i as u32, signature))
        })
        .collect();
    consts::check(program, &mut globals, &mut sink);
    for func in &mut program.funcs {
        check_function(func, &globals, &mut sink);
    }
    check_main(program, &globals, &mut sink);
    sink.into_sorted()
}

/// Collects errors, keeping at most [`DIAGNOSTIC_LIMIT`].
#[derive(Default)]
struct Sink {
    diagnostics: Vec<Diagnostic>,
    /// Every error reported, also those past the limit.
    reported: usize,
}

impl Sink {
    fn report(&mut self, pos: Pos, message: String) {
        self.reported += 1;
        if self.diagnostics.len() < DIAGNOSTIC_LIMIT {
            self.diagnostics.push(Diagnostic::new(pos, message));
        }
    }

    fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort_by_key(|d| d.pos);
        self.diagnostics
    }
}

/// What a global name refers to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Global {
    /// Index into [`Program::funcs`].
    Func(u32),
    /// Index into [`Program::consts`].
    Const(usize),
}

/// A function's signature, copied out so bodies can be checked mutably.
struct Signature {
    params: Vec<Type>,
    ret: Option<Type>,
}

/// What uses of a constant need to know.
struct ConstInfo {
    /// The declared type if it is one a constant may have.
    ty: Option<Type>,
    /// The folded value, once known; `None` after an error.
    value: Option<ConstValue>,
}

/// The program-wide names.
struct Globals {
    names: HashMap<String, Global>,
    funcs: Vec<Signature>,
    consts: Vec<ConstInfo>,
    /// The host imports by name: index and signature.
    hosts: HashMap<String, (u32, Signature)>,
}

/// One function or constant, for the namespace check in source order.
struct Item<'p> {
    name: &'p str,
    pos: Pos,
    global: Global,
}

/// Builds the namespace; reports builtin names and duplicates, keeping the
/// first definition of a name in source order.
fn collect_globals(program: &Program, sink: &mut Sink) -> Globals {
    let consts = program.consts.iter().enumerate().map(|(i, c)| Item {
        name: &c.name,
        pos: c.pos,
        global: Global::Const(i),
    });
    let funcs = program.funcs.iter().enumerate().map(|(i, f)| Item {
        name: &f.name,
        pos: f.pos,
        global: Global::Func(i as u32),
    });
    let mut items: Vec<Item> = consts.chain(funcs).collect();
    items.sort_by_key(|item| item.pos);
    let mut names = HashMap::new();
    for item in items {
        let quoted = quote_name(item.name);
        if Builtin::from_name(item.name).is_some() {
            sink.report(
                item.pos,
                format!("{quoted} is a builtin and cannot be redefined"),
            );
        } else if names.contains_key(item.name) {
            sink.report(item.pos, format!("duplicate definition of {quoted}"));
        } else {
            names.insert(item.name.to_string(), item.global);
        }
    }
    let funcs = program.funcs.iter().map(signature).collect();
    let consts = program.consts.iter().map(|c| const_info(c.ty)).collect();
    Globals {
        names,
        funcs,
        consts,
        hosts: HashMap::new(),
    }
}

fn signature(func: &FnDecl) -> Signature {
    Signature {
        params: func.params.iter().map(|p| p.ty).collect(),
        ret: func.ret,
    }
}

fn const_info(declared: Type) -> ConstInfo {
    let allowed = matches!(declared, Type::Int | Type::Float | Type::Bool);
    ConstInfo {
        ty: allowed.then_some(declared),
        value: None,
    }
}

/// `main` must exist, take no parameters, and return int or nothing.
fn check_main(program: &Program, globals: &Globals, sink: &mut Sink) {
    let Some(&Global::Func(index)) = globals.names.get("main") else {
        let start = Pos { line: 1, col: 1 };
        sink.report(start, "the program has no 'main' function".to_string());
        return;
    };
    let main = &program.funcs[index as usize];
    if !main.params.is_empty() || !matches!(main.ret, None | Some(Type::Int)) {
        let message = "'main' must take no parameters and return int or nothing";
        sink.report(main.pos, message.to_string());
    }
}

/// Checks one function's body and fills its `locals`.
fn check_function(func: &mut FnDecl, globals: &Globals, sink: &mut Sink) {
    let mut checker = BodyChecker::for_function(globals, sink, func.ret);
    checker.scopes.open();
    let mut param_names = HashSet::new();
    for param in &func.params {
        if !param_names.insert(param.name.as_str()) {
            let message = format!("duplicate parameter {}", quote_name(&param.name));
            checker.sink.report(param.pos, message);
        }
        checker.scopes.declare(&param.name, Some(param.ty), false);
    }
    checker.block(&mut func.body);
    func.locals = checker.scopes.local_types();
    if func.ret.is_some() && !returns::always_returns(&func.body) {
        sink.report(func.pos, "missing return".to_string());
    }
}

/// A local variable as the checker sees it.
struct LocalInfo {
    /// `None` if its initializer had an error: uses stay silent.
    ty: Option<Type>,
    /// A `for` variable, which may not be assigned.
    loop_var: bool,
}

/// The locals of one function and the block scopes that make them visible.
#[derive(Default)]
struct Scopes {
    /// For each name, the locals it refers to in the open scopes, innermost
    /// last.
    visible: HashMap<String, Vec<LocalId>>,
    /// The names declared in each open scope, innermost last.
    declared: Vec<Vec<String>>,
    locals: Vec<LocalInfo>,
}

impl Scopes {
    fn open(&mut self) {
        self.declared.push(Vec::new());
    }

    fn close(&mut self) {
        for name in self.declared.pop().unwrap_or_default() {
            if let Some(ids) = self.visible.get_mut(&name) {
                ids.pop();
                if ids.is_empty() {
                    self.visible.remove(&name);
                }
            }
        }
    }

    /// A new local, visible from now to the end of the innermost scope.
    fn declare(&mut self, name: &str, ty: Option<Type>, loop_var: bool) -> LocalId {
        let id = LocalId(self.locals.len() as u32);
        self.locals.push(LocalInfo { ty, loop_var });
        self.visible.entry(name.to_string()).or_default().push(id);
        if let Some(innermost) = self.declared.last_mut() {
            innermost.push(name.to_string());
        }
        id
    }

    fn lookup(&self, name: &str) -> Option<(LocalId, &LocalInfo)> {
        let id = *self.visible.get(name)?.last()?;
        Some((id, &self.locals[id.0 as usize]))
    }

    /// The type of every local; only after errors can one be unknown, and
    /// then the program is not lowered, so any placeholder does.
    fn local_types(&self) -> Vec<Type> {
        self.locals
            .iter()
            .map(|local| local.ty.unwrap_or(Type::Int))
            .collect()
    }
}

/// Checks statements and expressions of one function body or of one
/// constant's value.
struct BodyChecker<'a> {
    globals: &'a Globals,
    sink: &'a mut Sink,
    scopes: Scopes,
    /// The return type of the function being checked.
    ret: Option<Type>,
    /// How many loops enclose the current statement.
    loops: usize,
    /// While checking a constant's value: the constants it names, and the
    /// sign that calls and locals are not allowed.
    const_deps: Option<Vec<usize>>,
}

impl<'a> BodyChecker<'a> {
    fn for_function(globals: &'a Globals, sink: &'a mut Sink, ret: Option<Type>) -> Self {
        BodyChecker {
            globals,
            sink,
            scopes: Scopes::default(),
            ret,
            loops: 0,
            const_deps: None,
        }
    }

    fn for_constant(globals: &'a Globals, sink: &'a mut Sink) -> Self {
        BodyChecker {
            const_deps: Some(Vec::new()),
            ..BodyChecker::for_function(globals, sink, None)
        }
    }

    fn report(&mut self, pos: Pos, message: String) {
        self.sink.report(pos, message);
    }

    fn mismatch(&mut self, pos: Pos, expected: Type, found: Type) {
        self.report(
            pos,
            format!("mismatched types: expected {expected}, found {found}"),
        );
    }

    /// A block in a scope of its own.
    fn block(&mut self, block: &mut Block) {
        self.scopes.open();
        for stmt in &mut block.stmts {
            self.stmt(stmt);
        }
        self.scopes.close();
    }

    fn loop_body(&mut self, body: &mut Block) {
        self.loops += 1;
        self.block(body);
        self.loops -= 1;
    }

    fn stmt(&mut self, stmt: &mut Stmt) {
        let pos = stmt.pos;
        match &mut stmt.kind {
            StmtKind::Let {
                name,
                ty,
                init,
                local,
                ..
            } => {
                let found = self.expr(init);
                if let (Some(declared), Some(found)) = (*ty, found) {
                    if declared != found {
                        self.mismatch(init.pos, declared, found);
                    }
                }
                *local = Some(self.scopes.declare(name, ty.or(found), false));
            }
            StmtKind::Assign {
                name,
                name_pos,
                value,
                local,
            } => *local = self.assign(name, *name_pos, value),
            StmtKind::Store {
                array,
                index,
                value,
                bracket_pos,
            } => self.store(array, index, value, *bracket_pos),
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                self.condition(cond);
                self.block(then_block);
                if let Some(else_block) = else_block {
                    self.block(else_block);
                }
            }
            StmtKind::While { cond, body } => {
                self.condition(cond);
                self.loop_body(body);
            }
            StmtKind::For {
                var,
                lo,
                hi,
                body,
                local,
                ..
            } => {
                self.expect_type(lo, Type::Int);
                self.expect_type(hi, Type::Int);
                self.scopes.open();
                *local = Some(self.scopes.declare(var, Some(Type::Int), true));
                self.loop_body(body);
                self.scopes.close();
            }
            StmtKind::Break => self.loop_jump(pos, "break"),
            StmtKind::Continue => self.loop_jump(pos, "continue"),
            StmtKind::Return(value) => self.return_stmt(pos, value.as_mut()),
            StmtKind::Expr(expr) => {
                self.expr_or_void(expr);
            }
            StmtKind::Block(block) => self.block(block),
        }
    }

    /// `name = value;`: the local assigned, if it is one.
    fn assign(&mut self, name: &str, name_pos: Pos, value: &mut Expr) -> Option<LocalId> {
        let found = self.expr(value);
        if let Some((id, local)) = self.scopes.lookup(name) {
            let (declared, loop_var) = (local.ty, local.loop_var);
            if loop_var {
                let message = format!("cannot assign to loop variable {}", quote_name(name));
                self.report(name_pos, message);
            } else if let (Some(declared), Some(found)) = (declared, found) {
                if declared != found {
                    self.mismatch(value.pos, declared, found);
                }
            }
            return Some(id);
        }
        let message = match self.globals.names.get(name) {
            Some(Global::Const(_)) => format!("cannot assign to constant {}", quote_name(name)),
            _ => self.not_a_variable_message(name),
        };
        self.report(name_pos, message);
        None
    }

    /// `array[index] = value;`
    fn store(&mut self, array: &mut Expr, index: &mut Expr, value: &mut Expr, bracket_pos: Pos) {
        let array_ty = self.expr(array);
        self.expect_type(index, Type::Int);
        let value_ty = self.expr(value);
        let Some(array_ty) = array_ty else { return };
        match array_ty.element() {
            None => self.report(
                bracket_pos,
                format!("cannot index a value of type {array_ty}"),
            ),
            Some(element) => {
                if let Some(value_ty) = value_ty.filter(|&t| t != element) {
                    self.mismatch(value.pos, element, value_ty);
                }
            }
        }
    }

    fn condition(&mut self, cond: &mut Expr) {
        if let Some(found) = self.expr(cond).filter(|&t| t != Type::Bool) {
            self.report(cond.pos, format!("condition must be bool, found {found}"));
        }
    }

    /// Types `expr` and reports a mismatch unless it is `want`.
    fn expect_type(&mut self, expr: &mut Expr, want: Type) {
        if let Some(found) = self.expr(expr).filter(|&t| t != want) {
            self.mismatch(expr.pos, want, found);
        }
    }

    fn loop_jump(&mut self, pos: Pos, keyword: &str) {
        if self.loops == 0 {
            self.report(pos, format!("'{keyword}' outside of a loop"));
        }
    }

    fn return_stmt(&mut self, pos: Pos, value: Option<&mut Expr>) {
        match (self.ret, value) {
            (None, None) => {}
            (Some(ret), None) => self.report(pos, format!("'return' needs a value of type {ret}")),
            (None, Some(value)) => {
                self.expr_or_void(value);
                let message = "function returns nothing; 'return' takes no value";
                self.report(pos, message.to_string());
            }
            (Some(ret), Some(value)) => self.expect_type(value, ret),
        }
    }
}
