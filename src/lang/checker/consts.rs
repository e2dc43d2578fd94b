//! Constants: type each value, find dependency cycles, fold in dependency
//! order.
//!
//! A constant's value may name other constants in any order, so typing uses
//! only their declared types, and folding waits until every constant a value
//! names is folded. The order comes from the strongly connected components
//! of the "names" graph (Tarjan's algorithm, iterative so that a long chain
//! of constants cannot overflow the stack); a component with a cycle is
//! reported once, at its first constant in source order.
//!
//! Folding computes exactly what the program would at run time: int
//! arithmetic wraps, `/` truncates, `%` takes the dividend's sign,
//! `MIN / -1` is `MIN` and `MIN % -1` is 0, shift counts are taken modulo
//! 64, `>>` is arithmetic, float operations are single IEEE operations.
//! Division by zero is a compile error. Both operands of `&&` and `||` are
//! folded (the value is the same as with short-circuiting), so `1 / 0`
//! anywhere in a constant is an error.

use super::{BodyChecker, Global, Globals, Sink};
use crate::lang::ast::{BinaryOp, ConstValue, Expr, ExprKind, Pos, Program, UnaryOp, VarRef};
use crate::lang::lexer::quote_name;

/// Checks and folds every constant; fills `ConstDecl::folded` and the
/// values in `globals`.
pub(super) fn check(program: &mut Program, globals: &mut Globals, sink: &mut Sink) {
    let mut deps = Vec::with_capacity(program.consts.len());
    let mut well_typed = Vec::with_capacity(program.consts.len());
    for constant in &mut program.consts {
        let errors_before = sink.reported;
        let mut checker = BodyChecker::for_constant(globals, sink);
        let found = checker.expr(&mut constant.value);
        deps.push(checker.const_deps.take().unwrap_or_default());
        let declared = globals.consts[deps.len() - 1].ty;
        match (declared, found) {
            (None, _) => {
                let message = format!(
                    "constant {} must have type int, float or bool",
                    quote_name(&constant.name)
                );
                sink.report(constant.pos, message);
            }
            (Some(declared), Some(found)) if declared != found => {
                let message = format!("mismatched types: expected {declared}, found {found}");
                sink.report(constant.value.pos, message);
            }
            _ => {}
        }
        well_typed.push(sink.reported == errors_before);
    }
    for component in components_in_dependency_order(&deps) {
        let cyclic = component.len() > 1 || deps[component[0]].contains(&component[0]);
        if cyclic {
            report_cycle(program, &component, sink);
            continue;
        }
        let index = component[0];
        let ready = well_typed[index]
            && deps[index]
                .iter()
                .all(|&d| globals.consts[d].value.is_some());
        if !ready {
            continue;
        }
        let constant = &mut program.consts[index];
        let value = Folder { globals, sink }.fold(&mut constant.value);
        constant.folded = value;
        globals.consts[index].value = value;
    }
}

fn report_cycle(program: &Program, component: &[usize], sink: &mut Sink) {
    let first = component
        .iter()
        .map(|&i| &program.consts[i])
        .min_by_key(|c| c.pos);
    if let Some(first) = first {
        let message = format!("constant {} depends on itself", quote_name(&first.name));
        sink.report(first.pos, message);
    }
}

/// The strongly connected components of the graph `deps` (node `i` names
/// the nodes `deps[i]`), each after every component it names.
fn components_in_dependency_order(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut tarjan = Tarjan {
        deps,
        order: vec![None; deps.len()],
        low: vec![0; deps.len()],
        on_stack: vec![false; deps.len()],
        stack: Vec::new(),
        walk: Vec::new(),
        components: Vec::new(),
        visited: 0,
    };
    for root in 0..deps.len() {
        if tarjan.order[root].is_none() {
            tarjan.search_from(root);
        }
    }
    tarjan.components
}

/// Tarjan's strongly connected components with an explicit stack.
struct Tarjan<'g> {
    deps: &'g [Vec<usize>],
    /// Visiting order of each node, once visited.
    order: Vec<Option<usize>>,
    /// The lowest visiting order reachable through the search tree.
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    /// The explicit recursion: (node, how many of its edges were followed).
    walk: Vec<(usize, usize)>,
    components: Vec<Vec<usize>>,
    /// How many nodes were visited: the next node's visiting order.
    visited: usize,
}

impl Tarjan<'_> {
    fn visit(&mut self, node: usize) {
        self.order[node] = Some(self.visited);
        self.low[node] = self.visited;
        self.visited += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
        self.walk.push((node, 0));
    }

    fn search_from(&mut self, root: usize) {
        self.visit(root);
        while let Some(&(node, edge)) = self.walk.last() {
            if let Some(&next) = self.deps[node].get(edge) {
                if let Some(top) = self.walk.last_mut() {
                    top.1 += 1;
                }
                match self.order[next] {
                    None => self.visit(next),
                    Some(order) if self.on_stack[next] => {
                        self.low[node] = self.low[node].min(order);
                    }
                    Some(_) => {}
                }
                continue;
            }
            self.walk.pop();
            if let Some(&(parent, _)) = self.walk.last() {
                self.low[parent] = self.low[parent].min(self.low[node]);
            }
            if Some(self.low[node]) == self.order[node] {
                self.pop_component(node);
            }
        }
    }

    fn pop_component(&mut self, root: usize) {
        let mut component = Vec::new();
        while let Some(member) = self.stack.pop() {
            self.on_stack[member] = false;
            component.push(member);
            if member == root {
                break;
            }
        }
        self.components.push(component);
    }
}

