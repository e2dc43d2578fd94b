//! Module images through the command: `tierjit build` writes one that
//! `tierjit run` maps and runs in every tier, and a damaged one, flipped
//! at any byte or cut at any length, is refused with exit status 1 and one
//! clear line, never a crash. (Every corpus program also runs from its
//! image: the `image` tier of `tests/programs.rs`.)

mod common;

use common::run;
use std::path::PathBuf;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tierjit-images-{}-{name}", std::process::id()))
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_built_image_runs_in_every_tier_as_its_source_does() {
    let image = temp("fib.tjm");
    assert_eq!(
        run(&["build", "benches/tj/fib.tj", "-o", path(&image)]).0,
        0
    );
    for tier in ["interp", "baseline", "opt", "auto"] {
        let from_source = run(&["run", "--tier", tier, "benches/tj/fib.tj", "24"]);
        let from_image = run(&["run", "--tier", tier, path(&image), "24"]);
        assert_eq!(from_image, from_source, "{tier}");
        assert_eq!(from_image.1, "46368\n");
    }
    std::fs::remove_file(&image).unwrap();
}

#[test]
fn a_damaged_image_is_refused_with_status_1_at_every_byte_and_length() {
    let source = temp("small.tj");
    std::fs::write(
        &source,
        "fn twice(x: int) -> int { return 2 * x; }\nfn main() { print(twice(21)); }\n",
    )
    .unwrap();
    let image = temp("small.tjm");
    assert_eq!(run(&["build", path(&source), "-o", path(&image)]).0, 0);
    let good = std::fs::read(&image).unwrap();
    assert_eq!(
        run(&["run", path(&image)]),
        (0, "42\n".into(), String::new())
    );
    let bad = temp("bad.tjm");
    let refused = |bytes: &[u8], what: &str| {
        std::fs::write(&bad, bytes).unwrap();
        let (status, stdout, stderr) = run(&["run", path(&bad)]);
        assert_eq!((status, stdout.as_str()), (1, ""), "{what}: {stderr}");
        stderr
    };
    // Past the magic, the file is an image and one line says what is wrong
    // with it; a damaged magic makes it tj source, which does not compile.
    let one_line = |stderr: String, what: &str| {
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.contains(": bad module image: "), "{what}: {stderr}");
    };
    for at in 0..good.len() {
        let mut flipped = good.clone();
        flipped[at] ^= 0x20;
        let what = format!("flip at {at}");
        let stderr = refused(&flipped, &what);
        if at >= 8 {
            one_line(stderr, &what);
        }
    }
    for len in 0..good.len() {
        let what = format!("cut at {len}");
        let stderr = refused(&good[..len], &what);
        if len >= 8 {
            one_line(stderr, &what);
        }
    }
    for p in [source, image, bad] {
        std::fs::remove_file(p).unwrap();
    }
}
