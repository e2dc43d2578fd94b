//! Checker tests: every catalog row at its position, the missing-return
//! rule, constant folding, scoping and what the checker fills in.

use super::check;
use crate::lang::ast::{
    Callee, ConstValue, Expr, ExprKind, LocalId, Program, Stmt, StmtKind, Type, VarRef,
};
use crate::lang::parser::parse;

/// Parses (which must succeed) and checks `src`; the checker's errors as
/// `line:col: message`.
fn errors(src: &str) -> Vec<String> {
    let (mut program, syntax) = parse(src.as_bytes());
    assert!(syntax.is_empty(), "{src}: {syntax:?}");
    let found = check(&mut program);
    found
        .iter()
        .map(|d| d.to_string().replace(": error", ""))
        .collect()
}

/// A checked program that must have no errors.
fn checked(src: &str) -> Program {
    let (mut program, syntax) = parse(src.as_bytes());
    assert!(syntax.is_empty(), "{src}: {syntax:?}");
    let found = check(&mut program);
    assert!(found.is_empty(), "{src}: {found:?}");
    program
}

/// The errors of `BODY` as the body of `fn main()` (line 2 onwards), after
/// declarations shared by the tests.
fn body_errors(body: &str) -> Vec<String> {
    errors(&format!("fn main() {{\n{body}\n}}\n{PRELUDE}"))
}

const PRELUDE: &str = "fn one() -> int { return 1; }\nfn nothing() { }\n\
                       fn pair(a: int, b: float) -> bool { return true; }\n\
                       const K: int = 7;";

/// One error expected at line `line`, column `col`.
fn one(line: u32, col: u32, message: &str) -> Vec<String> {
    vec![format!("{line}:{col}: {message}")]
}

#[test]
fn well_typed_program_passes() {
    checked(
        "const N: int = 10;\nconst F: float = 2.5 * 2.0;\nconst B: bool = N > 3 && !false;\n\
         fn fib(n: int) -> int { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\n\
         fn fill(a: [float], v: float) { for i in 0..len(a) { a[i] = v; } }\n\
         fn worker(a: [int], i: int) -> int { return atomic_add(a, 0, i); }\n\
         fn main() -> int {\n\
           let n = 30; if argc() > 0 { n = arg(0); }\n\
           let a = [0.0; N]; fill(a, F); print(a[1]); print(\"done\\n\");\n\
           let c = [0; 1]; let h = spawn worker(c, 2); print(join(h));\n\
           let x: float = sqrt(float(n)) + abs(-1.5) + min(1.0, 2.0) + max(F, 0.5);\n\
           print(int(x) % 3 << 2 >> 1 | 5 ^ 6 & ~7); print(abs(-3) + min(1, 2) + max(3, 4));\n\
           print(B || x != x); print(now_ns() >= 0); print(fib(n) == 832040);\n\
           while true { if n > 3 { return n & 255; } n = n + 1; }\n\
         }",
    );
}

#[test]
fn name_errors() {
    assert_eq!(body_errors("let a = b;"), one(2, 9, "unknown variable 'b'"));
    assert_eq!(body_errors("f();"), one(2, 1, "unknown function 'f'"));
    assert_eq!(
        body_errors("let a = one;"),
        one(2, 9, "'one' is a function, not a variable")
    );
    assert_eq!(
        body_errors("let a = len;"),
        one(2, 9, "'len' is a function, not a variable")
    );
    assert_eq!(
        body_errors("let a = 1; a();"),
        one(2, 12, "'a' is not a function")
    );
    assert_eq!(body_errors("K(1);"), one(2, 1, "'K' is not a function"));
    assert_eq!(
        body_errors("one = 1;"),
        one(2, 1, "'one' is a function, not a variable")
    );
    assert_eq!(body_errors("zz = 1;"), one(2, 1, "unknown variable 'zz'"));
    assert_eq!(
        body_errors("K = 1;"),
        one(2, 1, "cannot assign to constant 'K'")
    );
    assert_eq!(
        body_errors("spawn zz();"),
        one(2, 7, "unknown function 'zz'")
    );
    assert_eq!(
        body_errors("spawn len(0);"),
        one(2, 7, "'len' is a builtin and cannot be spawned")
    );
}

