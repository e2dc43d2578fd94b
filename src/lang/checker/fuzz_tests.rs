//! Robustness of the whole front end: no panic, no hang, no stack overflow
//! on any input. Everything runs on a thread with a 2 MB stack (the
//! default for `cargo test` threads, stated explicitly so that the tests do
//! not depend on it) in unoptimized builds.

use super::check;
use crate::lang::parser::{parse, MAX_NESTING};

const TEST_STACK: usize = 2 << 20;

/// Runs `body` on a thread with a [`TEST_STACK`] stack.
fn on_small_stack(body: impl FnOnce() + Send + 'static) {
    let thread = std::thread::Builder::new()
        .stack_size(TEST_STACK)
        .spawn(body)
        .expect("spawn");
    thread.join().expect("the front end panicked");
}

/// Parses and checks `src` (checking also after syntax errors, which the
/// driver does not do, to show the checker copes with any parsed tree).
/// Returns the number of errors.
fn front_end(src: &[u8]) -> usize {
    let (mut program, syntax) = parse(src);
    let semantic = check(&mut program);
    syntax.len() + semantic.len()
}

/// A small xorshift generator: deterministic, no dependencies.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: [&str; 3] = [
    "// naive Fibonacci\nfn fib(n: int) -> int {\n    if n < 2 { return n; }\n    \
     return fib(n - 1) + fib(n - 2);\n}\n\nfn main() {\n    let n = 30;\n    \
     if argc() > 0 { n = arg(0); }\n    print(fib(n));\n}\n",
    "const N: int = 1_000;\nconst SCALE: float = 2.5e-3 * 4.0;\nconst ON: bool = N > 0x10 && !false;\n\
     fn fill(a: [float], v: float) { for i in 0..len(a) { a[i] = v * SCALE; } }\n\
     fn worker(c: [int], k: int,) -> int { let old = atomic_add(c, 0, k); return old; }\n\
     fn main() -> int {\n  let a = [0.0; N]; fill(a, 1.0);\n  let c = [0; 1];\n  \
     let h = spawn worker(c, 3); print(join(h));\n  let s = 0.0;\n  \
     for i in 0..N { s = s + a[i]; }\n  print(s); print(\"sum\\t\\\"done\\\"\\n\");\n  \
     return int(sqrt(s)) & 255;\n}\n",
    "fn classify(x: int) -> int {\n  if x < 0 { return -1; } else if x == 0 { return 0; } \
     else { return 1; }\n}\nfn main() {\n  let i = 0;\n  while true {\n    \
     if i >= 10 { break; }\n    i = i + 1;\n    if i % 2 == 0 { continue; }\n    \
     print(classify(i) + abs(-i) + min(i, 3) + max(i, 4) << 1 >> 1 | ~i ^ 5);\n    \
     print(float(i) / 2.0 != 1.5 || (i > 3) == true);\n    \
     let m = -9223372036854775808; print(m - 1); print(now_ns() > 0);\n  }\n}\n",
];

/// Bytes that make mutations likely to stay near valid tj.
const INTERESTING: &[u8] = b"(){}[];,:.=<>+-*/%&|^!~\"\\_0123456789xeE abfnlcwirtu\n\t\xff\xc3";

fn random_byte(rng: &mut XorShift) -> u8 {
    if rng.below(3) == 0 {
        rng.next() as u8
    } else {
        INTERESTING[rng.below(INTERESTING.len())]
    }
}

/// One random edit: flip, insert, delete or duplicate a span.
fn mutate(src: &mut Vec<u8>, rng: &mut XorShift) {
    let at = rng.below(src.len() + 1);
    match rng.below(4) {
        0 if at < src.len() => src[at] = random_byte(rng),
        1 => {
            let byte = random_byte(rng);
            src.insert(at, byte);
        }
        2 => {
            let end = (at + rng.below(16)).min(src.len());
            src.drain(at..end);
        }
        _ => {
            let end = (at + rng.below(64)).min(src.len());
            let span = src[at..end].to_vec();
            let to = rng.below(src.len() + 1);
            src.splice(to..to, span);
        }
    }
}

#[test]
fn seeds_are_valid_programs() {
    for seed in SEEDS {
        assert_eq!(front_end(seed.as_bytes()), 0, "{seed}");
    }
}

#[test]
fn random_inputs_and_mutations_never_panic() {
    on_small_stack(|| {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..5000 {
            let len = rng.below(200);
            let bytes: Vec<u8> = (0..len).map(|_| random_byte(&mut rng)).collect();
            front_end(&bytes);
        }
        for round in 0..20_000 {
            let mut src = SEEDS[round % SEEDS.len()].as_bytes().to_vec();
            for _ in 0..=rng.below(8) {
                mutate(&mut src, &mut rng);
            }
            front_end(&src);
        }
    });
}

