use super::*;
use crate::testdata::{frame, rich, sample};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn bytes_of(profile: &Profile) -> Vec<u8> {
    to_bytes(profile).expect("writing to a Vec cannot fail")
}

fn message(bytes: &[u8]) -> String {
    read(bytes)
        .expect_err("the file should be rejected")
        .to_string()
}

#[test]
fn rich_profile_round_trips_exactly() {
    let profile = rich();
    let bytes = bytes_of(&profile);
    assert_eq!(read(&bytes), Ok(profile.clone()));
    // And the bytes are a fixed point: reading then writing changes nothing.
    assert_eq!(bytes_of(&read(&bytes).unwrap()), bytes);
}

#[test]
fn empty_profile_round_trips() {
    let profile = Profile::default();
    let bytes = bytes_of(&profile);
    assert_eq!(&bytes[..6], b"TJPROF");
    assert_eq!(read(&bytes), Ok(profile));
}

#[test]
fn file_starts_with_magic_version_and_header_section() {
    let bytes = bytes_of(&Profile {
        program: "a".into(),
        duration_ns: 300,
        ..Profile::default()
    });
    // magic, version 5 (LE), tag 1, length 5, "a", 300 = ac 02, rate 0.
    assert_eq!(
        bytes[..14],
        [b'T', b'J', b'P', b'R', b'O', b'F', 5, 0, 1, 5, 1, b'a', 0xac, 0x02]
    );
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = bytes_of(&rich());
    for len in 0..bytes.len() {
        assert!(
            read(&bytes[..len]).is_err(),
            "a file cut to {len} bytes was accepted"
        );
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let bytes = bytes_of(&rich());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rejected = 0;
    for _ in 0..5_000 {
        let mut corrupt = bytes.clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(corrupt.len());
            corrupt[at] ^= 1 + rng.below(255) as u8;
        }
        if read(&corrupt).is_err() {
            rejected += 1;
        }
    }
    assert!(
        rejected > 1_000,
        "only {rejected} of 5000 corruptions were noticed"
    );
}

#[test]
fn random_garbage_after_the_preamble_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let mut bytes = b"TJPROF\x01\x00".to_vec();
        let len = rng.below(64);
        bytes.extend((0..len).map(|_| rng.next() as u8));
        let _ = read(&bytes);
    }
}

#[test]
fn bad_magic_is_named() {
    assert_eq!(
        message(b"\x7fELF\x02\x01\x01\x00"),
        "not a tierjit profile (bad magic)"
    );
    assert_eq!(
        message(b""),
        "truncated: the 8-byte magic and version at byte 0 ends past the end of the file"
    );
    assert_eq!(message(b"TJP"), message(b""));
}

#[test]
fn other_versions_are_refused() {
    let mut bytes = bytes_of(&rich());
    bytes[6] = 7;
    assert_eq!(
        message(&bytes),
        "unsupported version 7 (this tierjit reads versions 1 to 5)"
    );
}

#[test]
fn function_id_out_of_range_is_named_with_its_sample() {
    let mut profile = Profile {
        functions: vec!["a".into(), "b".into(), "c".into()],
        samples: vec![sample(0, 1, vec![frame(0, Tier::Interp, 1)]); 3],
        ..Profile::default()
    };
    let good = bytes_of(&profile);
    profile.samples[1].frames[0].func = 2;
    let mut bad = bytes_of(&profile);
    // Patch id 2 to 9: the only byte that differs between the two files.
    let at = (0..bad.len()).find(|&i| bad[i] != good[i]).unwrap();
    bad[at] = 9;
    let error = read(&bad).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("byte {at}: sample 2 of 3: function id 9 out of range (3 functions)")
    );
    assert_eq!(error.offset(), at);
}

#[test]
fn absurd_counts_are_rejected_before_allocating() {
    let mut bytes = b"TJPROF\x01\x00".to_vec();
    bytes.extend([1, 3, 0, 0, 0]); // header: "", 0 ns, 0 Hz
                                   // functions: a count of 2^63 in a 10-byte section.
    bytes.extend([
        2, 10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
    ]);
    assert_eq!(
        message(&bytes),
        "byte 15: the function name count: count 9223372036854775808 cannot fit in the 0 bytes left in the functions section"
    );
}

#[test]
fn truncated_section_names_itself() {
    let bytes = bytes_of(&rich());
    let cut = &bytes[..bytes.len() - 1];
    let text = message(cut);
    assert!(text.starts_with("truncated: the stats section"), "{text}");
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut bytes = bytes_of(&rich());
    bytes.push(0);
    assert!(message(&bytes).ends_with("1 unexpected bytes after the last section"));
}

#[test]
fn overlong_varints_are_an_error() {
    let mut bytes = b"TJPROF\x01\x00".to_vec();
    // header: "" then an 11-byte varint duration.
    bytes.extend([1, 13, 0]);
    bytes.extend([0xff; 10]);
    bytes.extend([0x01, 0]);
    assert_eq!(
        message(&bytes),
        "byte 11: the header: varint does not fit in 64 bits"
    );
}

