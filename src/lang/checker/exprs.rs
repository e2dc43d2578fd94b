//! Typing expressions: sets `Expr::ty` and resolves names, calls and
//! spawns. Every function here returns `None` (or [`Typed::Error`]) after an
//! error, reported here or further down, and callers stay silent about a
//! `None` operand, so errors do not cascade.

use super::{BodyChecker, Global};
use crate::lang::ast::{BinaryOp, Builtin, Callee, Expr, ExprKind, Pos, Type, UnaryOp, VarRef};
use crate::lang::lexer::quote_name;

/// The outcome of typing an expression that may be a call of a function
/// without a return type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Typed {
    /// A value of this type.
    Value(Type),
    /// A call that gives no value.
    Void,
    /// An error was reported.
    Error,
}

impl Typed {
    fn value(self) -> Option<Type> {
        match self {
            Typed::Value(ty) => Some(ty),
            Typed::Void | Typed::Error => None,
        }
    }
}

impl From<Option<Type>> for Typed {
    fn from(ty: Option<Type>) -> Typed {
        ty.map_or(Typed::Error, Typed::Value)
    }
}

/// "1 argument", "2 arguments".
fn arguments(count: usize) -> String {
    if count == 1 {
        "1 argument".to_string()
    } else {
        format!("{count} arguments")
    }
}

/// The type `op` gives to operands of types `lhs` and `rhs`, if it applies.
fn binary_result(op: BinaryOp, lhs: Type, rhs: Type) -> Option<Type> {
    use BinaryOp::*;
    use Type::{Bool, Float, Int};
    if lhs != rhs {
        return None;
    }
    match (op, lhs) {
        (Or | And, Bool) => Some(Bool),
        (Eq | Ne, Int | Float | Bool) => Some(Bool),
        (Lt | Le | Gt | Ge, Int | Float) => Some(Bool),
        (BitOr | BitXor | BitAnd | Shl | Shr | Rem, Int) => Some(Int),
        (Add | Sub | Mul | Div, Int | Float) => Some(lhs),
        _ => None,
    }
}

/// The type `op` gives to an operand of type `operand`, if it applies.
fn unary_result(op: UnaryOp, operand: Type) -> Option<Type> {
    match (op, operand) {
        (UnaryOp::Neg, Type::Int | Type::Float)
        | (UnaryOp::Not, Type::Bool)
        | (UnaryOp::BitNot, Type::Int) => Some(operand),
        _ => None,
    }
}

fn unary_symbol(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "-",
        UnaryOp::Not => "!",
        UnaryOp::BitNot => "~",
    }
}

fn is_number(ty: Type) -> bool {
    matches!(ty, Type::Int | Type::Float)
}

