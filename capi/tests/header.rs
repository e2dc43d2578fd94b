//! include/tierjit.h is what cbindgen makes of capi/src now.
//!
//! `TIERJIT_BLESS=1 cargo test -p tierjit-capi --test header` rewrites it.

use std::path::Path;

#[test]
fn the_header_is_current() {
    let capi = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(capi.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(capi)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = capi.join("../include/tierjit.h");
    if std::env::var_os("TIERJIT_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("writes include/tierjit.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/tierjit.h is stale: rerun with TIERJIT_BLESS=1 to rewrite it\n\
         first difference at line {}",
        first_difference(&committed, &generated)
    );
}

/// The 1-based number of the first line where `a` and `b` differ.
fn first_difference(a: &str, b: &str) -> usize {
    let mut lines = a.lines().zip(b.lines());
    lines
        .position(|(x, y)| x != y)
        .unwrap_or(a.lines().count().min(b.lines().count()))
        + 1
}