#[test]
fn definition_errors() {
    assert_eq!(
        errors("fn main() { }\nfn f() { }\nconst f: int = 1;"),
        one(3, 7, "duplicate definition of 'f'")
    );
    assert_eq!(
        errors("const f: int = 1;\nfn main() { }\nfn f() { }"),
        one(3, 4, "duplicate definition of 'f'")
    );
    assert_eq!(
        errors("fn main() { }\nfn main() { }"),
        one(2, 4, "duplicate definition of 'main'")
    );
    assert_eq!(
        errors("fn main() { }\nfn print() { }\nconst len: int = 1;"),
        [
            "2:4: 'print' is a builtin and cannot be redefined",
            "3:7: 'len' is a builtin and cannot be redefined"
        ]
    );
    assert_eq!(
        errors("fn main() { }\nfn f(a: int, b: int, a: float) { }"),
        one(2, 22, "duplicate parameter 'a'")
    );
    assert_eq!(
        errors("fn main() { }\nconst A: [int] = 1;"),
        one(2, 7, "constant 'A' must have type int, float or bool")
    );
}

#[test]
fn type_errors() {
    let mismatch = |found: &str| format!("mismatched types: expected int, found {found}");
    assert_eq!(
        body_errors("let a: int = 1.0;"),
        one(2, 14, &mismatch("float"))
    );
    assert_eq!(
        body_errors("let a = 1; a = true;"),
        one(2, 16, &mismatch("bool"))
    );
    assert_eq!(
        body_errors("pair(1, 2);"),
        one(2, 9, "mismatched types: expected float, found int")
    );
    assert_eq!(
        body_errors("let a = [1; 2]; a[0] = 1.5;"),
        one(2, 24, &mismatch("float"))
    );
    assert_eq!(
        body_errors("let a = [1; 2]; a[true] = 1;"),
        one(2, 19, &mismatch("bool"))
    );
    assert_eq!(
        body_errors("let a = [1; 2.0];"),
        one(2, 13, &mismatch("float"))
    );
    assert_eq!(
        body_errors("let a = [1; 2]; let b = a[1.0];"),
        one(2, 27, &mismatch("float"))
    );
    assert_eq!(
        body_errors("for i in 0..1.0 { }"),
        one(2, 13, &mismatch("float"))
    );
    assert_eq!(
        body_errors("for i in false..1 { }"),
        one(2, 10, &mismatch("bool"))
    );
    assert_eq!(
        errors("fn main() { }\nfn f() -> int { return 1.0; }"),
        one(2, 24, "mismatched types: expected int, found float")
    );
    assert_eq!(
        errors("fn main() { }\nconst C: float = 1;"),
        one(2, 18, "mismatched types: expected float, found int")
    );
    assert_eq!(
        body_errors("let a = 1 + 1.0;"),
        one(2, 11, "operator '+' cannot be applied to int and float")
    );
    assert_eq!(
        body_errors("let a = 1.0 % 2.0;"),
        one(2, 13, "operator '%' cannot be applied to float and float")
    );
    assert_eq!(
        body_errors("let a = true < false;"),
        one(2, 14, "operator '<' cannot be applied to bool and bool")
    );
    assert_eq!(
        body_errors("let a = [1; 1] == [1; 1];"),
        one(2, 16, "operator '==' cannot be applied to [int] and [int]")
    );
    assert_eq!(
        body_errors("let a = 1.0 << 2;"),
        one(2, 13, "operator '<<' cannot be applied to float and int")
    );
    assert_eq!(
        body_errors("let a = 1 && true;"),
        one(2, 11, "operator '&&' cannot be applied to int and bool")
    );
    assert_eq!(
        body_errors("let a = -true;"),
        one(2, 9, "operator '-' cannot be applied to bool")
    );
    assert_eq!(
        body_errors("let a = !1;"),
        one(2, 9, "operator '!' cannot be applied to int")
    );
    assert_eq!(
        body_errors("let a = ~1.0;"),
        one(2, 9, "operator '~' cannot be applied to float")
    );
    assert_eq!(
        body_errors("if 1 { }"),
        one(2, 4, "condition must be bool, found int")
    );
    assert_eq!(
        body_errors("while 1.0 { }"),
        one(2, 7, "condition must be bool, found float")
    );
    assert_eq!(
        body_errors("let a = 1; let b = a[0];"),
        one(2, 21, "cannot index a value of type int")
    );
    assert_eq!(
        body_errors("let a = 1; a[0] = 2;"),
        one(2, 13, "cannot index a value of type int")
    );
    assert_eq!(
        body_errors("let a = [true; 2];"),
        one(2, 10, "array elements must be int or float, found bool")
    );
    assert_eq!(
        body_errors("let a = [[1; 1]; 2];"),
        one(2, 10, "array elements must be int or float, found [int]")
    );
}

