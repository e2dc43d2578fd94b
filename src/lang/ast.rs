//! The tj syntax tree.
//!
//! The parser builds it; the checker fills in what it resolves (`ty` of every
//! expression, which local or constant a name means, which function or
//! builtin a call names, each function's locals); lowering reads it all.
//! Fields the checker fills start out as `None` / `Unresolved`.

pub use tierjit_tiers::Type;

/// A source position: 1-based line, 1-based column counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column in characters.
    pub col: u32,
}

/// A whole source file.
#[derive(Debug, Default)]
pub struct Program {
    /// `const` items in source order.
    pub consts: Vec<ConstDecl>,
    /// `fn` items in source order; a function's index here is its id.
    pub funcs: Vec<FnDecl>,
}

/// `const NAME: TYPE = EXPR;`
#[derive(Debug)]
pub struct ConstDecl {
    /// The constant's name.
    pub name: String,
    /// Position of the name.
    pub pos: Pos,
    /// The declared type.
    pub ty: Type,
    /// The value expression (literals, other constants, operators).
    pub value: Expr,
    /// The folded value, set by the checker.
    pub folded: Option<ConstValue>,
}

/// A compile-time constant value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConstValue {
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A bool.
    Bool(bool),
}

impl ConstValue {
    /// The type of the value.
    pub fn ty(self) -> Type {
        match self {
            ConstValue::Int(_) => Type::Int,
            ConstValue::Float(_) => Type::Float,
            ConstValue::Bool(_) => Type::Bool,
        }
    }
}

/// `fn NAME(PARAMS) -> RET { BODY }`
#[derive(Debug)]
pub struct FnDecl {
    /// The function's name.
    pub name: String,
    /// Position of the name.
    pub pos: Pos,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// The return type, `None` for a function that returns nothing.
    pub ret: Option<Type>,
    /// The body.
    pub body: Block,
    /// Type of every local of the function, indexed by [`LocalId`]: the
    /// parameters first (local `i` is parameter `i`), then every `let` and
    /// `for` variable in source order. Filled by the checker.
    pub locals: Vec<Type>,
}

/// One parameter.
#[derive(Debug)]
pub struct Param {
    /// The parameter's name.
    pub name: String,
    /// Position of the name.
    pub pos: Pos,
    /// The declared type.
    pub ty: Type,
}

/// Index of a local variable within its function (see [`FnDecl::locals`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalId(pub u32);

/// `{ STMTS }`
#[derive(Debug, Default)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
}

/// A statement with the position of its first token.
#[derive(Debug)]
pub struct Stmt {
    /// What the statement is.
    pub kind: StmtKind,
    /// Position of the statement's first token.
    pub pos: Pos,
}

/// The statements of LANGUAGE.md.
#[derive(Debug)]
pub enum StmtKind {
    /// `let NAME (: TYPE)? = INIT;`
    Let {
        /// The variable's name.
        name: String,
        /// Position of the name.
        name_pos: Pos,
        /// The declared type, if written.
        ty: Option<Type>,
        /// The initial value.
        init: Expr,
        /// The local this `let` declares; set by the checker.
        local: Option<LocalId>,
    },
    /// `NAME = VALUE;`
    Assign {
        /// The assigned variable's name.
        name: String,
        /// Position of the name.
        name_pos: Pos,
        /// The new value.
        value: Expr,
        /// The local assigned; set by the checker.
        local: Option<LocalId>,
    },
    /// `ARRAY[INDEX] = VALUE;` (ARRAY is any postfix expression)
    Store {
        /// The array expression.
        array: Expr,
        /// The index expression.
        index: Expr,
        /// The stored value.
        value: Expr,
        /// Position of the `[`.
        bracket_pos: Pos,
    },
    /// `if COND { THEN } else ELSE`
    If {
        /// The condition.
        cond: Expr,
        /// The then block.
        then_block: Block,
        /// `else { .. }` as a block; `else if` as a block holding one `If`.
        else_block: Option<Block>,
    },
    /// `while COND { BODY }`
    While {
        /// The condition.
        cond: Expr,
        /// The body.
        body: Block,
    },
    /// `for VAR in LO..HI { BODY }`
    For {
        /// The loop variable's name.
        var: String,
        /// Position of the loop variable.
        var_pos: Pos,
        /// Lower bound, evaluated first.
        lo: Expr,
        /// Upper bound (exclusive), evaluated once after `lo`.
        hi: Expr,
        /// The body.
        body: Block,
        /// The loop variable's local; set by the checker.
        local: Option<LocalId>,
    },
    /// `break;`
    Break,
    /// `continue;`
    Continue,
    /// `return;` or `return EXPR;`
    Return(Option<Expr>),
    /// A call whose result is dropped: `f(args);` (also `spawn f(args);`).
    Expr(Expr),
    /// A nested block `{ ... }` (opens a scope).
    Block(Block),
}

