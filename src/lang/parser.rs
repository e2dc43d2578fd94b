//! The tj parser: source bytes to an unresolved [`Program`].
//!
//! Contract:
//! - Input is any byte string; [`parse`] runs the [`Lexer`] on demand and
//!   never panics, never recurses more than [`MAX_NESTING`] levels, and takes
//!   time linear in the input.
//! - Output is the syntax tree of LANGUAGE.md with every checker-filled field
//!   still `None` / `Unresolved`, plus the lexical and syntax errors of
//!   docs/diagnostics.md sorted by position (at most [`DIAGNOSTIC_LIMIT`]).
//!   When there are errors the tree holds what could be parsed and should
//!   not be checked further.
//! - Positions follow LANGUAGE.md "Fine points": an expression's `pos` is
//!   its main token. `-9223372036854775808` (also `-0x8000000000000000`) is
//!   folded into `ExprKind::Int(i64::MIN)` at the position of the `-`.
//!   `else if` becomes an else block holding the single nested `If`.
//!
//! Error recovery: a statement that fails is skipped up to its `;` (or the
//! `}` that closes its block); an item that fails is skipped up to the next
//! `fn` or `const`. Only the first error at a token is reported, and
//! nothing is said about tokens the lexer already reported, so one mistake
//! gives one message.
//!
//! Nesting: every block, parenthesis, bracket (array literal or index), call
//! argument list, `else if`, unary operator and binary operator opens a
//! level. More than [`MAX_NESTING`] levels is `nesting is too deep`, which
//! abandons the whole item. Counting binary operators bounds the depth of
//! left-leaning trees (`a + b + c + ...`), so the checker's recursion and the
//! tree's recursive drop are bounded by the same limit.

use super::ast::{
    BinaryOp, Block, Callee, ConstDecl, Expr, ExprKind, FnDecl, Param, Pos, Program, Stmt,
    StmtKind, Type, UnaryOp, VarRef,
};
use super::diag::Diagnostic;
use super::lexer::{quote_name, Lexer, Token, TokenKind, DIAGNOSTIC_LIMIT, MIN_INT_MAGNITUDE};

/// The deepest nesting the parser accepts (see the module doc).
pub const MAX_NESTING: usize = 256;

/// Parses a whole source file.
pub fn parse(src: &[u8]) -> (Program, Vec<Diagnostic>) {
    let mut parser = Parser::new(src);
    let program = parser.parse_program();
    (program, parser.into_diagnostics())
}

/// The current construct could not be parsed; its error is already
/// reported (or deliberately not, see [`Parser::report_here`]).
struct Failed;

type Parsed<T> = Result<T, Failed>;

struct Parser<'src> {
    lexer: Lexer<'src>,
    /// The current token.
    token: Token,
    /// The token after `token`, once someone looked at it.
    lookahead: Option<Token>,
    /// How many tokens came before `token`; identifies it for deduplication.
    token_index: usize,
    /// The token the last error was reported at.
    last_error_token: Option<usize>,
    /// Currently open nesting levels.
    depth: usize,
    /// Set by `nesting is too deep`: unwind to the item level at once.
    abandon_item: bool,
    diagnostics: Vec<Diagnostic>,
}

/// A binary operator of `kind` and its precedence level (LANGUAGE.md).
fn binary_operator(kind: &TokenKind) -> Option<(BinaryOp, u8)> {
    use BinaryOp::*;
    let op_and_level = match kind {
        TokenKind::OrOr => (Or, 1),
        TokenKind::AndAnd => (And, 2),
        TokenKind::EqEq => (Eq, 3),
        TokenKind::NotEq => (Ne, 3),
        TokenKind::Lt => (Lt, 4),
        TokenKind::Le => (Le, 4),
        TokenKind::Gt => (Gt, 4),
        TokenKind::Ge => (Ge, 4),
        TokenKind::Pipe => (BitOr, 5),
        TokenKind::Caret => (BitXor, 6),
        TokenKind::Amp => (BitAnd, 7),
        TokenKind::Shl => (Shl, 8),
        TokenKind::Shr => (Shr, 8),
        TokenKind::Plus => (Add, 9),
        TokenKind::Minus => (Sub, 9),
        TokenKind::Star => (Mul, 10),
        TokenKind::Slash => (Div, 10),
        TokenKind::Percent => (Rem, 10),
        _ => return None,
    };
    Some(op_and_level)
}

/// What an assignment writes to.
enum Place {
    /// `NAME = ...`
    Variable(String),
    /// `ARRAY[INDEX] = ...`
    Element(Expr, Expr),
}

/// True for an unparenthesized comparison, which may not be the operand of
/// another comparison.
fn is_bare_comparison(expr: &Expr) -> bool {
    matches!(&expr.kind, ExprKind::Binary { op, .. } if op.is_comparison()) && !expr.parenthesized
}

impl<'src> Parser<'src> {
    fn new(src: &'src [u8]) -> Parser<'src> {
        let mut lexer = Lexer::new(src);
        let token = lexer.next_token();
        Parser {
            lexer,
            token,
            lookahead: None,
            token_index: 0,
            last_error_token: None,
            depth: 0,
            abandon_item: false,
            diagnostics: Vec::new(),
        }
    }

    /// Lexer and parser errors, in source order.
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        let mut all = self.lexer.into_diagnostics();
        all.extend(self.diagnostics);
        all.sort_by_key(|d| d.pos);
        all.truncate(DIAGNOSTIC_LIMIT);
        all
    }

    // ---- tokens -------------------------------------------------------

