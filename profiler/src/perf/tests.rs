use super::*;

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tierjit-perf-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn perf_map_lines_are_hex_start_size_name() {
    let dir = TempDir::new("map");
    let mut map = PerfMap::create_in(&dir.0).unwrap();
    map.add(0x7f00_0000_1000, 0x40, "fib [baseline]").unwrap();
    map.add(0x10, 255, "odd\nname").unwrap();
    assert_eq!(
        map.path(),
        dir.0.join(format!("perf-{}.map", std::process::id()))
    );
    let text = std::fs::read_to_string(map.path()).unwrap();
    assert_eq!(text, "7f0000001000 40 fib [baseline]\n10 ff odd name\n");
}

#[test]
fn perf_map_create_empties_an_old_map() {
    let dir = TempDir::new("map-reset");
    PerfMap::create_in(&dir.0)
        .unwrap()
        .add(1, 1, "old")
        .unwrap();
    let map = PerfMap::create_in(&dir.0).unwrap();
    assert_eq!(std::fs::read_to_string(map.path()).unwrap(), "");
}

#[test]
fn jitdump_header_and_two_code_loads_parse_back() {
    let dir = TempDir::new("jitdump");
    let mut dump = JitDump::create(&dir.0).unwrap();
    let (code_a, code_b) = ([0x55u8, 0x48, 0x89, 0xe5, 0xc3], [0xc3u8]);
    dump.code_load(0x7f00_0000_1000, &code_a, "fib [baseline]")
        .unwrap();
    dump.code_load(0x7f00_0000_2000, &code_b, "main").unwrap();
    let bytes = std::fs::read(dump.path()).unwrap();

    let pid = std::process::id();
    if cfg!(target_endian = "little") {
        assert_eq!(&bytes[..4], b"DTiJ", "magic 0x4A695444, little-endian");
    }
    assert_eq!(u32_at(&bytes, 0), JITDUMP_MAGIC);
    assert_eq!(u32_at(&bytes, 4), 1, "version");
    assert_eq!(u32_at(&bytes, 8), 40, "header size");
    assert_eq!(u32_at(&bytes, 12), ELF_MACHINE);
    assert_eq!(u32_at(&bytes, 20), pid);
    let created = u64_at(&bytes, 24);
    assert_eq!(u64_at(&bytes, 32), 0, "flags");

    let first = 40;
    let first_size = 56 + "fib [baseline]".len() + 1 + code_a.len();
    let second = first + first_size;
    let second_size = 56 + "main".len() + 1 + code_b.len();
    assert_eq!(bytes.len(), second + second_size);
    for (at, size, addr, code, index, name) in [
        (
            first,
            first_size,
            0x7f00_0000_1000,
            &code_a[..],
            0,
            "fib [baseline]",
        ),
        (
            second,
            second_size,
            0x7f00_0000_2000,
            &code_b[..],
            1,
            "main",
        ),
    ] {
        assert_eq!(u32_at(&bytes, at), JIT_CODE_LOAD);
        assert_eq!(u32_at(&bytes, at + 4) as usize, size);
        assert!(
            u64_at(&bytes, at + 8) >= created,
            "timestamps are monotonic"
        );
        assert_eq!(u32_at(&bytes, at + 16), pid);
        assert_ne!(u32_at(&bytes, at + 20), 0, "tid");
        assert_eq!(u64_at(&bytes, at + 24), addr, "vma");
        assert_eq!(u64_at(&bytes, at + 32), addr, "code_addr");
        assert_eq!(u64_at(&bytes, at + 40), code.len() as u64);
        assert_eq!(u64_at(&bytes, at + 48), index);
        let name_end = at + 56 + name.len();
        assert_eq!(&bytes[at + 56..name_end], name.as_bytes());
        assert_eq!(bytes[name_end], 0);
        assert_eq!(&bytes[name_end + 1..at + size], code);
    }
}

#[test]
fn jitdump_is_mapped_executable_while_open() {
    let dir = TempDir::new("jitdump-mmap");
    let dump = JitDump::create(&dir.0).unwrap();
    let path = dump.path().to_str().unwrap().to_string();
    let mapped = |path: &str| {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .any(|l| l.ends_with(path) && l.split_whitespace().nth(1) == Some("r-xp"))
    };
    assert!(mapped(&path), "{path} is not mapped r-xp");
    drop(dump);
    assert!(!mapped(&path));
}

#[test]
fn jitdump_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<JitDump>();
    shareable::<PerfMap>();
}