/// An expression.
#[derive(Debug)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Position of the main token (LANGUAGE.md "Fine points"): the operator
    /// of a unary or binary expression, the `[` of an index or array
    /// expression, the callee's name for a call, the first token otherwise.
    pub pos: Pos,
    /// The type; set by the checker (`None` for a string literal and for a
    /// call of a function that returns nothing).
    pub ty: Option<Type>,
    /// True if the source wrapped this expression in parentheses.
    pub parenthesized: bool,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
    /// `~`
    BitNot,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `||` (short-circuit)
    Or,
    /// `&&` (short-circuit)
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `&`
    BitAnd,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// True for `== != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "||",
            And => "&&",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            BitOr => "|",
            BitXor => "^",
            BitAnd => "&",
            Shl => "<<",
            Shr => ">>",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
        }
    }
}

/// The builtins of LANGUAGE.md that look like calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `print(x)`
    Print,
    /// `float(x)`
    Float,
    /// `int(x)`
    Int,
    /// `sqrt(x)`
    Sqrt,
    /// `abs(x)`
    Abs,
    /// `min(a, b)`
    Min,
    /// `max(a, b)`
    Max,
    /// `len(a)`
    Len,
    /// `arg(i)`
    Arg,
    /// `argc()`
    Argc,
    /// `now_ns()`
    NowNs,
    /// `join(h)`
    Join,
    /// `atomic_add(a, i, v)`
    AtomicAdd,
}

impl Builtin {
    /// Every builtin.
    pub const ALL: [Builtin; 13] = [
        Builtin::Print,
        Builtin::Float,
        Builtin::Int,
        Builtin::Sqrt,
        Builtin::Abs,
        Builtin::Min,
        Builtin::Max,
        Builtin::Len,
        Builtin::Arg,
        Builtin::Argc,
        Builtin::NowNs,
        Builtin::Join,
        Builtin::AtomicAdd,
    ];

    /// The name a program calls it by.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Print => "print",
            Builtin::Float => "float",
            Builtin::Int => "int",
            Builtin::Sqrt => "sqrt",
            Builtin::Abs => "abs",
            Builtin::Min => "min",
            Builtin::Max => "max",
            Builtin::Len => "len",
            Builtin::Arg => "arg",
            Builtin::Argc => "argc",
            Builtin::NowNs => "now_ns",
            Builtin::Join => "join",
            Builtin::AtomicAdd => "atomic_add",
        }
    }

    /// The builtin called `name`, if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// What a call's name refers to; set by the checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callee {
    /// Not yet resolved.
    Unresolved,
    /// The function with this index in [`Program::funcs`].
    Func(u32),
    /// A builtin.
    Builtin(Builtin),
    /// The host function with this index in the imports the program was
    /// compiled with (`lang::compile_with_imports`).
    Host(u32),
}

/// What a variable name refers to; set by the checker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VarRef {
    /// Not yet resolved.
    Unresolved,
    /// A local (parameter, `let` or `for` variable) of the enclosing function.
    Local(LocalId),
    /// A `const` item, already folded.
    Const(ConstValue),
}

/// The expressions of LANGUAGE.md.
#[derive(Debug)]
pub enum ExprKind {
    /// An int literal (a negative value only for `-9223372036854775808`,
    /// which the parser folds with its unary minus).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// A string literal, escapes already decoded (only as `print`'s argument).
    Str(String),
    /// A variable or constant name.
    Var {
        /// The name.
        name: String,
        /// What it refers to; set by the checker.
        var: VarRef,
    },
    /// `OP OPERAND`
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `LHS OP RHS`
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand, evaluated first.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `NAME(ARGS)`: a function or a builtin.
    Call {
        /// The callee's name.
        name: String,
        /// The arguments, evaluated left to right.
        args: Vec<Expr>,
        /// What the name refers to; set by the checker.
        callee: Callee,
    },
    /// `spawn NAME(ARGS)`: pos is that of `spawn`.
    Spawn {
        /// The function's name.
        name: String,
        /// Position of the function's name.
        name_pos: Pos,
        /// The arguments, evaluated left to right in the spawning thread.
        args: Vec<Expr>,
        /// The function's index; set by the checker.
        func: Option<u32>,
    },
    /// `ARRAY[INDEX]`
    Index {
        /// The array.
        array: Box<Expr>,
        /// The index.
        index: Box<Expr>,
    },
    /// `[INIT; LEN]`
    NewArray {
        /// The element value, evaluated once, first.
        init: Box<Expr>,
        /// The length, evaluated second.
        len: Box<Expr>,
    },
}

impl Expr {
    /// A new unresolved expression.
    pub fn new(kind: ExprKind, pos: Pos) -> Expr {
        Expr {
            kind,
            pos,
            ty: None,
            parenthesized: false,
        }
    }
}
