//! The `tierjit` command; see `tierjit --help`.

fn main() {
    std::process::exit(tierjit_cli::main());
}

#[path = "cli/mod.rs"]
mod tierjit_cli;