#[test]
fn writing_a_dangling_function_id_is_refused() {
    let profile = Profile {
        samples: vec![sample(0, 1, vec![frame(0, Tier::Interp, 1)])],
        ..Profile::default()
    };
    let error = to_bytes(&profile).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        error.to_string(),
        "function id 0 out of range (0 functions)"
    );
}

/// The profile whose bytes `docs/profile-format.md` shows.
fn documented_example() -> Profile {
    Profile {
        program: "p.tj".into(),
        duration_ns: 1_000,
        functions: vec!["main".into(), "fib".into()],
        samples: vec![sample(
            500,
            1_000_000,
            vec![frame(1, Tier::Optimized, 3), frame(0, Tier::Interp, 7)],
        )],
        events: vec![
            TierEvent {
                time_ns: 400,
                func: 1,
                kind: TierEventKind::Compile {
                    from: Tier::Interp,
                    to: Tier::Optimized,
                    duration_ns: 120_000,
                    queue_ns: 0,
                },
            },
            TierEvent {
                time_ns: 600,
                func: 0,
                kind: TierEventKind::OsrEntry {
                    pc: 12,
                    from: Tier::Interp,
                    to: Tier::Baseline,
                },
            },
        ],
        stats: SamplerStats {
            requested_hz: 1000,
            samples: 1,
            dropped: 0,
            threads: 1,
            cpu_ns: 1_000_000,
            handler_ns: vec![(700, 1)],
            engine: "sampler-thread".into(),
            idle_ticks: 3,
            sample_cost_ns: 8_000,
            cost_cap_hz: 12_500,
            sampler_thread_cap_hz: 4_000,
            share_percent: 10,
            sampler_thread_cpu_ns: 2_000_000,
        },
    }
}

/// The bytes listed in the doc's `hexdump` block: on each line, the hex
/// pairs before the first double space.
fn documented_bytes() -> Vec<u8> {
    let doc = include_str!("../../../docs/profile-format.md");
    let block = doc.split("```hexdump\n").nth(1).expect("a hexdump block");
    let block = &block[..block.find("```").expect("the block ends")];
    block
        .lines()
        .flat_map(|line| line.split("  ").next().unwrap_or("").split_whitespace())
        .map(|pair| u8::from_str_radix(pair, 16).expect("a hex byte"))
        .collect()
}

#[test]
fn docs_example_matches_the_writer() {
    let bytes = bytes_of(&documented_example());
    assert_eq!(documented_bytes(), bytes, "docs/profile-format.md is stale");
    assert_eq!(bytes.len(), 105);
    let cut = &bytes[..bytes.len() - 1];
    assert_eq!(
        message(cut),
        "truncated: the stats section (36 bytes) at byte 67 ends past the end of the file"
    );
    assert_eq!(read(&bytes), Ok(documented_example()));
}

/// `profile` as a file of an older `version` reads: without what that
/// version cannot hold.
fn as_read_from_version(mut profile: Profile, version: u16) -> Profile {
    if version < 5 {
        profile
            .events
            .retain(|e| !matches!(e.kind, TierEventKind::CacheLoad { .. }));
    }
    if version < 4 {
        profile
            .events
            .retain(|e| !matches!(e.kind, TierEventKind::CompileFailed { .. }));
    }
    if version < 4 {
        let stats = &mut profile.stats;
        stats.sample_cost_ns = 0;
        stats.cost_cap_hz = 0;
        stats.sampler_thread_cap_hz = 0;
        stats.share_percent = 0;
        stats.sampler_thread_cpu_ns = 0;
    }
    if version < 3 {
        profile.events.retain(|e| !is_osr_event(e));
    }
    if version < 2 {
        profile.stats.engine.clear();
        profile.stats.idle_ticks = 0;
    }
    profile
}

#[test]
fn version_1_files_still_read_without_engine_and_idle_ticks() {
    let profile = rich();
    let mut bytes = Vec::new();
    write_version(&profile, &mut bytes, 1).unwrap();
    assert_eq!(bytes[6..8], [1, 0]);
    let old = read(&bytes).unwrap();
    assert_eq!(old.stats.engine, "");
    assert_eq!(old.stats.idle_ticks, 0);
    assert_eq!(old, as_read_from_version(profile, 1));
    // A version 2 body in a file that says version 1 has bytes left over.
    let mut mislabelled = Vec::new();
    write_version(&rich(), &mut mislabelled, 2).unwrap();
    mislabelled[6] = 1;
    assert!(read(&mislabelled).is_err());
}

#[test]
fn version_3_files_still_read_without_the_caps() {
    let profile = rich();
    let mut bytes = Vec::new();
    write_version(&profile, &mut bytes, 3).unwrap();
    assert_eq!(bytes[6..8], [3, 0]);
    let old = read(&bytes).unwrap();
    assert_eq!((old.stats.cap_hz(), old.stats.cap_summary()), (0, None));
    assert_eq!(old, as_read_from_version(profile, 3));
    // A version 4 body in a file that says version 3 has bytes left over.
    let mut mislabelled = bytes_of(&rich());
    mislabelled[6] = 3;
    assert!(read(&mislabelled).is_err());
}