/// Programs nested as deep as the parser allows, in every shape that
/// nests, must parse and check on a small stack; one level more is an
/// error, not a crash.
#[test]
fn deepest_nesting_of_every_shape() {
    type Shape = fn(usize) -> String;
    let shapes: [Shape; 11] = [
        |d| {
            format!(
                "fn main() {{ let x = {}1{}; }}",
                "(".repeat(d),
                ")".repeat(d)
            )
        },
        |d| format!("fn main() {{ let x = {}1; }}", "- ".repeat(d)),
        |d| format!("fn main() {{ let x = {}true; }}", "!".repeat(d)),
        |d| format!("fn main() {}{}", "{".repeat(d), "}".repeat(d)),
        |d| {
            format!(
                "fn main() {{ {} {} }}",
                "if true {".repeat(d),
                "}".repeat(d)
            )
        },
        |d| {
            format!(
                "fn main() {{ {} {} }}",
                "for i in 0..1 {".repeat(d),
                "}".repeat(d)
            )
        },
        |d| {
            format!(
                "fn main() {{ if false {{ }} {} }}",
                "else if false { }".repeat(d)
            )
        },
        |d| format!("fn main() {{ let x = 1{}; }}", " + 1".repeat(d)),
        |d| {
            let (open, close) = ("a[".repeat(d), "]".repeat(d));
            format!("fn main() {{ let a = [0; 1]; let x = {open}0{close}; }}")
        },
        |d| {
            let (open, close) = ("f(".repeat(d), ")".repeat(d));
            format!("fn f(x: int) -> int {{ return x; }}\nfn main() {{ f({open}0{close}); }}")
        },
        |d| {
            // Each level climbs through five precedence levels.
            let open = "1 | 2 ^ 3 & 4 << 5 + 6 * (".repeat(d);
            format!("fn main() {{ let x = {open}7{}; }}", ")".repeat(d))
        },
    ];
    on_small_stack(move || {
        for shape in shapes {
            let too_deep = (1..=MAX_NESTING + 1)
                .find(|&d| {
                    let (_, syntax) = parse(shape(d).as_bytes());
                    syntax.iter().any(|e| e.message == "nesting is too deep")
                })
                .expect("the limit is reached");
            let deepest = shape(too_deep - 1);
            assert_eq!(front_end(deepest.as_bytes()), 0, "{deepest}");
            let (_, syntax) = parse(shape(too_deep).as_bytes());
            assert_eq!(syntax.len(), 1);
        }
    });
}

/// Ten megabytes of `unit` inside a function cost at most a few errors and
/// linear time; a megabyte of it at the top level too.
fn flood(unit: &'static str) {
    on_small_stack(move || {
        let body = unit.repeat((10 << 20) / unit.len());
        let src = format!("fn main() {{ let x = {body}");
        let (_, syntax) = parse(src.as_bytes());
        assert!(
            !syntax.is_empty() && syntax.len() <= 3,
            "{unit}: {syntax:?}"
        );
        let bare = unit.repeat((1 << 20) / unit.len());
        let errors = front_end(bare.as_bytes());
        assert!((1..=3).contains(&errors), "{unit}: {errors}");
    });
}

#[test]
fn ten_megabytes_of_parentheses_and_braces() {
    flood("(");
    flood("{");
}

#[test]
fn ten_megabytes_of_brackets_and_minus() {
    flood("[");
    flood("-");
}

#[test]
fn ten_megabytes_of_bangs() {
    flood("!");
}

#[test]
fn megabytes_of_other_floods() {
    for unit in ["- ", "a[", "f(", "1+", "x", "@", "\"", "0x", "1e", "é"] {
        on_small_stack(move || {
            let body = unit.repeat((1 << 20) / unit.len());
            let src = format!("fn main() {{ let x = {body}");
            assert!(front_end(src.as_bytes()) >= 1, "{unit}");
            assert!(front_end(body.as_bytes()) >= 1, "{unit}");
        });
    }
}

#[test]
fn huge_flat_inputs() {
    on_small_stack(|| {
        let long_name = "n".repeat(1 << 20);
        let src = format!(
            "fn main() {{ let {long_name} = 1; print({long_name}); print({long_name}x); }}"
        );
        let (mut program, syntax) = parse(src.as_bytes());
        assert!(syntax.is_empty());
        let errors = check(&mut program);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.len() < 100);
        let many_lets = format!(
            "fn main() {{ {} }}",
            "let a = 1; a = a + 1; ".repeat(100_000)
        );
        assert_eq!(front_end(many_lets.as_bytes()), 0);
        let many_consts: String = (0..50_000)
            .map(|i| format!("const C{i}: int = C{}+1;\n", i + 1))
            .collect();
        let src = format!("{many_consts}const C50000: int = 0;\nfn main() {{ print(C0); }}");
        let (mut program, syntax) = parse(src.as_bytes());
        assert!(syntax.is_empty());
        assert!(check(&mut program).is_empty());
        assert_eq!(
            program.consts[0].folded,
            Some(crate::lang::ast::ConstValue::Int(50_000))
        );
        let digits = format!("fn main() {{ print({}); }}", "1".repeat(5 << 20));
        assert_eq!(front_end(digits.as_bytes()), 1);
    });
}