#[test]
fn call_errors() {
    assert_eq!(
        body_errors("pair(1);"),
        one(2, 1, "'pair' takes 2 arguments, found 1")
    );
    assert_eq!(
        body_errors("let a = one(1);"),
        one(2, 9, "'one' takes 0 arguments, found 1")
    );
    assert_eq!(
        body_errors("print(1, 2);"),
        one(2, 1, "'print' takes 1 argument, found 2")
    );
    assert_eq!(
        body_errors("let a = argc(1);"),
        one(2, 9, "'argc' takes 0 arguments, found 1")
    );
    assert_eq!(
        body_errors("let a = atomic_add([1; 1], 0);"),
        one(2, 9, "'atomic_add' takes 3 arguments, found 2")
    );
    assert_eq!(
        body_errors("let a = nothing();"),
        one(2, 9, "'nothing' returns nothing and has no value")
    );
    assert_eq!(
        body_errors("let a = 1 + print(1);"),
        one(2, 13, "'print' returns nothing and has no value")
    );
    assert_eq!(
        body_errors("print([1; 1]);"),
        one(
            2,
            7,
            "print takes an int, float, bool or string literal, found [int]"
        )
    );
    assert_eq!(
        body_errors("let a = \"s\";"),
        one(2, 9, "string literals may only be printed")
    );
    assert_eq!(body_errors("print((\"s\"));"), Vec::<String>::new());
    assert_eq!(
        body_errors("print(\"a\" == \"b\");"),
        [
            "2:7: string literals may only be printed",
            "2:14: string literals may only be printed"
        ]
    );
    assert_eq!(
        body_errors("spawn nothing();"),
        one(2, 7, "spawned function must return int")
    );
    assert_eq!(
        body_errors("spawn pair(1, 2.0);"),
        one(2, 7, "spawned function must return int")
    );
    assert_eq!(
        body_errors("spawn one(3);"),
        one(2, 7, "'one' takes 0 arguments, found 1")
    );
    assert_eq!(
        body_errors("let a = abs(true);"),
        one(2, 13, "abs takes an int or float, found bool")
    );
    assert_eq!(
        body_errors("let a = min([1; 1], 1);"),
        one(2, 13, "min takes an int or float, found [int]")
    );
    assert_eq!(
        body_errors("let a = max(1, 2.0);"),
        one(2, 16, "mismatched types: expected int, found float")
    );
    assert_eq!(
        body_errors("let a = len(1);"),
        one(2, 13, "len takes an array, found int")
    );
    assert_eq!(
        body_errors("let a = atomic_add([1.0; 1], 0, 1);"),
        one(2, 20, "mismatched types: expected [int], found [float]")
    );
    assert_eq!(
        body_errors("let a = float(1.0) + sqrt(1) + 1.0;"),
        [
            "2:15: mismatched types: expected int, found float",
            "2:27: mismatched types: expected float, found int"
        ]
    );
    assert_eq!(
        body_errors("let a = int(1);"),
        one(2, 13, "mismatched types: expected float, found int")
    );
    assert_eq!(
        body_errors("let a = join(1.0);"),
        one(2, 14, "mismatched types: expected int, found float")
    );
    assert_eq!(
        body_errors("let a = arg(true);"),
        one(2, 13, "mismatched types: expected int, found bool")
    );
}

#[test]
fn statement_errors() {
    assert_eq!(
        body_errors("for i in 0..3 { i = 1; }"),
        one(2, 17, "cannot assign to loop variable 'i'")
    );
    assert_eq!(
        body_errors("break;"),
        one(2, 1, "'break' outside of a loop")
    );
    assert_eq!(
        body_errors("if true { continue; }"),
        one(2, 11, "'continue' outside of a loop")
    );
    assert_eq!(
        body_errors("return 1;"),
        one(2, 1, "function returns nothing; 'return' takes no value")
    );
    assert_eq!(
        errors("fn main() { }\nfn f() -> float { return; }"),
        one(2, 19, "'return' needs a value of type float")
    );
    assert_eq!(
        errors("fn main() { }\nfn f() -> int { }"),
        one(2, 4, "missing return")
    );
    assert_eq!(
        errors("fn f() { }"),
        one(1, 1, "the program has no 'main' function")
    );
    assert_eq!(
        errors("const main: int = 1;"),
        one(1, 1, "the program has no 'main' function")
    );
    let bad_main = "'main' must take no parameters and return int or nothing";
    assert_eq!(errors("fn main(a: int) { }"), one(1, 4, bad_main));
    assert_eq!(
        errors("fn main() -> float { return 1.0; }"),
        one(1, 4, bad_main)
    );
    checked("fn main() -> int { return 0; }");
}