#[test]
fn version_2_files_still_read_without_osr_events() {
    let profile = rich();
    let mut bytes = Vec::new();
    write_version(&profile, &mut bytes, 2).unwrap();
    assert_eq!(bytes[6..8], [2, 0]);
    let old = read(&bytes).unwrap();
    assert!(!old.events.iter().any(is_osr_event));
    assert_eq!(old, as_read_from_version(profile, 2));
}

/// A profile of one function with one event, as bytes of `version`, and
/// the offset of the event's kind byte.
fn one_event_file(kind: TierEventKind, version: u16) -> (Vec<u8>, usize) {
    let profile = Profile {
        functions: vec!["f".into()],
        events: vec![TierEvent {
            time_ns: 5,
            func: 0,
            kind,
        }],
        ..Profile::default()
    };
    let mut bytes = Vec::new();
    write_version(&profile, &mut bytes, version).unwrap();
    // The events section: tag 4, length, count 1, time 5, function 0,
    // then the kind byte.
    let events = (0..bytes.len())
        .find(|&i| bytes[i] == 4 && bytes.get(i + 2..i + 5) == Some(&[1, 5, 0]))
        .expect("the events section");
    (bytes, events + 5)
}

#[test]
fn osr_events_in_a_version_2_file_are_an_error() {
    let entry = TierEventKind::OsrEntry {
        pc: 7,
        from: Tier::Interp,
        to: Tier::Optimized,
    };
    let (mut bytes, kind_at) = one_event_file(entry, 3);
    assert_eq!(bytes[kind_at], 4);
    assert_eq!(read(&bytes).unwrap().events[0].kind, entry);
    bytes[6] = 2;
    assert_eq!(
        message(&bytes),
        format!(
            "byte {kind_at}: tier event 1 of 1: event kind 4 is not compile (0), install (1) \
             or retire (2) (OSR events need version 3)"
        )
    );
}

#[test]
fn unknown_event_kinds_and_bad_osr_fields_are_named() {
    let compile = TierEventKind::OsrCompile {
        pc: 3,
        duration_ns: 1,
        queue_ns: 2,
    };
    let (bytes, kind_at) = one_event_file(compile, 3);
    assert_eq!(bytes[kind_at], 3);
    let mut unknown = bytes.clone();
    unknown[kind_at] = 5;
    assert_eq!(
        message(&unknown),
        format!(
            "byte {kind_at}: tier event 1 of 1: event kind 5 is not compile (0), install (1), \
             retire (2), osr compile (3) or osr entry (4) (failed compiles need version 4)"
        )
    );
    let (mut unknown, kind_at) = one_event_file(compile, 4);
    unknown[kind_at] = 6;
    assert_eq!(
        message(&unknown),
        format!(
            "byte {kind_at}: tier event 1 of 1: event kind 6 is not compile (0), install (1), \
             retire (2), osr compile (3), osr entry (4) or compile failed (5) (cache loads need \
             version 5)"
        )
    );
    let (mut unknown, kind_at) = one_event_file(compile, 5);
    unknown[kind_at] = 7;
    assert_eq!(
        message(&unknown),
        format!(
            "byte {kind_at}: tier event 1 of 1: event kind 7 is not compile (0), install (1), \
             retire (2), osr compile (3), osr entry (4), compile failed (5) or cache load (6)"
        )
    );
    let entry = TierEventKind::OsrEntry {
        pc: 3,
        from: Tier::Interp,
        to: Tier::Baseline,
    };
    let (mut bad_tier, kind_at) = one_event_file(entry, 3);
    bad_tier[kind_at + 3] = 9; // kind, pc 3, from, to
    assert_eq!(
        message(&bad_tier),
        format!(
            "byte {}: tier event 1 of 1: tier code 9 is not a tier (0 to 3)",
            kind_at + 3
        )
    );
    // A pc over 32 bits: the body grows, so build the section by hand.
    let mut body = vec![1, 5, 0, 3];
    body.extend([0x80, 0x80, 0x80, 0x80, 0x10, 1, 2]); // pc 2^32
    let mut wide = bytes[..kind_at - 5].to_vec();
    wide.extend([4, body.len() as u8]);
    wide.extend(&body);
    let stats_at = kind_at + bytes[kind_at - 4] as usize - 3;
    wide.extend(&bytes[stats_at..]);
    assert_eq!(
        message(&wide),
        format!(
            "byte {}: tier event 1 of 1: loop header pc 4294967296 does not fit in 32 bits",
            kind_at + 1
        )
    );
}

#[test]
fn every_event_kind_round_trips_in_every_version_that_has_it() {
    for version in OLDEST_VERSION..=VERSION {
        let profile = rich();
        let mut bytes = Vec::new();
        write_version(&profile, &mut bytes, version).unwrap();
        assert_eq!(
            read(&bytes),
            Ok(as_read_from_version(profile, version)),
            "version {version}"
        );
    }
}
