//! `tierjit dump`: a program's bytecode, or with `--ssa` the optimizer's IR
//! of each function as built or after a named pass.
//!
//! The stage names are the optimizer's own table ([`opt::stage_names`],
//! which `--time-passes` prints too); only the stages that produce IR
//! (`build` and the passes) can be dumped. `--after all` prints the IR
//! after each of them in turn. Every printed function is headed by a `;
//! FUNCTION after STAGE` comment line, which the IR parser skips, so one
//! function's dump can be cut out and fed to a filetest as is.
//!
//! A function the optimizer fails on (over its size budget, or a verifier
//! error after some pass: the IR is verified after every stage here) gets
//! what was dumped before the failure and one `error:` line on stderr;
//! the exit status is then 1.

use std::io::Write;

use tierjit::tiers::bytecode::{text, FuncId, Module};
use tierjit::tiers::opt;

use super::{load, EXIT_COMPILE_ERROR, EXIT_USAGE};

/// Options of `tierjit dump`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// The program, a .tj file.
    file: String,
    /// Print the optimizer's SSA IR instead of the bytecode.
    #[arg(long)]
    ssa: bool,
    /// With --ssa: print the IR after this stage (`build`: as built; a
    /// pass name; `all`: after build and after every pass).
    #[arg(long, value_name = "STAGE", default_value = "build", requires = "ssa")]
    after: String,
    /// With --ssa: run only these passes (comma separated; `none` for
    /// none), as `run --opt-passes` does.
    #[arg(long, value_delimiter = ',', value_name = "PASS,...", requires = "ssa")]
    passes: Option<Vec<String>>,
    /// Only this function.
    #[arg(long = "fn", value_name = "NAME")]
    func: Option<String>,
    /// With --ssa and --fn: the code compiled for entry at this loop
    /// header (on-stack replacement) instead of the function's start.
    #[arg(long, value_name = "PC", requires_all = ["ssa", "func"])]
    osr_pc: Option<u32>,
}

/// Runs `tierjit dump`; gives the exit status.
pub fn run(args: DumpArgs) -> i32 {
    if args.ssa {
        if let Err(message) = check_stage_names(&args) {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            return EXIT_USAGE;
        }
    }
    let module = match load(&args.file) {
        Ok(module) => module,
        Err(status) => return status,
    };
    let funcs: Vec<FuncId> = match &args.func {
        None => (0..module.funcs.len() as u32).map(FuncId).collect(),
        Some(name) => match module.find(name) {
            Some(func) => vec![func],
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: {} has no function named `{name}`",
                    args.file
                );
                return EXIT_COMPILE_ERROR;
            }
        },
    };
    let mut stdout = std::io::stdout().lock();
    if !args.ssa {
        let listing = match args.func {
            None => text::module_to_string(&module),
            Some(_) => text::function_to_string(&module, module.func(funcs[0])),
        };
        let _ = stdout.write_all(listing.as_bytes());
        return 0;
    }
    let mut status = 0;
    for func in funcs {
        let (listing, error) =
            dump_ssa(&module, func, &args.after, args.passes.clone(), args.osr_pc);
        let _ = stdout.write_all(listing.as_bytes());
        if let Some(e) = error {
            let _ = stdout.flush();
            let name = &module.func(func).name;
            let _ = writeln!(std::io::stderr(), "error: {name}: {e}");
            status = EXIT_COMPILE_ERROR;
        }
    }
    status
}

/// The stages whose IR `--after` may ask for: `build` and the passes.
fn ir_stages() -> Vec<&'static str> {
    let mut stages = vec!["build"];
    stages.extend(opt::PASSES.iter().map(|p| p.name));
    stages
}

/// Rejects an `--after` or `--passes` name the optimizer does not know.
fn check_stage_names(args: &DumpArgs) -> Result<(), String> {
    let stages = ir_stages();
    let valid = || format!("{}, all", stages.join(", "));
    if args.after != "all" && !stages.contains(&args.after.as_str()) {
        return Err(if opt::stage_names().contains(&args.after.as_str()) {
            format!(
                "--after {}: that stage makes no IR; IR stages: {}",
                args.after,
                valid()
            )
        } else {
            format!(
                "--after {}: no such stage; valid stages: {}",
                args.after,
                valid()
            )
        });
    }
    for pass in args.passes.iter().flatten() {
        if pass != "none" && opt::pass_by_name(pass).is_none() {
            return Err(format!(
                "--passes: no pass named `{pass}`; passes: {}",
                stages[1..].join(", ")
            ));
        }
    }
    if let Some(passes) = &args.passes {
        let after = args.after.as_str();
        if after != "all" && after != "build" && !passes.iter().any(|p| p == after) {
            return Err(format!("--after {after}: --passes leaves that pass out"));
        }
    }
    Ok(())
}

/// The IR of `func` after stage `after` (or every IR stage for `all`),
/// each headed by a comment; and the optimizer's error if it failed.
fn dump_ssa(
    module: &Module,
    func: FuncId,
    after: &str,
    passes: Option<Vec<String>>,
    osr_pc: Option<u32>,
) -> (String, Option<opt::OptError>) {
    let stages: Vec<&str> = match after {
        "all" => ir_stages()
            .into_iter()
            .filter(|s| *s == "build" || passes.as_ref().is_none_or(|p| p.iter().any(|p| p == s)))
            .collect(),
        stage => vec![stage],
    };
    let options = opt::Options {
        osr_pc,
        verify: Some(true),
        dump_after: Some(after.to_string()),
        passes,
        ..opt::Options::default()
    };
    let mut report = opt::Report::default();
    let result = opt::compile_with_report(module, func, &options, &mut report);
    let name = &module.func(func).name;
    let mut out = String::new();
    for (stage, ir) in stages.iter().zip(&report.dumps) {
        out.push_str(&format!("; {name} after {stage}\n{ir}\n"));
    }
    (out, result.err())
}