/// Evaluates a well-typed constant expression whose named constants are
/// all folded.
struct Folder<'a> {
    globals: &'a Globals,
    sink: &'a mut Sink,
}

impl Folder<'_> {
    fn fold(&mut self, expr: &mut Expr) -> Option<ConstValue> {
        let pos = expr.pos;
        match &mut expr.kind {
            ExprKind::Int(v) => Some(ConstValue::Int(*v)),
            ExprKind::Float(v) => Some(ConstValue::Float(*v)),
            ExprKind::Bool(v) => Some(ConstValue::Bool(*v)),
            ExprKind::Var { name, var } => {
                let &Global::Const(index) = self.globals.names.get(name.as_str())? else {
                    return None;
                };
                let value = self.globals.consts[index].value?;
                *var = VarRef::Const(value);
                Some(value)
            }
            ExprKind::Unary { op, operand } => fold_unary(*op, self.fold(operand)?),
            ExprKind::Binary { op, lhs, rhs } => {
                let lhs = self.fold(lhs);
                let rhs = self.fold(rhs);
                self.fold_binary(*op, lhs?, rhs?, pos)
            }
            _ => None,
        }
    }

    fn fold_binary(
        &mut self,
        op: BinaryOp,
        lhs: ConstValue,
        rhs: ConstValue,
        pos: Pos,
    ) -> Option<ConstValue> {
        use ConstValue::{Bool, Float, Int};
        match (lhs, rhs) {
            (Int(a), Int(b)) => self.fold_int(op, a, b, pos),
            (Float(a), Float(b)) => fold_float(op, a, b),
            (Bool(a), Bool(b)) => fold_bool(op, a, b),
            _ => None,
        }
    }

    fn fold_int(&mut self, op: BinaryOp, a: i64, b: i64, pos: Pos) -> Option<ConstValue> {
        use BinaryOp::*;
        if matches!(op, Div | Rem) && b == 0 {
            let message = "division by zero in constant expression";
            self.sink.report(pos, message.to_string());
            return None;
        }
        // `as u32` keeps the low bits, and the count is used modulo 64.
        let shift = b as u32;
        let value = match op {
            Add => a.wrapping_add(b),
            Sub => a.wrapping_sub(b),
            Mul => a.wrapping_mul(b),
            Div => a.wrapping_div(b),
            Rem => a.wrapping_rem(b),
            Shl => a.wrapping_shl(shift),
            Shr => a.wrapping_shr(shift),
            BitAnd => a & b,
            BitOr => a | b,
            BitXor => a ^ b,
            _ => return compare(op, &a, &b),
        };
        Some(ConstValue::Int(value))
    }
}

fn fold_unary(op: UnaryOp, operand: ConstValue) -> Option<ConstValue> {
    match (op, operand) {
        (UnaryOp::Neg, ConstValue::Int(v)) => Some(ConstValue::Int(v.wrapping_neg())),
        (UnaryOp::Neg, ConstValue::Float(v)) => Some(ConstValue::Float(-v)),
        (UnaryOp::Not, ConstValue::Bool(v)) => Some(ConstValue::Bool(!v)),
        (UnaryOp::BitNot, ConstValue::Int(v)) => Some(ConstValue::Int(!v)),
        _ => None,
    }
}

fn fold_float(op: BinaryOp, a: f64, b: f64) -> Option<ConstValue> {
    use BinaryOp::*;
    let value = match op {
        Add => a + b,
        Sub => a - b,
        Mul => a * b,
        Div => a / b,
        _ => return compare(op, &a, &b),
    };
    Some(ConstValue::Float(value))
}

fn fold_bool(op: BinaryOp, a: bool, b: bool) -> Option<ConstValue> {
    match op {
        BinaryOp::And => Some(ConstValue::Bool(a && b)),
        BinaryOp::Or => Some(ConstValue::Bool(a || b)),
        _ => compare(op, &a, &b),
    }
}

/// A comparison with IEEE semantics for floats (`PartialOrd`).
fn compare<T: PartialOrd>(op: BinaryOp, a: &T, b: &T) -> Option<ConstValue> {
    use BinaryOp::*;
    let result = match op {
        Eq => a == b,
        Ne => a != b,
        Lt => a < b,
        Le => a <= b,
        Gt => a > b,
        Ge => a >= b,
        _ => return None,
    };
    Some(ConstValue::Bool(result))
}