    /// Moves to the next token and returns the current one.
    fn advance(&mut self) -> Token {
        let next = match self.lookahead.take() {
            Some(token) => token,
            None => self.lexer.next_token(),
        };
        self.token_index += 1;
        std::mem::replace(&mut self.token, next)
    }

    fn peek(&mut self) -> &TokenKind {
        let lexer = &mut self.lexer;
        &self
            .lookahead
            .get_or_insert_with(|| lexer.next_token())
            .kind
    }

    fn at(&self, kind: &TokenKind) -> bool {
        self.token.kind == *kind
    }

    /// Consumes a token of `kind`, or reports `expected WHAT`.
    fn expect(&mut self, kind: TokenKind, what: &str) -> Parsed<Pos> {
        if self.at(&kind) {
            Ok(self.advance().pos)
        } else {
            self.expected(what)
        }
    }

    fn expect_identifier(&mut self) -> Parsed<(String, Pos)> {
        if let TokenKind::Ident(_) = self.token.kind {
            let token = self.advance();
            if let TokenKind::Ident(name) = token.kind {
                return Ok((name, token.pos));
            }
        }
        self.expected("identifier")
    }

    // ---- errors -------------------------------------------------------

    fn push_diagnostic(&mut self, pos: Pos, message: String) {
        if self.diagnostics.len() < DIAGNOSTIC_LIMIT {
            self.diagnostics.push(Diagnostic::new(pos, message));
        }
    }

    /// Reports `message` at the current token unless that token already has
    /// an error, was itself a lexer error, or is the end of a file that was
    /// cut short by invalid UTF-8.
    fn report_here(&mut self, message: String) {
        let already = self.last_error_token == Some(self.token_index);
        let lexer_fault = match self.token.kind {
            TokenKind::Error => true,
            TokenKind::Eof => self.lexer.stopped_at_invalid_utf8(),
            _ => false,
        };
        self.last_error_token = Some(self.token_index);
        if !already && !lexer_fault {
            self.push_diagnostic(self.token.pos, message);
        }
    }

    /// Reports an error about an earlier token; it counts as this
    /// token's error for deduplication.
    fn report_at(&mut self, pos: Pos, message: String) {
        self.last_error_token = Some(self.token_index);
        self.push_diagnostic(pos, message);
    }

    fn expected<T>(&mut self, what: &str) -> Parsed<T> {
        let found = self.token.kind.describe();
        self.report_here(format!("expected {what}, found {found}"));
        Err(Failed)
    }

