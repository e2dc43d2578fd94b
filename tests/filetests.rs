//! The optimizer's filetests: every file in `tiers/filetests/` runs some
//! passes over one function and compares the IR they leave with the
//! expectation at the end of the file (format in
//! `tiers/filetests/README.md`). `TIERJIT_BLESS=1 cargo test --test
//! filetests` rewrites the expectations from what the passes do now;
//! review the diff before committing it.
//!
//! The IR is verified before the first pass (of an `.ir` file) and after
//! every pass; a verifier error fails the test and is never blessed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tierjit::tiers::bytecode::Module;
use tierjit::tiers::opt::{self, ir, PassContext};

/// The comment syntax of a filetest: `;` for IR, `//` for tj source.
#[derive(Clone, Copy)]
enum Kind {
    Ir,
    Tj,
}

impl Kind {
    fn of(path: &Path) -> Option<Kind> {
        match path.extension()?.to_str()? {
            "ir" => Some(Kind::Ir),
            "tj" => Some(Kind::Tj),
            _ => None,
        }
    }

    fn comment(self) -> &'static str {
        match self {
            Kind::Ir => ";",
            Kind::Tj => "//",
        }
    }

    fn marker(self) -> String {
        format!("{} == expect", self.comment())
    }
}

/// The directory of the filetests.
fn filetest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tiers/filetests")
}

/// The value of the `; NAME: VALUE` (or `// NAME: VALUE`) header line.
fn header<'a>(text: &'a str, kind: Kind, name: &str) -> Option<&'a str> {
    let prefix = format!("{} {name}:", kind.comment());
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(str::trim)
}

/// The passes a file asks for, in order (`pass: a` or `passes: a, b`).
fn passes_of(input: &str, kind: Kind) -> Result<Vec<&'static opt::Pass>, String> {
    let list = header(input, kind, "passes")
        .or_else(|| header(input, kind, "pass"))
        .ok_or("no `passes:` line")?;
    list.split(',')
        .map(|name| {
            let name = name.trim();
            opt::pass_by_name(name).ok_or_else(|| {
                let names: Vec<_> = opt::PASSES.iter().map(|p| p.name).collect();
                format!("no pass named `{name}` (passes: {})", names.join(", "))
            })
        })
        .collect()
}

/// The function a file starts from, and the module its calls refer to:
/// an `.ir` file's function is parsed (calls have no callees to read, so
/// `inline` needs a `.tj` file); a `.tj` file's `fn:` function is built
/// from the bytecode the front end makes.
fn input_of(input: &str, kind: Kind) -> Result<(ir::Func, Module), String> {
    match kind {
        Kind::Ir => {
            let f = ir::parse::parse_func(input).map_err(|e| format!("parse: {e}"))?;
            ir::verify::verify(&f).map_err(|e| format!("input does not verify: {e}"))?;
            Ok((f, Module::default()))
        }
        Kind::Tj => {
            let module = tierjit::lang::compile(input.as_bytes())
                .map_err(|e| format!("does not compile: {e:?}"))?;
            let name = header(input, kind, "fn").ok_or("no `// fn: NAME` line")?;
            let func = module.find(name).ok_or(format!("no function `{name}`"))?;
            let f =
                opt::build::build(&module, func, None).map_err(|e| format!("build: {}", e.0))?;
            Ok((f, module))
        }
    }
}

/// Runs the file's passes; gives the IR text they leave.
fn run_file(input: &str, kind: Kind) -> Result<String, String> {
    let passes = passes_of(input, kind)?;
    let (mut f, module) = input_of(input, kind)?;
    if matches!(kind, Kind::Ir) && passes.iter().any(|p| p.name == "inline") {
        return Err("inline reads callee bytecode: write its test as a .tj file".into());
    }
    let heat = HashMap::new();
    let cx = PassContext {
        module: &module,
        call_heat: &heat,
        pc_heat: &heat,
    };
    for pass in passes {
        (pass.run)(&mut f, &cx);
        ir::verify::verify(&f).map_err(|e| {
            format!(
                "after {}: {e}\n{}",
                pass.name,
                ir::print::func_to_string(&f)
            )
        })?;
    }
    Ok(ir::print::func_to_string(&f))
}

/// The expectation block's text, unquoted.
fn expected_of(block: &str, kind: Kind) -> String {
    let c = kind.comment();
    let mut out = String::new();
    for line in block.lines().skip(1) {
        let line = line.trim_end();
        let text = line
            .strip_prefix(c)
            .map(|rest| rest.strip_prefix(' ').unwrap_or(rest))
            .unwrap_or(line);
        out.push_str(text);
        out.push('\n');
    }
    out
}

fn render_expected(ir: &str, kind: Kind) -> String {
    let c = kind.comment();
    let mut out = kind.marker() + "\n";
    for line in ir.lines() {
        out.push_str(&format!("{c} {line}\n"));
    }
    out
}

#[test]
fn filetests() {
    let bless = std::env::var_os("TIERJIT_BLESS").is_some_and(|v| v == "1");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(filetest_dir())
        .expect("tiers/filetests exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| Kind::of(p).is_some())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no filetests found");
    let mut failures = Vec::new();
    for path in &paths {
        let kind = Kind::of(path).expect("filtered");
        let text = std::fs::read_to_string(path).expect("readable filetest");
        let marker = kind.marker();
        let (input, block) = match text.find(&marker) {
            Some(at) => text.split_at(at),
            None => (text.as_str(), ""),
        };
        let shown = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(path);
        let actual = match run_file(input, kind) {
            Ok(ir) => ir,
            Err(e) => {
                failures.push(format!("{}: {e}", shown.display()));
                continue;
            }
        };
        if bless {
            let blessed = format!("{}{}", input, render_expected(&actual, kind));
            if blessed != text {
                std::fs::write(path, blessed).expect("writable filetest");
            }
        } else if block.is_empty() || expected_of(block, kind) != actual {
            failures.push(format!(
                "{}: the IR differs from the expectation (TIERJIT_BLESS=1 rewrites it)\n--- expected\n{}--- actual\n{actual}",
                shown.display(),
                expected_of(block, kind),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} filetests failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}

/// Every pass has a filetest naming it.
#[test]
fn every_pass_has_a_filetest() {
    let mut covered = std::collections::HashSet::new();
    for entry in std::fs::read_dir(filetest_dir()).expect("tiers/filetests exists") {
        let path = entry.expect("directory entry").path();
        let Some(kind) = Kind::of(&path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("readable filetest");
        if let Ok(passes) = passes_of(&text, kind) {
            covered.extend(passes.iter().map(|p| p.name));
        }
    }
    for pass in opt::PASSES {
        assert!(
            covered.contains(pass.name),
            "no filetest runs pass `{}`",
            pass.name
        );
    }
}