#[test]
fn constant_errors() {
    let prefix = "fn main() { }\n";
    assert_eq!(
        errors(&format!(
            "{prefix}const A: int = B;\nconst B: int = C + 1;\nconst C: int = A;"
        )),
        one(2, 7, "constant 'A' depends on itself")
    );
    assert_eq!(
        errors(&format!(
            "{prefix}const X: int = Y;\nconst A: int = A;\nconst Y: int = X;"
        )),
        [
            "2:7: constant 'X' depends on itself",
            "3:7: constant 'A' depends on itself"
        ]
    );
    // Constants that merely use a cycle are silent.
    assert_eq!(
        errors(&format!("{prefix}const U: int = A * 2;\nconst A: int = A;")),
        one(3, 7, "constant 'A' depends on itself")
    );
    assert_eq!(
        errors(&format!(
            "{prefix}const A: int = one();\nfn one() -> int {{ return 1; }}"
        )),
        one(2, 16, "calls are not allowed in constant expressions")
    );
    assert_eq!(
        errors(&format!("{prefix}const A: int = len([1; 2]);")),
        one(2, 16, "calls are not allowed in constant expressions")
    );
    assert_eq!(
        errors(&format!("{prefix}const A: int = [1; 2][0];")),
        one(2, 16, "arrays are not allowed in constant expressions")
    );
    assert_eq!(
        errors(&format!("{prefix}const A: int = 1 / (2 - 2);")),
        one(2, 18, "division by zero in constant expression")
    );
    assert_eq!(
        errors(&format!("{prefix}const A: int = 1 % 0;")),
        one(2, 18, "division by zero in constant expression")
    );
    assert_eq!(
        errors(&format!("{prefix}const A: bool = false && 1 / 0 == 1;")),
        one(2, 28, "division by zero in constant expression")
    );
    assert_eq!(
        errors(&format!("{prefix}const A: int = x;")),
        one(2, 16, "unknown variable 'x'")
    );
    assert_eq!(
        errors(&format!("{prefix}const A: int = \"s\";")),
        one(2, 16, "string literals may only be printed")
    );
    // A constant with an error still has its declared type for its users.
    assert_eq!(
        errors(&format!(
            "{prefix}const A: int = 1.0;\nconst B: int = A + 1;\nfn f() -> int {{ return A; }}"
        )),
        one(2, 16, "mismatched types: expected int, found float")
    );
}

/// The folded value of the constant `NAME` declared as `const NAME: TYPE = SRC;`.
fn fold(ty: &str, src: &str) -> ConstValue {
    let program = checked(&format!(
        "fn main() {{ }}\nconst V: {ty} = {src};\n{CONST_PRELUDE}"
    ));
    program.consts[0].folded.expect("folded")
}

const CONST_PRELUDE: &str =
    "const MIN: int = -9223372036854775808;\nconst MAX: int = 9223372036854775807;\n\
                             const NAN: float = 0.0 / 0.0;\nconst LATER: int = 3;";