    /// Opens a nesting level at the current token.
    fn enter(&mut self) -> Parsed<()> {
        if self.depth >= MAX_NESTING {
            self.report_here("nesting is too deep".to_string());
            self.abandon_item = true;
            return Err(Failed);
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- items --------------------------------------------------------

    fn parse_program(&mut self) -> Program {
        let mut program = Program::default();
        while !self.at(&TokenKind::Eof) {
            let start = self.token_index;
            let parsed = match self.token.kind {
                TokenKind::Fn => self.parse_fn().map(|f| program.funcs.push(f)),
                TokenKind::Const => self.parse_const().map(|c| program.consts.extend(c)),
                _ => self.expected("item"),
            };
            if parsed.is_err() {
                self.skip_to_next_item(start);
            }
        }
        program
    }

    fn skip_to_next_item(&mut self, start: usize) {
        self.abandon_item = false;
        self.depth = 0;
        if self.token_index == start {
            self.advance();
        }
        while !matches!(
            self.token.kind,
            TokenKind::Fn | TokenKind::Const | TokenKind::Eof
        ) {
            self.advance();
        }
    }

    /// `fn NAME(PARAMS) (-> TYPE)? BLOCK`
    fn parse_fn(&mut self) -> Parsed<FnDecl> {
        self.advance();
        let (name, pos) = self.expect_identifier()?;
        self.expect(TokenKind::LParen, "'('")?;
        let params = self.parse_params()?;
        let ret = if self.at(&TokenKind::Arrow) {
            self.advance();
            Some(self.parse_type()?)
        } else {
            None
        };
        let body = self.parse_block()?;
        Ok(FnDecl {
            name,
            pos,
            params,
            ret,
            body,
            locals: Vec::new(),
        })
    }

    /// `(NAME: TYPE),* ,? )` after the `(`.
    fn parse_params(&mut self) -> Parsed<Vec<Param>> {
        let mut params = Vec::new();
        loop {
            if self.at(&TokenKind::RParen) {
                self.advance();
                return Ok(params);
            }
            let (name, pos) = self.expect_identifier()?;
            self.expect(TokenKind::Colon, "':'")?;
            let ty = self.parse_type()?;
            params.push(Param { name, pos, ty });
            match self.token.kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RParen => {}
                _ => return self.expected("',' or ')'"),
            }
        }
    }

    /// `int`, `float`, `bool`, `[int]` or `[float]`.
    fn parse_type(&mut self) -> Parsed<Type> {
        let ty = match self.token.kind {
            TokenKind::IntKw => Type::Int,
            TokenKind::FloatKw => Type::Float,
            TokenKind::BoolKw => Type::Bool,
            TokenKind::LBracket => return self.parse_array_type(),
            _ => return self.expected("type"),
        };
        self.advance();
        Ok(ty)
    }

    fn parse_array_type(&mut self) -> Parsed<Type> {
        self.advance();
        let ty = match self.token.kind {
            TokenKind::IntKw => Type::IntArray,
            TokenKind::FloatKw => Type::FloatArray,
            _ => return self.expected("'int' or 'float'"),
        };
        self.advance();
        self.expect(TokenKind::RBracket, "']'")?;
        Ok(ty)
    }

    /// `const NAME: TYPE = EXPR;` — `None` if the type is missing (reported,
    /// and the rest still parsed so that it causes no further errors).
    fn parse_const(&mut self) -> Parsed<Option<ConstDecl>> {
        self.advance();
        let (name, pos) = self.expect_identifier()?;
        let ty = if self.at(&TokenKind::Colon) {
            self.advance();
            Some(self.parse_type()?)
        } else {
            let message = format!("missing type for constant {}", quote_name(&name));
            self.report_at(pos, message);
            None
        };
        self.expect(TokenKind::Assign, "'='")?;
        let value = self.parse_expr()?;
        self.expect(TokenKind::Semi, "';'")?;
        Ok(ty.map(|ty| ConstDecl {
            name,
            pos,
            ty,
            value,
            folded: None,
        }))
    }

    // ---- statements ---------------------------------------------------

    /// `{ STMTS }`
    fn parse_block(&mut self) -> Parsed<Block> {
        if !self.at(&TokenKind::LBrace) {
            return self.expected("'{'");
        }
        self.enter()?;
        self.advance();
        let block = self.parse_block_body();
        self.leave();
        block
    }

    /// The statements after a `{`, and the closing `}`.
    fn parse_block_body(&mut self) -> Parsed<Block> {
        let mut stmts = Vec::new();
        loop {
            match self.token.kind {
                TokenKind::RBrace => {
                    self.advance();
                    return Ok(Block { stmts });
                }
                // An item keyword means the block was never closed.
                TokenKind::Eof | TokenKind::Fn | TokenKind::Const => return self.expected("'}'"),
                _ => {}
            }
            match self.parse_stmt() {
                Ok(stmt) => stmts.push(stmt),
                Err(Failed) if self.abandon_item => return Err(Failed),
                Err(Failed) => self.skip_to_statement_end(),
            }
        }
    }

    /// Skips past the `;` that ends the failed statement, stopping early at
    /// the `}` of the enclosing block or an item keyword. A statement never
    /// starts with one of those, so this always makes progress.
    fn skip_to_statement_end(&mut self) {
        let mut braces = 0usize;
        loop {
            match self.token.kind {
                TokenKind::Eof | TokenKind::Fn | TokenKind::Const => return,
                TokenKind::Semi if braces == 0 => {
                    self.advance();
                    return;
                }
                TokenKind::RBrace if braces == 0 => return,
                TokenKind::LBrace => braces += 1,
                TokenKind::RBrace => braces -= 1,
                _ => {}
            }
            self.advance();
        }
    }

    /// One statement. Every arm writes the same result slot, which keeps
    /// this recursive function's frame small in unoptimized builds.
    fn parse_stmt(&mut self) -> Parsed<Stmt> {
        let pos = self.token.pos;
        let kind = match self.token.kind {
            TokenKind::Let => self.parse_let(),
            TokenKind::If => self.parse_if(),
            TokenKind::While => self.parse_while(),
            TokenKind::For => self.parse_for(),
            TokenKind::Break | TokenKind::Continue => self.parse_loop_jump(),
            TokenKind::Return => self.parse_return(),
            TokenKind::LBrace => self.parse_block_stmt(),
            TokenKind::Semi => self.expected("statement"),
            _ => self.parse_assign_or_call(),
        };
        kind.map(|kind| Stmt { kind, pos })
    }

    fn parse_block_stmt(&mut self) -> Parsed<StmtKind> {
        Ok(StmtKind::Block(self.parse_block()?))
    }

    /// `let NAME (: TYPE)? = EXPR;`
    fn parse_let(&mut self) -> Parsed<StmtKind> {
        self.advance();
        let (name, name_pos) = self.expect_identifier()?;
        let ty = if self.at(&TokenKind::Colon) {
            self.advance();
            Some(self.parse_type()?)
        } else {
            None
        };
        self.expect(TokenKind::Assign, "'='")?;
        let init = self.parse_expr()?;
        self.expect(TokenKind::Semi, "';'")?;
        Ok(StmtKind::Let {
            name,
            name_pos,
            ty,
            init,
            local: None,
        })
    }

    /// `if COND BLOCK (else (BLOCK | IF))?`
    fn parse_if(&mut self) -> Parsed<StmtKind> {
        self.advance();
        let cond = self.parse_binary(1)?;
        let then_block = self.parse_block()?;
        let else_block = if self.at(&TokenKind::Else) {
            self.advance();
            Some(self.parse_else()?)
        } else {
            None
        };
        Ok(StmtKind::If {
            cond: *cond,
            then_block,
            else_block,
        })
    }

    /// The block after `else`; `else if` nests one level deeper.
    fn parse_else(&mut self) -> Parsed<Block> {
        if !self.at(&TokenKind::If) {
            return self.parse_block();
        }
        let pos = self.token.pos;
        self.enter()?;
        let kind = self.parse_if();
        self.leave();
        kind.map(|kind| Block {
            stmts: vec![Stmt { kind, pos }],
        })
    }

    /// `while COND BLOCK`
    fn parse_while(&mut self) -> Parsed<StmtKind> {
        self.advance();
        let cond = self.parse_binary(1)?;
        let body = self.parse_block()?;
        Ok(StmtKind::While { cond: *cond, body })
    }

    /// `for NAME in LO..HI BLOCK`
    fn parse_for(&mut self) -> Parsed<StmtKind> {
        self.advance();
        let (var, var_pos) = self.expect_identifier()?;
        self.expect(TokenKind::In, "'in'")?;
        let lo = self.parse_binary(1)?;
        self.expect(TokenKind::DotDot, "'..'")?;
        let hi = self.parse_binary(1)?;
        let body = self.parse_block()?;
        Ok(StmtKind::For {
            var,
            var_pos,
            lo: *lo,
            hi: *hi,
            body,
            local: None,
        })
    }

    /// `break;` or `continue;`
    fn parse_loop_jump(&mut self) -> Parsed<StmtKind> {
        let keyword = self.advance();
        self.expect(TokenKind::Semi, "';'")?;
        if keyword.kind == TokenKind::Break {
            Ok(StmtKind::Break)
        } else {
            Ok(StmtKind::Continue)
        }
    }

    /// `return;` or `return EXPR;`
    fn parse_return(&mut self) -> Parsed<StmtKind> {
        self.advance();
        if self.at(&TokenKind::Semi) {
            self.advance();
            return Ok(StmtKind::Return(None));
        }
        let value = self.parse_expr()?;
        self.expect(TokenKind::Semi, "';'")?;
        Ok(StmtKind::Return(Some(value)))
    }

    /// `NAME = EXPR;`, `ARRAY[INDEX] = EXPR;` or `CALL;`
    fn parse_assign_or_call(&mut self) -> Parsed<StmtKind> {
        let target = self.parse_expr()?;
        if self.at(&TokenKind::Assign) {
            return self.parse_assignment(target);
        }
        let is_call = matches!(target.kind, ExprKind::Call { .. } | ExprKind::Spawn { .. });
        if !is_call {
            self.report_at(
                target.pos,
                "only a call can stand as a statement".to_string(),
            );
            return Err(Failed);
        }
        self.expect(TokenKind::Semi, "';'")?;
        Ok(StmtKind::Expr(target))
    }

    /// The rest of an assignment whose target is parsed; the `=` is current.
    fn parse_assignment(&mut self, target: Expr) -> Parsed<StmtKind> {
        let target_pos = target.pos;
        let place = match (target.parenthesized, target.kind) {
            (false, ExprKind::Var { name, .. }) => Place::Variable(name),
            (false, ExprKind::Index { array, index }) => Place::Element(*array, *index),
            _ => {
                self.report_at(target_pos, "invalid assignment target".to_string());
                return Err(Failed);
            }
        };
        self.advance();
        let value = self.parse_expr()?;
        self.expect(TokenKind::Semi, "';'")?;
        Ok(match place {
            Place::Variable(name) => StmtKind::Assign {
                name,
                name_pos: target_pos,
                value,
                local: None,
            },
            Place::Element(array, index) => StmtKind::Store {
                array,
                index,
                value,
                bracket_pos: target_pos,
            },
        })
    }

    // ---- expressions --------------------------------------------------
    //
    // These functions recurse once per nesting level, so they return boxed
    // trees and keep few temporaries: unoptimized builds must still parse
    // MAX_NESTING levels on a 2 MB stack.

    /// A whole expression (binary operators of every level).
    fn parse_expr(&mut self) -> Parsed<Expr> {
        Ok(*self.parse_binary(1)?)
    }

    /// Precedence climbing: operators of level `min_level` and above. The
    /// right operand of a level-`n` operator takes only levels above `n`,
    /// which makes every operator left-associative.
    fn parse_binary(&mut self, min_level: u8) -> Parsed<Box<Expr>> {
        let mut lhs = self.parse_unary()?;
        let mut opened = 0;
        let result = loop {
            let Some((op, level)) = binary_operator(&self.token.kind) else {
                break Ok(lhs);
            };
            if level < min_level {
                break Ok(lhs);
            }
            if self.enter().is_err() {
                break Err(Failed);
            }
            opened += 1;
            match self.parse_right_operand(op, level, lhs) {
                Ok(combined) => lhs = combined,
                Err(failed) => break Err(failed),
            }
        };
        self.depth -= opened;
        result
    }

    /// The operator (current) and its right operand, combined with `lhs`.
    fn parse_right_operand(
        &mut self,
        op: BinaryOp,
        level: u8,
        lhs: Box<Expr>,
    ) -> Parsed<Box<Expr>> {
        let op_pos = self.advance().pos;
        let rhs = self.parse_binary(level + 1)?;
        if op.is_comparison() && (is_bare_comparison(&lhs) || is_bare_comparison(&rhs)) {
            let message = "comparison operators cannot be chained".to_string();
            self.report_at(op_pos, message);
        }
        let kind = ExprKind::Binary { op, lhs, rhs };
        Ok(Box::new(Expr::new(kind, op_pos)))
    }

    /// `-x`, `!x`, `~x`, or a postfix expression.
    fn parse_unary(&mut self) -> Parsed<Box<Expr>> {
        let op = match self.token.kind {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Bang => UnaryOp::Not,
            TokenKind::Tilde => UnaryOp::BitNot,
            _ => return self.parse_postfix(),
        };
        if op == UnaryOp::Neg && *self.peek() == TokenKind::Int(MIN_INT_MAGNITUDE) {
            return self.parse_min_int();
        }
        self.enter()?;
        let pos = self.advance().pos;
        let operand = self.parse_unary();
        self.leave();
        let kind = ExprKind::Unary {
            op,
            operand: operand?,
        };
        Ok(Box::new(Expr::new(kind, pos)))
    }

    /// `-9223372036854775808`: one literal at the position of the `-`.
    fn parse_min_int(&mut self) -> Parsed<Box<Expr>> {
        let pos = self.advance().pos;
        self.advance();
        let min = Box::new(Expr::new(ExprKind::Int(i64::MIN), pos));
        self.parse_index_suffixes(min)
    }

    fn parse_postfix(&mut self) -> Parsed<Box<Expr>> {
        let primary = self.parse_primary()?;
        self.parse_index_suffixes(primary)
    }

    /// `EXPR[INDEX][INDEX]...`; each index nests the tree one level.
    fn parse_index_suffixes(&mut self, mut expr: Box<Expr>) -> Parsed<Box<Expr>> {
        let mut opened = 0;
        let result = loop {
            if !self.at(&TokenKind::LBracket) {
                break Ok(expr);
            }
            if self.enter().is_err() {
                break Err(Failed);
            }
            opened += 1;
            match self.parse_index(expr) {
                Ok(indexed) => expr = indexed,
                Err(failed) => break Err(failed),
            }
        };
        self.depth -= opened;
        result
    }

    /// `[INDEX]` (`[` is current) applied to `array`.
    fn parse_index(&mut self, array: Box<Expr>) -> Parsed<Box<Expr>> {
        let pos = self.advance().pos;
        let index = self.parse_binary(1)?;
        self.expect(TokenKind::RBracket, "']'")?;
        let kind = ExprKind::Index { array, index };
        Ok(Box::new(Expr::new(kind, pos)))
    }

    fn parse_primary(&mut self) -> Parsed<Box<Expr>> {
        let pos = self.token.pos;
        let is_keyword = matches!(self.token.kind, TokenKind::IntKw | TokenKind::FloatKw);
        let conversion_call = is_keyword && *self.peek() == TokenKind::LParen;
        let kind = match self.token.kind {
            TokenKind::Int(_)
            | TokenKind::Float(_)
            | TokenKind::Str(_)
            | TokenKind::True
            | TokenKind::False => Ok(self.parse_literal()),
            TokenKind::Ident(_) => self.parse_name(),
            TokenKind::IntKw | TokenKind::FloatKw if conversion_call => self.parse_conversion(),
            TokenKind::Spawn => self.parse_spawn(),
            TokenKind::LParen => return self.parse_parenthesized(),
            TokenKind::LBracket => self.parse_new_array(),
            _ => self.expected("expression"),
        };
        Ok(Box::new(Expr::new(kind?, pos)))
    }

    fn parse_literal(&mut self) -> ExprKind {
        let token = self.advance();
        match token.kind {
            TokenKind::Int(value) => match i64::try_from(value) {
                Ok(value) => ExprKind::Int(value),
                Err(_) => {
                    let message = "integer literal out of range".to_string();
                    self.push_diagnostic(token.pos, message);
                    ExprKind::Int(0)
                }
            },
            TokenKind::Float(value) => ExprKind::Float(value),
            TokenKind::Str(value) => ExprKind::Str(value),
            TokenKind::True => ExprKind::Bool(true),
            _ => ExprKind::Bool(false),
        }
    }

    /// A variable, or a call if `(` follows.
    fn parse_name(&mut self) -> Parsed<ExprKind> {
        let (name, _) = self.expect_identifier()?;
        if !self.at(&TokenKind::LParen) {
            return Ok(ExprKind::Var {
                name,
                var: VarRef::Unresolved,
            });
        }
        let args = self.parse_args()?;
        Ok(ExprKind::Call {
            name,
            args,
            callee: Callee::Unresolved,
        })
    }

    /// `int(x)` and `float(x)`: builtins whose names are keywords.
    fn parse_conversion(&mut self) -> Parsed<ExprKind> {
        let keyword = self.advance();
        let name = if keyword.kind == TokenKind::IntKw {
            "int"
        } else {
            "float"
        };
        let args = self.parse_args()?;
        Ok(ExprKind::Call {
            name: name.to_string(),
            args,
            callee: Callee::Unresolved,
        })
    }

    /// `spawn NAME(ARGS)`
    fn parse_spawn(&mut self) -> Parsed<ExprKind> {
        self.advance();
        let (name, name_pos) = self.expect_identifier()?;
        if !self.at(&TokenKind::LParen) {
            return self.expected("'('");
        }
        let args = self.parse_args()?;
        Ok(ExprKind::Spawn {
            name,
            name_pos,
            args,
            func: None,
        })
    }

    /// `(ARG, ARG, ...)` with an optional trailing comma; `(` is current.
    fn parse_args(&mut self) -> Parsed<Vec<Expr>> {
        self.enter()?;
        self.advance();
        let mut args = Vec::new();
        let result = loop {
            if self.at(&TokenKind::RParen) {
                self.advance();
                break Ok(args);
            }
            match self.parse_binary(1) {
                Ok(arg) => args.push(*arg),
                Err(failed) => break Err(failed),
            }
            match self.token.kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RParen => {}
                _ => break self.expected("',' or ')'"),
            }
        };
        self.leave();
        result
    }