impl BodyChecker<'_> {
    /// Types an expression whose value is used.
    pub(super) fn expr(&mut self, expr: &mut Expr) -> Option<Type> {
        match self.expr_or_void(expr) {
            Typed::Value(ty) => Some(ty),
            Typed::Error => None,
            Typed::Void => {
                let ExprKind::Call { name, .. } = &expr.kind else {
                    return None;
                };
                let message = format!("{} returns nothing and has no value", quote_name(name));
                self.report(expr.pos, message);
                None
            }
        }
    }

    /// Types an expression that may be a call giving no value (an
    /// expression statement).
    pub(super) fn expr_or_void(&mut self, expr: &mut Expr) -> Typed {
        let pos = expr.pos;
        let typed = match &mut expr.kind {
            ExprKind::Int(_) => Typed::Value(Type::Int),
            ExprKind::Float(_) => Typed::Value(Type::Float),
            ExprKind::Bool(_) => Typed::Value(Type::Bool),
            ExprKind::Str(_) => {
                self.report(pos, "string literals may only be printed".to_string());
                Typed::Error
            }
            ExprKind::Var { name, var } => self.variable(name, var, pos).into(),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, pos).into(),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, pos).into(),
            ExprKind::Call { name, args, callee } => self.call(name, args, callee, pos),
            ExprKind::Spawn {
                name,
                name_pos,
                args,
                func,
            } => {
                *func = self.spawn(name, *name_pos, args, pos);
                Typed::Value(Type::Int)
            }
            ExprKind::Index { array, index } => self.index(array, index, pos).into(),
            ExprKind::NewArray { init, len } => self.new_array(init, len, pos).into(),
        };
        expr.ty = typed.value();
        typed
    }

    /// A name used as a value: a local in scope, else a constant.
    fn variable(&mut self, name: &str, var: &mut VarRef, pos: Pos) -> Option<Type> {
        if self.const_deps.is_none() {
            if let Some((id, local)) = self.scopes.lookup(name) {
                *var = VarRef::Local(id);
                return local.ty;
            }
        }
        let Some(&Global::Const(index)) = self.globals.names.get(name) else {
            let message = self.not_a_variable_message(name);
            self.report(pos, message);
            return None;
        };
        let constant = &self.globals.consts[index];
        if let Some(deps) = &mut self.const_deps {
            deps.push(index);
        }
        if let Some(value) = constant.value {
            *var = VarRef::Const(value);
        }
        constant.ty
    }

    /// The message for a name that is no variable or constant.
    pub(super) fn not_a_variable_message(&self, name: &str) -> String {
        let quoted = quote_name(name);
        let is_function = matches!(self.globals.names.get(name), Some(Global::Func(_)))
            || Builtin::from_name(name).is_some();
        if is_function {
            format!("{quoted} is a function, not a variable")
        } else {
            format!("unknown variable {quoted}")
        }
    }

    fn unary(&mut self, op: UnaryOp, operand: &mut Expr, pos: Pos) -> Option<Type> {
        let operand = self.expr(operand)?;
        let result = unary_result(op, operand);
        if result.is_none() {
            let symbol = unary_symbol(op);
            let message = format!("operator '{symbol}' cannot be applied to {operand}");
            self.report(pos, message);
        }
        result
    }

    fn binary(&mut self, op: BinaryOp, lhs: &mut Expr, rhs: &mut Expr, pos: Pos) -> Option<Type> {
        let lhs = self.expr(lhs);
        let rhs = self.expr(rhs);
        let (lhs, rhs) = (lhs?, rhs?);
        let result = binary_result(op, lhs, rhs);
        if result.is_none() {
            let symbol = op.symbol();
            let message = format!("operator '{symbol}' cannot be applied to {lhs} and {rhs}");
            self.report(pos, message);
        }
        result
    }

    /// `array[index]`
    fn index(&mut self, array: &mut Expr, index: &mut Expr, pos: Pos) -> Option<Type> {
        let array_ty = self.expr(array);
        self.expect_type(index, Type::Int);
        let array_ty = array_ty?;
        let element = array_ty.element();
        if element.is_none() {
            self.report(pos, format!("cannot index a value of type {array_ty}"));
        }
        element
    }

    /// `[init; len]`
    fn new_array(&mut self, init: &mut Expr, len: &mut Expr, pos: Pos) -> Option<Type> {
        if self.const_deps.is_some() {
            let message = "arrays are not allowed in constant expressions";
            self.report(pos, message.to_string());
            return None;
        }
        let element = self.expr(init);
        self.expect_type(len, Type::Int);
        let element = element?;
        let array = element.array_of();
        if array.is_none() {
            let message = format!("array elements must be int or float, found {element}");
            self.report(init.pos, message);
        }
        array
    }

    /// Types the arguments on their own, after the call itself is wrong.
    fn args_alone(&mut self, args: &mut [Expr]) {
        for arg in args {
            self.expr(arg);
        }
    }

    /// Reports a wrong argument count; true if the count is right.
    fn arity(&mut self, name: &str, pos: Pos, want: usize, found: usize) -> bool {
        if want != found {
            let (quoted, takes) = (quote_name(name), arguments(want));
            self.report(pos, format!("{quoted} takes {takes}, found {found}"));
        }
        want == found
    }

    /// Checks arguments against parameter types.
    fn args_against(&mut self, name: &str, pos: Pos, args: &mut [Expr], params: &[Type]) {
        if !self.arity(name, pos, params.len(), args.len()) {
            self.args_alone(args);
            return;
        }
        for (arg, &want) in args.iter_mut().zip(params) {
            self.expect_type(arg, want);
        }
    }

    fn calls_forbidden_here(&mut self, pos: Pos) -> bool {
        if self.const_deps.is_some() {
            let message = "calls are not allowed in constant expressions";
            self.report(pos, message.to_string());
        }
        self.const_deps.is_some()
    }

    /// `name(args)`: a function or a builtin.
    fn call(&mut self, name: &str, args: &mut [Expr], callee: &mut Callee, pos: Pos) -> Typed {
        if self.calls_forbidden_here(pos) {
            return Typed::Error;
        }
        let globals = self.globals;
        if let Some(&Global::Func(index)) = globals.names.get(name) {
            *callee = Callee::Func(index);
            let signature = &globals.funcs[index as usize];
            self.args_against(name, pos, args, &signature.params);
            return signature.ret.map_or(Typed::Void, Typed::Value);
        }
        if let Some(builtin) = Builtin::from_name(name) {
            *callee = Callee::Builtin(builtin);
            return self.builtin(builtin, args, pos);
        }
        if let Some((index, signature)) = globals.hosts.get(name) {
            *callee = Callee::Host(*index);
            self.args_against(name, pos, args, &signature.params);
            return signature.ret.map_or(Typed::Void, Typed::Value);
        }
        self.report(pos, self.not_a_function_message(name));
        self.args_alone(args);
        Typed::Error
    }

    fn not_a_function_message(&self, name: &str) -> String {
        let quoted = quote_name(name);
        let is_value = self.scopes.lookup(name).is_some()
            || matches!(self.globals.names.get(name), Some(Global::Const(_)));
        if is_value {
            format!("{quoted} is not a function")
        } else {
            format!("unknown function {quoted}")
        }
    }

    /// `spawn name(args)`: the function's index, if it names one.
    fn spawn(&mut self, name: &str, name_pos: Pos, args: &mut [Expr], pos: Pos) -> Option<u32> {
        if self.calls_forbidden_here(pos) {
            return None;
        }
        let globals = self.globals;
        let Some(&Global::Func(index)) = globals.names.get(name) else {
            let message = if Builtin::from_name(name).is_some() {
                format!("{} is a builtin and cannot be spawned", quote_name(name))
            } else {
                self.not_a_function_message(name)
            };
            self.report(name_pos, message);
            self.args_alone(args);
            return None;
        };
        let signature = &globals.funcs[index as usize];
        if signature.ret != Some(Type::Int) {
            self.report(name_pos, "spawned function must return int".to_string());
        }
        self.args_against(name, name_pos, args, &signature.params);
        Some(index)
    }

    /// A builtin call; the result type is known even after argument errors
    /// unless it depends on the arguments.
    fn builtin(&mut self, builtin: Builtin, args: &mut [Expr], pos: Pos) -> Typed {
        use Type::{Float, Int, IntArray};
        let name = builtin.name();
        let (params, result): (&[Type], Type) = match builtin {
            Builtin::Print => return self.print(args, pos),
            Builtin::Abs => return self.numeric(name, args, pos, 1),
            Builtin::Min | Builtin::Max => return self.numeric(name, args, pos, 2),
            Builtin::Len => return self.len(args, pos),
            Builtin::Float => (&[Int], Float),
            Builtin::Int => (&[Float], Int),
            Builtin::Sqrt => (&[Float], Float),
            Builtin::Arg | Builtin::Join => (&[Int], Int),
            Builtin::Argc | Builtin::NowNs => (&[], Int),
            Builtin::AtomicAdd => (&[IntArray, Int, Int], Int),
        };
        self.args_against(name, pos, args, params);
        Typed::Value(result)
    }

    /// `print(x)`: a string literal is allowed only here.
    fn print(&mut self, args: &mut [Expr], pos: Pos) -> Typed {
        if !self.arity("print", pos, 1, args.len()) {
            self.args_alone(args);
            return Typed::Void;
        }
        let arg = &mut args[0];
        if let ExprKind::Str(_) = arg.kind {
            return Typed::Void;
        }
        if let Some(found) = self.expr(arg).filter(|ty| ty.is_array()) {
            let message =
                format!("print takes an int, float, bool or string literal, found {found}");
            self.report(arg.pos, message);
        }
        Typed::Void
    }

    /// `abs(x)`, `min(a, b)`, `max(a, b)`: int or float, all the same.
    fn numeric(&mut self, name: &str, args: &mut [Expr], pos: Pos, count: usize) -> Typed {
        if !self.arity(name, pos, count, args.len()) {
            self.args_alone(args);
            return Typed::Error;
        }
        let (first, rest) = args.split_at_mut(1);
        let Some(ty) = self.expr(&mut first[0]) else {
            self.args_alone(rest);
            return Typed::Error;
        };
        if !is_number(ty) {
            self.report(
                first[0].pos,
                format!("{name} takes an int or float, found {ty}"),
            );
            self.args_alone(rest);
            return Typed::Error;
        }
        for arg in rest {
            self.expect_type(arg, ty);
        }
        Typed::Value(ty)
    }

    /// `len(a)` for either array type.
    fn len(&mut self, args: &mut [Expr], pos: Pos) -> Typed {
        if !self.arity("len", pos, 1, args.len()) {
            self.args_alone(args);
        } else if let Some(found) = self.expr(&mut args[0]).filter(|ty| !ty.is_array()) {
            self.report(args[0].pos, format!("len takes an array, found {found}"));
        }
        Typed::Value(Type::Int)
    }
}