#[test]
fn constant_folding() {
    use ConstValue::{Bool, Float, Int};
    assert_eq!(fold("int", "1 + 2 * 3 - 4 / 3"), Int(6));
    assert_eq!(fold("int", "MAX + 1"), Int(i64::MIN));
    assert_eq!(fold("int", "MIN - 1"), Int(i64::MAX));
    assert_eq!(fold("int", "MAX * 2"), Int(-2));
    assert_eq!(fold("int", "-MIN"), Int(i64::MIN));
    assert_eq!(fold("int", "MIN / -1"), Int(i64::MIN));
    assert_eq!(fold("int", "MIN % -1"), Int(0));
    assert_eq!(fold("int", "-7 / 2"), Int(-3));
    assert_eq!(fold("int", "-7 % 2"), Int(-1));
    assert_eq!(fold("int", "7 % -2"), Int(1));
    assert_eq!(fold("int", "1 << 64"), Int(1));
    assert_eq!(fold("int", "1 << 65"), Int(2));
    assert_eq!(fold("int", "1 << -1"), Int(i64::MIN));
    assert_eq!(fold("int", "-16 >> 2"), Int(-4));
    assert_eq!(fold("int", "MIN >> 63"), Int(-1));
    assert_eq!(fold("int", "~0 ^ 5 & 3 | 8"), Int(!0 ^ (5 & 3) | 8));
    assert_eq!(fold("int", "0x7fffffffffffffff"), Int(i64::MAX));
    assert_eq!(fold("int", "-0x8000000000000000"), Int(i64::MIN));
    assert_eq!(fold("float", "0.1 + 0.2"), Float(0.1 + 0.2));
    assert_eq!(fold("float", "1.0 / 0.0"), Float(f64::INFINITY));
    assert_eq!(fold("float", "-0.0"), Float(-0.0));
    assert!(matches!(fold("float", "NAN"), Float(v) if v.is_nan()));
    assert_eq!(fold("float", "1e308 * 10.0"), Float(f64::INFINITY));
    assert_eq!(fold("bool", "NAN == NAN"), Bool(false));
    assert_eq!(fold("bool", "NAN != NAN"), Bool(true));
    assert_eq!(fold("bool", "NAN < 1.0 || NAN >= 1.0"), Bool(false));
    assert_eq!(
        fold("bool", "MIN < MAX && !(1 > 2) && 2 <= 2 && true != false"),
        Bool(true)
    );
    assert_eq!(fold("bool", "(1 < 2) == (3 > 2)"), Bool(true));
    // Constants may be named before they are declared.
    assert_eq!(fold("int", "LATER * 2"), Int(6));
}

#[test]
fn constants_fill_the_tree() {
    let program = checked("const A: int = B + 1;\nconst B: int = 2;\nfn main() { let x = A; }");
    assert_eq!(program.consts[0].folded, Some(ConstValue::Int(3)));
    assert_eq!(program.consts[1].folded, Some(ConstValue::Int(2)));
    let ExprKind::Binary { lhs, .. } = &program.consts[0].value.kind else {
        panic!()
    };
    assert_eq!(var_ref(lhs), VarRef::Const(ConstValue::Int(2)));
    let StmtKind::Let { init, .. } = &program.funcs[0].body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(var_ref(init), VarRef::Const(ConstValue::Int(3)));
    assert_eq!(init.ty, Some(Type::Int));
}

fn var_ref(e: &Expr) -> VarRef {
    match &e.kind {
        ExprKind::Var { var, .. } => *var,
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_return_rule() {
    let ok = |body: &str| {
        checked(&format!(
            "fn main() {{ }}\nfn f(c: bool) -> int {{ {body} }}"
        ))
    };
    let missing = |body: &str| {
        let src = format!("fn main() {{ }}\nfn f(c: bool) -> int {{ {body} }}");
        assert_eq!(errors(&src), one(2, 4, "missing return"), "{body}");
    };
    ok("return 1;");
    ok("if c { return 1; } else { return 2; }");
    ok("if c { return 1; } else if !c { return 2; } else { return 3; }");
    ok("if c { if c { return 1; } else { return 3; } } else { return 2; }");
    ok("while true { }");
    ok("while (true) { if c { return 1; } }");
    ok("while true { while c { break; } for i in 0..3 { break; } }");
    ok("let a = 1; return a;");
    missing("");
    missing("if c { return 1; }");
    missing("if c { return 1; } else { }");
    missing("if c { return 1; } else if c { return 2; }");
    missing("while true { break; }");
    missing("while true { if c { break; } }");
    missing("while true { { break; } }");
    missing("while c { return 1; }");
    missing("while !false { }");
    missing("{ return 1; }");
    missing("for i in 0..1 { return 1; }");
    missing("return 1; let a = 2;");
    missing("if c { return 1; } else { return 2; } let a = 1;");
}

#[test]
fn scoping_and_shadowing() {
    checked(
        "const N: int = 1;\nfn main() {\n let N = 2.0; let x = N + 1.0;\n\
         let x = true; { let x = 1; x = 2; } x = false;\n\
         for i in 0..3 { let i = 5; i = 6; }\n\
         let len = len([1; 2]); let print = 3; print(print + len);\n}\n\
         fn g(N: bool, one: int) -> bool { N = !N; return N; }\nfn one() { }",
    );
    assert_eq!(
        body_errors("{ let a = 1; } a = 2;"),
        one(2, 16, "unknown variable 'a'")
    );
    assert_eq!(body_errors("let a = a;"), one(2, 9, "unknown variable 'a'"));
    assert_eq!(
        body_errors("for i in 0..i { }"),
        one(2, 13, "unknown variable 'i'")
    );
    assert_eq!(
        body_errors("if true { let b = 1; } else { b = 2; }"),
        one(2, 31, "unknown variable 'b'")
    );
}

/// The `local` of each `let` / `for` in `stmts`, in order, searching nested
/// blocks.
fn declared_locals(stmts: &[Stmt], out: &mut Vec<LocalId>) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Let { local, .. } => out.push(local.expect("let local")),
            StmtKind::For { local, body, .. } => {
                out.push(local.expect("for local"));
                declared_locals(&body.stmts, out);
            }
            StmtKind::If {
                then_block,
                else_block,
                ..
            } => {
                declared_locals(&then_block.stmts, out);
                if let Some(block) = else_block {
                    declared_locals(&block.stmts, out);
                }
            }
            StmtKind::While { body, .. } | StmtKind::Block(body) => {
                declared_locals(&body.stmts, out)
            }
            _ => {}
        }
    }
}