    /// `( EXPR )`; `(` is current.
    fn parse_parenthesized(&mut self) -> Parsed<Box<Expr>> {
        self.enter()?;
        self.advance();
        let inner = self.parse_binary(1);
        let closed = inner.is_ok() && self.expect(TokenKind::RParen, "')'").is_ok();
        self.leave();
        let mut inner = inner?;
        if !closed {
            return Err(Failed);
        }
        inner.parenthesized = true;
        Ok(inner)
    }

    /// `[INIT; LEN]`; `[` is current.
    fn parse_new_array(&mut self) -> Parsed<ExprKind> {
        self.enter()?;
        self.advance();
        let parts = self.parse_new_array_parts();
        self.leave();
        let (init, len) = parts?;
        Ok(ExprKind::NewArray { init, len })
    }

    fn parse_new_array_parts(&mut self) -> Parsed<(Box<Expr>, Box<Expr>)> {
        let init = self.parse_binary(1)?;
        self.expect(TokenKind::Semi, "';'")?;
        let len = self.parse_binary(1)?;
        self.expect(TokenKind::RBracket, "']'")?;
        Ok((init, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `src`, which must be free of errors.
    fn parse_ok(src: &str) -> Program {
        let (program, diagnostics) = parse(src.as_bytes());
        assert!(diagnostics.is_empty(), "{src}: {diagnostics:?}");
        program
    }

    /// The errors of `src` as `line:col: message`.
    fn errors(src: &str) -> Vec<String> {
        let (_, diagnostics) = parse(src.as_bytes());
        diagnostics
            .iter()
            .map(|d| d.to_string().replace(": error", ""))
            .collect()
    }

    /// The statements of `fn main() { BODY }`.
    fn body(src_body: &str) -> Vec<Stmt> {
        let mut program = parse_ok(&format!("fn main() {{\n{src_body}\n}}"));
        std::mem::take(&mut program.funcs[0].body.stmts)
    }

    /// The expression `src` as the value of `let x = SRC;` on line 1,
    /// starting at column 9.
    fn expr(src: &str) -> Expr {
        let program = parse_ok(&format!("fn main() {{ let x = {src}; }}"));
        let mut funcs = program.funcs;
        match funcs.remove(0).body.stmts.remove(0).kind {
            StmtKind::Let { init, .. } => init,
            other => panic!("{other:?}"),
        }
    }

    /// An S-expression showing the tree's shape; `(..)` marks parentheses.
    fn show(e: &Expr) -> String {
        let inner = match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Float(v) => format!("{v:?}"),
            ExprKind::Bool(v) => v.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Var { name, .. } => name.clone(),
            ExprKind::Unary { op, operand } => {
                let symbol = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Not => "!",
                    UnaryOp::BitNot => "~",
                };
                format!("({symbol} {})", show(operand))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", op.symbol(), show(lhs), show(rhs))
            }
            ExprKind::Call { name, args, .. } => {
                let args: Vec<String> = args.iter().map(show).collect();
                format!("{name}({})", args.join(" "))
            }
            ExprKind::Spawn { name, args, .. } => {
                let args: Vec<String> = args.iter().map(show).collect();
                format!("spawn {name}({})", args.join(" "))
            }
            ExprKind::Index { array, index } => format!("{}[{}]", show(array), show(index)),
            ExprKind::NewArray { init, len } => format!("[{}; {}]", show(init), show(len)),
        };
        if e.parenthesized {
            format!("<{inner}>")
        } else {
            inner
        }
    }

    fn shape(src: &str) -> String {
        show(&expr(src))
    }

    fn col(e: &Expr) -> u32 {
        assert_eq!(e.pos.line, 1);
        e.pos.col
    }

    #[test]
    fn precedence_of_every_level() {
        assert_eq!(
            shape("a || b && c == d | e ^ f & g << h + i * j"),
            "(|| a (&& b (== c (| d (^ e (& f (<< g (+ h (* i j)))))))))"
        );
        assert_eq!(
            shape("a * b + c << d & e ^ f | g < h && i || j"),
            "(|| (&& (< (| (^ (& (<< (+ (* a b) c) d) e) f) g) h) i) j)"
        );
        assert_eq!(shape("a < b | c"), "(< a (| b c))");
        assert_eq!(shape("a == b + c"), "(== a (+ b c))");
        assert_eq!(shape("-a * !b % ~c[1]"), "(% (* (- a) (! b)) (~ c[1]))");
        assert_eq!(shape("- -a"), "(- (- a))");
        assert_eq!(shape("a != b"), "(!= a b)");
        assert_eq!(
            shape("a >= b || a <= b || a > b"),
            "(|| (|| (>= a b) (<= a b)) (> a b))"
        );
        assert_eq!(shape("a >> 1 / 2"), "(>> a (/ 1 2))");
    }

    #[test]
    fn binary_operators_are_left_associative() {
        assert_eq!(shape("a - b - c"), "(- (- a b) c)");
        assert_eq!(shape("a / b * c % d"), "(% (* (/ a b) c) d)");
        assert_eq!(shape("a << b >> c"), "(>> (<< a b) c)");
        assert_eq!(shape("a || b || c"), "(|| (|| a b) c)");
        assert_eq!(shape("a - (b - c)"), "(- a <(- b c)>)");
    }

    #[test]
    fn primaries_and_postfix() {
        assert_eq!(shape("f(1, 2.5, true,)"), "f(1 2.5 true)");
        assert_eq!(shape("g()"), "g()");
        assert_eq!(shape("int(1.5) + float(2)"), "(+ int(1.5) float(2))");
        assert_eq!(shape("spawn w(1)"), "spawn w(1)");
        assert_eq!(shape("a[i][j + 1]"), "a[i][(+ j 1)]");
        assert_eq!(shape("[0.0; n * 2][3]"), "[0.0; (* n 2)][3]");
        assert_eq!(shape("((x))"), "<x>");
        assert_eq!(shape("false"), "false");
    }

    #[test]
    fn positions_of_every_expression_kind() {
        // Columns: `let x = ` ends at column 20 in `fn main() { let x = `.
        let e = expr("a + b * -c");
        assert_eq!(col(&e), 23);
        let ExprKind::Binary { lhs, rhs, .. } = &e.kind else {
            panic!()
        };
        assert_eq!(col(lhs), 21);
        assert_eq!(col(rhs), 27);
        let ExprKind::Binary { rhs: neg, .. } = &rhs.kind else {
            panic!()
        };
        assert_eq!(col(neg), 29);
        assert_eq!(col(&expr("  f(1)")), 23);
        assert_eq!(col(&expr("a[1]")), 22);
        assert_eq!(col(&expr("[1; 2]")), 21);
        assert_eq!(col(&expr("!x")), 21);
        assert_eq!(col(&expr("(1 + 2)")), 24);
        assert_eq!(col(&expr("1.5")), 21);
        let spawn = expr("spawn  f(1)");
        assert_eq!(col(&spawn), 21);
        let ExprKind::Spawn { name_pos, .. } = spawn.kind else {
            panic!()
        };
        assert_eq!(name_pos.col, 28);
    }

    #[test]
    fn minimum_int_literal_folds_with_its_minus() {
        for src in [
            "-9223372036854775808",
            "- 9223372036854775808",
            "-0x8000000000000000",
        ] {
            let e = expr(src);
            assert!(matches!(e.kind, ExprKind::Int(i64::MIN)), "{src}");
            assert_eq!(col(&e), 21);
        }
        assert_eq!(shape("--9223372036854775808"), "(- -9223372036854775808)");
        assert_eq!(shape("-9223372036854775807"), "(- 9223372036854775807)");
        assert_eq!(
            shape("1 - -9223372036854775808"),
            "(- 1 -9223372036854775808)"
        );
        for bad in [
            "9223372036854775808",
            "-(9223372036854775808)",
            "1 - 9223372036854775808",
        ] {
            let src = format!("fn main() {{ let x = {bad}; }}");
            let found = errors(&src);
            assert_eq!(found.len(), 1, "{bad}");
            assert!(
                found[0].ends_with("integer literal out of range"),
                "{bad}: {found:?}"
            );
        }
    }

    #[test]
    fn chained_comparisons_are_rejected() {
        let at = |src: &str| errors(&format!("fn main() {{ let x = {src}; }}"));
        let chained = |col: u32| vec![format!("1:{col}: comparison operators cannot be chained")];
        assert_eq!(at("a < b < c"), chained(27));
        assert_eq!(at("a < b == c"), chained(27));
        assert_eq!(at("a == b < c"), chained(23));
        assert_eq!(at("a == b != c"), chained(28));
        assert!(at("(a < b) == c").is_empty());
        assert!(at("a == (b < c)").is_empty());
        assert!(at("a < b && b < c").is_empty());
        assert!(at("a + b < c").is_empty());
    }

    #[test]
    fn statements() {
        let stmts = body(
            "let a: [int] = [0; 3];\nlet b = 1;\nb = 2;\na[b] = 3;\nf(a, b);\nspawn g();\n\
             while b < 3 { break; continue; }\nfor i in 0..b { }\nreturn;\nreturn 1;\n{ }",
        );
        let kinds: Vec<&str> = stmts
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Let {
                    ty: Some(Type::IntArray),
                    ..
                } => "let:[int]",
                StmtKind::Let { ty: None, .. } => "let",
                StmtKind::Assign { .. } => "assign",
                StmtKind::Store { .. } => "store",
                StmtKind::Expr(e) if matches!(e.kind, ExprKind::Call { .. }) => "call",
                StmtKind::Expr(_) => "spawn",
                StmtKind::While { body, .. } if body.stmts.len() == 2 => "while",
                StmtKind::For { .. } => "for",
                StmtKind::Return(None) => "return",
                StmtKind::Return(Some(_)) => "return value",
                StmtKind::Block(_) => "block",
                _ => "?",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "let:[int]",
                "let",
                "assign",
                "store",
                "call",
                "spawn",
                "while",
                "for",
                "return",
                "return value",
                "block"
            ]
        );
        let lines: Vec<u32> = stmts.iter().map(|s| s.pos.line).collect();
        assert_eq!(lines, (2..=12).collect::<Vec<u32>>());
        let StmtKind::Store { bracket_pos, .. } = &stmts[3].kind else {
            panic!()
        };
        assert_eq!((bracket_pos.line, bracket_pos.col), (5, 2));
        let StmtKind::Assign { name_pos, .. } = &stmts[2].kind else {
            panic!()
        };
        assert_eq!((name_pos.line, name_pos.col), (4, 1));
    }

    #[test]
    fn else_if_nests_an_if_in_an_else_block() {
        let stmts = body("if a { } else if b { f(); } else { g(); }");
        let StmtKind::If {
            else_block: Some(else_block),
            ..
        } = &stmts[0].kind
        else {
            panic!()
        };
        assert_eq!(else_block.stmts.len(), 1);
        let nested = &else_block.stmts[0];
        assert_eq!((nested.pos.line, nested.pos.col), (2, 15));
        let StmtKind::If {
            then_block,
            else_block: Some(last),
            ..
        } = &nested.kind
        else {
            panic!()
        };
        assert_eq!(then_block.stmts.len(), 1);
        assert_eq!(last.stmts.len(), 1);
    }

    #[test]
    fn items() {
        let program = parse_ok(
            "const N: int = 1 + 2;\nfn f(a: int, b: [float],) -> bool { return true; }\n\
             const B: bool = true; fn main() { }",
        );
        assert_eq!(program.consts.len(), 2);
        assert_eq!(program.consts[1].ty, Type::Bool);
        assert_eq!(program.funcs.len(), 2);
        let f = &program.funcs[0];
        assert_eq!((f.name.as_str(), f.pos.line, f.pos.col), ("f", 2, 4));
        assert_eq!(f.ret, Some(Type::Bool));
        let params: Vec<(&str, Type)> = f.params.iter().map(|p| (p.name.as_str(), p.ty)).collect();
        assert_eq!(params, [("a", Type::Int), ("b", Type::FloatArray)]);
        assert_eq!(program.funcs[1].ret, None);
    }

    #[test]
    fn syntax_error_messages() {
        assert_eq!(
            errors("fn main() { f() }"),
            ["1:17: expected ';', found '}'"]
        );
        assert_eq!(
            errors("fn main() { f(1,,2); }"),
            ["1:17: expected expression, found ','"]
        );
        assert_eq!(
            errors("fn f(a: x) { }"),
            ["1:9: expected type, found identifier 'x'"]
        );
        assert_eq!(
            errors("fn f(a: [bool]) { }"),
            ["1:10: expected 'int' or 'float', found 'bool'"]
        );
        assert_eq!(errors("let x = 1;"), ["1:1: expected item, found 'let'"]);
        assert_eq!(
            errors("fn main() { ; }"),
            ["1:13: expected statement, found ';'"]
        );
        assert_eq!(
            errors("fn main() {"),
            ["1:12: expected '}', found end of file"]
        );
        assert_eq!(
            errors("fn main() { x + 1; }"),
            ["1:15: only a call can stand as a statement"]
        );
        assert_eq!(
            errors("fn main() { (f()) = 1; }"),
            ["1:14: invalid assignment target"]
        );
        assert_eq!(
            errors("fn main() { f() = 1; }"),
            ["1:13: invalid assignment target"]
        );
        assert_eq!(
            errors("fn main() { for i 0..1 {} }"),
            ["1:19: expected 'in', found integer literal"]
        );
        assert_eq!(
            errors("fn main() { if x f(); }"),
            ["1:18: expected '{', found identifier 'f'"]
        );
        assert_eq!(
            errors("fn main() { let x = 1. ; }"),
            ["1:21: invalid number literal"]
        );
        assert_eq!(
            errors("fn main() { let x = @; }"),
            ["1:21: unexpected character '@'"]
        );
        assert_eq!(
            errors("const N = 1;"),
            ["1:7: missing type for constant 'N'"]
        );
        assert_eq!(
            errors("fn main() {\n print(\"a);\n}"),
            ["2:8: unterminated string literal"]
        );
    }

    #[test]
    fn recovery_reports_independent_errors() {
        let src = "fn main() {\n  let x = ;\n  let y = 1 +;\n  if { }\n  f();\n  g();\n}\n\
                   fn g( { }\nconst C: int = 1;\nfn h() { x = 1 }\nlet z = 3;\nfn k() { }";
        assert_eq!(
            errors(src),
            [
                "2:11: expected expression, found ';'",
                "3:14: expected expression, found ';'",
                "4:6: expected expression, found '{'",
                "8:7: expected identifier, found '{'",
                "10:16: expected ';', found '}'",
                "11:1: expected item, found 'let'",
            ]
        );
        let (program, _) = parse(src.as_bytes());
        let names: Vec<&str> = program.funcs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["main", "h", "k"]);
        assert_eq!(program.consts.len(), 1);
        // Recovery after `if {` skips its block and `f();`; `g();` survives.
        assert_eq!(program.funcs[0].body.stmts.len(), 1);
    }

    #[test]
    fn unclosed_block_stops_at_the_next_item() {
        assert_eq!(
            errors("fn a() { if x { f();\nfn b() { }\nfn c() { g( }"),
            [
                "2:1: expected '}', found 'fn'",
                "3:13: expected expression, found '}'"
            ]
        );
    }

    /// `depth` nested levels of `open`..`close` around `1` in main.
    fn nested_program(open: &str, close: &str, depth: usize) -> String {
        format!(
            "fn main() {{ let x = {}1{}; }}",
            open.repeat(depth),
            close.repeat(depth)
        )
    }

    #[test]
    fn nesting_limit() {
        // The function body is one level; each parenthesis is another.
        let deepest = nested_program("(", ")", MAX_NESTING - 1);
        assert!(errors(&deepest).is_empty());
        let too_deep = nested_program("(", ")", MAX_NESTING);
        // The 256th parenthesis, at column 20 + 256, opens level 257.
        assert_eq!(errors(&too_deep), ["1:276: nesting is too deep"]);
        let blocks = format!(
            "fn main() {}{}",
            "{".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        assert!(errors(&blocks).is_empty());
        let blocks = format!(
            "fn main() {}{}",
            "{".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        assert_eq!(errors(&blocks), ["1:267: nesting is too deep"]);
        // A long left-leaning chain counts too, and the next item is parsed.
        let sum = format!(
            "fn main() {{ let x = 1{}; }}\nfn f() {{ x }}",
            " + 1".repeat(300)
        );
        assert_eq!(
            errors(&sum),
            [
                // The 256th `+`, at column 4 * 256 + 19, opens level 257.
                "1:1043: nesting is too deep",
                "2:10: only a call can stand as a statement"
            ]
        );
    }
}
