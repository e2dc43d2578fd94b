//! The `tierjit` command; see `tierjit --help`.

fn main() {
    // Before any thread exists, when it costs microseconds (call_sites.rs).
    tierjit::runtime::call_sites::register_sync_cores();
    std::process::exit(tierjit_cli::main());
}

#[path = "cli/mod.rs"]
mod tierjit_cli;