#[test]
fn locals_are_numbered_in_source_order() {
    let program = checked(
        "fn main() { }\nfn f(a: int, b: [float]) {\n let x = 1.0; let x = 2;\n\
         if true { let y = true; } else { for i in 0..2 { let z = [0; 1]; } }\n\
         x = 3; a = x; b[a] = 1.0;\n}",
    );
    let f = &program.funcs[1];
    use Type::*;
    assert_eq!(f.locals, [Int, FloatArray, Float, Int, Bool, Int, IntArray]);
    let mut lets = Vec::new();
    declared_locals(&f.body.stmts, &mut lets);
    assert_eq!(lets, (2..7).map(LocalId).collect::<Vec<_>>());
    let StmtKind::Assign { local, .. } = &f.body.stmts[3].kind else {
        panic!()
    };
    assert_eq!(*local, Some(LocalId(3)));
    let StmtKind::Assign { local, value, .. } = &f.body.stmts[4].kind else {
        panic!()
    };
    assert_eq!(*local, Some(LocalId(0)));
    assert_eq!(var_ref(value), VarRef::Local(LocalId(3)));
}

#[test]
fn calls_and_spawns_are_resolved() {
    let program = checked(
        "fn main() { let h = spawn w(1); print(w(2)); print(float(join(h))); }\n\
         fn w(x: int) -> int { return x; }",
    );
    let stmts = &program.funcs[0].body.stmts;
    let StmtKind::Let { init, .. } = &stmts[0].kind else {
        panic!()
    };
    assert!(matches!(init.kind, ExprKind::Spawn { func: Some(1), .. }));
    assert_eq!(init.ty, Some(Type::Int));
    let StmtKind::Expr(print) = &stmts[1].kind else {
        panic!()
    };
    assert_eq!(print.ty, None);
    let ExprKind::Call { callee, args, .. } = &print.kind else {
        panic!()
    };
    assert_eq!(*callee, Callee::Builtin(crate::lang::ast::Builtin::Print));
    assert!(matches!(
        args[0].kind,
        ExprKind::Call {
            callee: Callee::Func(1),
            ..
        }
    ));
    assert_eq!(args[0].ty, Some(Type::Int));
}

#[test]
fn errors_do_not_cascade() {
    assert_eq!(
        body_errors("let a = b + 1; let c = a * 2.0; print(a);"),
        one(2, 9, "unknown variable 'b'")
    );
    assert_eq!(
        body_errors("let a = -(1 + 1.0) < 3;"),
        one(2, 13, "operator '+' cannot be applied to int and float")
    );
    assert_eq!(
        body_errors("let a = zz(1.0 + 1); a[0] = 1;"),
        [
            "2:9: unknown function 'zz'",
            "2:16: operator '+' cannot be applied to float and int",
        ]
    );
    assert_eq!(
        body_errors("let a: int = nothing();"),
        one(2, 14, "'nothing' returns nothing and has no value")
    );
    assert_eq!(
        body_errors("if nothing() { }"),
        one(2, 4, "'nothing' returns nothing and has no value")
    );
}

#[test]
fn many_errors_are_capped() {
    let body = "let a: int = 1.0;\n".repeat(1000);
    assert_eq!(
        body_errors(&body).len(),
        crate::lang::lexer::DIAGNOSTIC_LIMIT
    );
}
