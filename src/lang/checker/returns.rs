//! LANGUAGE.md's "always returns" rule, exactly: a block always returns if
//! its last statement is a `return`; an `if` with an `else` whose every
//! branch always returns; or a `while` loop whose condition is the literal
//! `true` (parentheses allowed) and that no `break` aims at. Nothing else
//! counts: not a nested `{ ... }` block, not `while` on a constant that is
//! true, not a `for` loop.

use crate::lang::ast::{Block, Expr, ExprKind, Stmt, StmtKind};

/// True if control cannot reach the end of `block`.
pub(super) fn always_returns(block: &Block) -> bool {
    block.stmts.last().is_some_and(stmt_always_returns)
}

fn stmt_always_returns(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Return(_) => true,
        StmtKind::If {
            then_block,
            else_block: Some(else_block),
            ..
        } => always_returns(then_block) && always_returns(else_block),
        StmtKind::While { cond, body } => is_literal_true(cond) && !has_break_aimed_here(body),
        _ => false,
    }
}

fn is_literal_true(cond: &Expr) -> bool {
    matches!(cond.kind, ExprKind::Bool(true))
}

/// True if a `break` in `block` leaves the loop whose body it is: breaks
/// inside nested loops aim at those loops instead.
fn has_break_aimed_here(block: &Block) -> bool {
    block.stmts.iter().any(|stmt| match &stmt.kind {
        StmtKind::Break => true,
        StmtKind::If {
            then_block,
            else_block,
            ..
        } => {
            has_break_aimed_here(then_block)
                || else_block.as_ref().is_some_and(has_break_aimed_here)
        }
        StmtKind::Block(inner) => has_break_aimed_here(inner),
        _ => false,
    })
}
