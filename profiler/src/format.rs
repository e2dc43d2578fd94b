//! The `.tjprof` file format: a [`Profile`] on disk.
//!
//! `docs/profile-format.md` describes it byte by byte. In short: the magic
//! `TJPROF`, a little-endian `u16` version (4; 1 to 3 still read), then
//! five sections in a fixed order (header, functions, samples, events,
//! stats), each a tag byte, a LEB128 byte length and a body of LEB128
//! varints, tier bytes and length-prefixed UTF-8 strings.
//!
//! Contract:
//! - [`write`] then [`read`] gives back an equal [`Profile`]. [`write`]
//!   refuses (with `InvalidInput`) a profile that [`read`] would reject:
//!   a frame or event naming a function id past [`Profile::functions`].
//! - [`read`] never panics and never trusts a count: every count is checked
//!   against the bytes left in its section before anything is allocated, so
//!   a corrupted file costs at most memory proportional to its size.
//! - Every error says what is wrong and at which byte ([`FormatError`]).

use std::fmt;
use std::io::{self, Write};

use crate::profile::{Frame, Profile, Sample, SamplerStats, Tier, TierEvent, TierEventKind};

/// The first six bytes of every profile file.
pub const MAGIC: [u8; 6] = *b"TJPROF";

/// The format version this code writes.
pub const VERSION: u16 = 5;

/// The oldest version this code reads. Version 1 lacks the sampling
/// engine and the idle-tick count (read as "" and 0); versions 1 and 2
/// lack the on-stack-replacement events (kinds 3 and 4); versions 1 to 3
/// lack the sample cost and the rate caps (read as 0) and the failed
/// compiles (event kind 5); versions 1 to 4 lack the cache loads (event
/// kind 6).
pub const OLDEST_VERSION: u16 = 1;

/// Bytes before the first section: the magic and the version.
const PREAMBLE_LEN: usize = MAGIC.len() + 2;

/// Event kind bytes.
const EVENT_COMPILE: u8 = 0;
const EVENT_INSTALL: u8 = 1;
const EVENT_RETIRE: u8 = 2;
const EVENT_OSR_COMPILE: u8 = 3;
const EVENT_OSR_ENTRY: u8 = 4;
const EVENT_COMPILE_FAILED: u8 = 5;
const EVENT_CACHE_LOAD: u8 = 6;

/// The first version with the OSR event kinds.
const OSR_EVENTS_SINCE: u16 = 3;

/// The first version with the sample cost and the rate caps.
const CAPS_SINCE: u16 = 4;

/// The first version with failed-compile events.
const FAILED_COMPILES_SINCE: u16 = 4;

/// The first version with cache-load events.
const CACHE_LOADS_SINCE: u16 = 5;

/// Why a file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The file does not start with [`MAGIC`].
    BadMagic,
    /// The file is a profile of another version.
    UnsupportedVersion {
        /// The version the file says it is.
        found: u16,
    },
    /// The file ends before something it promises.
    Truncated {
        /// Where the cut-off thing starts.
        offset: usize,
        /// What was cut off, e.g. "the samples section (4000 bytes)".
        what: String,
    },
    /// The bytes are there but do not make sense.
    Invalid {
        /// Where the bad value starts.
        offset: usize,
        /// What is wrong, e.g. "sample 12 of 40: function id 9 out of range
        /// (3 functions)".
        what: String,
    },
}

impl FormatError {
    /// The byte offset the error is about (0 for magic and version errors,
    /// which are about the start of the file).
    pub fn offset(&self) -> usize {
        match self {
            FormatError::BadMagic | FormatError::UnsupportedVersion { .. } => 0,
            FormatError::Truncated { offset, .. } | FormatError::Invalid { offset, .. } => *offset,
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::BadMagic => write!(f, "not a tierjit profile (bad magic)"),
            FormatError::UnsupportedVersion { found } => write!(
                f,
                "unsupported version {found} (this tierjit reads versions {OLDEST_VERSION} to {VERSION})"
            ),
            FormatError::Truncated { offset, what } => write!(
                f,
                "truncated: {what} at byte {offset} ends past the end of the file"
            ),
            FormatError::Invalid { offset, what } => write!(f, "byte {offset}: {what}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// The sections, in file order; the discriminant is the tag byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Header = 1,
    Functions = 2,
    Samples = 3,
    Events = 4,
    Stats = 5,
}

impl Section {
    const ALL: [Section; 5] = [
        Section::Header,
        Section::Functions,
        Section::Samples,
        Section::Events,
        Section::Stats,
    ];

    fn name(self) -> &'static str {
        match self {
            Section::Header => "header",
            Section::Functions => "functions",
            Section::Samples => "samples",
            Section::Events => "events",
            Section::Stats => "stats",
        }
    }
}

// ---------------------------------------------------------------------------
// Writing

/// Writes `profile` in the `.tjprof` format.
///
/// Fails with `InvalidInput`, before writing anything, if a frame or event
/// names a function id that `profile.functions` does not have.
pub fn write(profile: &Profile, out: &mut impl Write) -> io::Result<()> {
    write_version(profile, out, VERSION)
}

/// [`write`] in an older `version` (for tests of reading old files).
fn write_version(profile: &Profile, out: &mut impl Write, version: u16) -> io::Result<()> {
    check_function_ids(profile)?;
    out.write_all(&MAGIC)?;
    out.write_all(&version.to_le_bytes())?;
    for section in Section::ALL {
        let body = encode_section(section, profile, version);
        let mut head = vec![section as u8];
        put_varint(&mut head, body.len() as u64);
        out.write_all(&head)?;
        out.write_all(&body)?;
    }
    Ok(())
}

/// [`write`] into a new buffer.
pub fn to_bytes(profile: &Profile) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    write(profile, &mut bytes)?;
    Ok(bytes)
}

fn check_function_ids(profile: &Profile) -> io::Result<()> {
    let count = profile.functions.len();
    let frame_ids = profile
        .samples
        .iter()
        .flat_map(|s| s.frames.iter().map(|f| f.func));
    let event_ids = profile.events.iter().map(|e| e.func);
    match frame_ids.chain(event_ids).find(|&id| id as usize >= count) {
        None => Ok(()),
        Some(id) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("function id {id} out of range ({count} functions)"),
        )),
    }
}

fn encode_section(section: Section, profile: &Profile, version: u16) -> Vec<u8> {
    let mut body = Vec::new();
    match section {
        Section::Header => {
            put_string(&mut body, &profile.program);
            put_varint(&mut body, profile.duration_ns);
            put_varint(&mut body, profile.stats.requested_hz.into());
        }
        Section::Functions => {
            put_varint(&mut body, profile.functions.len() as u64);
            for name in &profile.functions {
                put_string(&mut body, name);
            }
        }
        Section::Samples => {
            put_varint(&mut body, profile.samples.len() as u64);
            for sample in &profile.samples {
                put_sample(&mut body, sample);
            }
        }
        Section::Events => {
            // Older versions have no OSR events: they are left out.
            let events: Vec<&TierEvent> = profile
                .events
                .iter()
                .filter(|e| version >= OSR_EVENTS_SINCE || !is_osr_event(e))
                .filter(|e| {
                    version >= FAILED_COMPILES_SINCE
                        || !matches!(e.kind, TierEventKind::CompileFailed { .. })
                })
                .filter(|e| {
                    version >= CACHE_LOADS_SINCE
                        || !matches!(e.kind, TierEventKind::CacheLoad { .. })
                })
                .collect();
            put_varint(&mut body, events.len() as u64);
            for event in events {
                put_event(&mut body, event);
            }
        }
        Section::Stats => put_stats(&mut body, &profile.stats, version),
    }
    body
}

fn put_sample(out: &mut Vec<u8>, sample: &Sample) {
    put_varint(out, sample.thread.into());
    put_varint(out, sample.time_ns);
    put_varint(out, sample.weight_ns);
    put_varint(out, sample.frames.len() as u64);
    for frame in &sample.frames {
        put_varint(out, frame.func.into());
        out.push(frame.tier.code());
        put_varint(out, frame.line.into());
    }
}

fn put_event(out: &mut Vec<u8>, event: &TierEvent) {
    put_varint(out, event.time_ns);
    put_varint(out, event.func.into());
    match event.kind {
        TierEventKind::Compile {
            from,
            to,
            duration_ns,
            queue_ns,
        } => {
            out.extend_from_slice(&[EVENT_COMPILE, from.code(), to.code()]);
            put_varint(out, duration_ns);
            put_varint(out, queue_ns);
        }
        TierEventKind::Install { tier } => out.extend_from_slice(&[EVENT_INSTALL, tier.code()]),
        TierEventKind::Retire { tier } => out.extend_from_slice(&[EVENT_RETIRE, tier.code()]),
        TierEventKind::OsrCompile {
            pc,
            duration_ns,
            queue_ns,
        } => {
            out.push(EVENT_OSR_COMPILE);
            put_varint(out, pc.into());
            put_varint(out, duration_ns);
            put_varint(out, queue_ns);
        }
        TierEventKind::OsrEntry { pc, from, to } => {
            out.push(EVENT_OSR_ENTRY);
            put_varint(out, pc.into());
            out.extend_from_slice(&[from.code(), to.code()]);
        }
        TierEventKind::CompileFailed { from, to } => {
            out.extend_from_slice(&[EVENT_COMPILE_FAILED, from.code(), to.code()]);
        }
        TierEventKind::CacheLoad { tier } => {
            out.extend_from_slice(&[EVENT_CACHE_LOAD, tier.code()])
        }
    }
}

fn is_osr_event(event: &TierEvent) -> bool {
    matches!(
        event.kind,
        TierEventKind::OsrCompile { .. } | TierEventKind::OsrEntry { .. }
    )
}

fn put_stats(out: &mut Vec<u8>, stats: &SamplerStats, version: u16) {
    put_varint(out, stats.samples);
    put_varint(out, stats.dropped);
    put_varint(out, stats.threads.into());
    put_varint(out, stats.cpu_ns);
    put_varint(out, stats.handler_ns.len() as u64);
    for &(ns, count) in &stats.handler_ns {
        put_varint(out, ns);
        put_varint(out, count);
    }
    if version >= 2 {
        put_string(out, &stats.engine);
        put_varint(out, stats.idle_ticks);
    }
    if version >= CAPS_SINCE {
        put_varint(out, stats.sample_cost_ns);
        put_varint(out, stats.cost_cap_hz.into());
        put_varint(out, stats.sampler_thread_cap_hz.into());
        put_varint(out, stats.share_percent.into());
        put_varint(out, stats.sampler_thread_cpu_ns);
    }
}

/// Unsigned LEB128: seven bits a byte, low bits first, high bit set on
/// every byte but the last.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

// ---------------------------------------------------------------------------
// Reading

/// Reads a `.tjprof` file.
pub fn read(bytes: &[u8]) -> Result<Profile, FormatError> {
    let version = check_preamble(bytes)?;
    let mut file = Cursor::new(bytes, PREAMBLE_LEN, bytes.len());
    let mut profile = Profile::default();
    for section in Section::ALL {
        let mut body = file.section(section)?;
        read_section(section, &mut body, &mut profile, version)?;
        body.expect_end(section)?;
    }
    if file.remaining() > 0 {
        return Err(FormatError::Invalid {
            offset: file.pos,
            what: format!(
                "{} unexpected bytes after the last section",
                file.remaining()
            ),
        });
    }
    Ok(profile)
}

/// Checks the magic; gives the version.
fn check_preamble(bytes: &[u8]) -> Result<u16, FormatError> {
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(FormatError::BadMagic);
    }
    if bytes.len() < PREAMBLE_LEN {
        return Err(FormatError::Truncated {
            offset: 0,
            what: format!("the {PREAMBLE_LEN}-byte magic and version"),
        });
    }
    let found = u16::from_le_bytes([bytes[6], bytes[7]]);
    if !(OLDEST_VERSION..=VERSION).contains(&found) {
        return Err(FormatError::UnsupportedVersion { found });
    }
    Ok(found)
}

fn read_section(
    section: Section,
    body: &mut Cursor<'_>,
    profile: &mut Profile,
    version: u16,
) -> Result<(), FormatError> {
    match section {
        Section::Header => read_header(body, profile),
        Section::Functions => {
            profile.functions = read_items(body, "function name", 1, Cursor::string)?;
            Ok(())
        }
        Section::Samples => {
            let functions = profile.functions.len();
            profile.samples = read_items(body, "sample", 4, |c| read_sample(c, functions))?;
            Ok(())
        }
        Section::Events => {
            let functions = profile.functions.len();
            profile.events =
                read_items(body, "tier event", 4, |c| read_event(c, functions, version))?;
            Ok(())
        }
        Section::Stats => read_stats(body, &mut profile.stats, version),
    }
}

fn read_header(body: &mut Cursor<'_>, profile: &mut Profile) -> Result<(), FormatError> {
    let fields = |c: &mut Cursor<'_>| -> Result<(String, u64, u32), Fault> {
        Ok((c.string()?, c.varint()?, c.varint_u32("requested rate")?))
    };
    let start = body.pos;
    let (program, duration_ns, requested_hz) =
        fields(body).map_err(|f| f.into_error(start, "the header", Section::Header))?;
    profile.program = program;
    profile.duration_ns = duration_ns;
    profile.stats.requested_hz = requested_hz;
    Ok(())
}

fn read_stats(
    body: &mut Cursor<'_>,
    stats: &mut SamplerStats,
    version: u16,
) -> Result<(), FormatError> {
    let counters = |c: &mut Cursor<'_>| -> Result<(u64, u64, u32, u64), Fault> {
        Ok((
            c.varint()?,
            c.varint()?,
            c.varint_u32("thread count")?,
            c.varint()?,
        ))
    };
    let start = body.pos;
    let (samples, dropped, threads, cpu_ns) =
        counters(body).map_err(|f| f.into_error(start, "the sampler counters", Section::Stats))?;
    stats.samples = samples;
    stats.dropped = dropped;
    stats.threads = threads;
    stats.cpu_ns = cpu_ns;
    stats.handler_ns = read_items(body, "handler-time bucket", 2, |c| {
        Ok((c.varint()?, c.varint()?))
    })?;
    if version >= 2 {
        let start = body.pos;
        let engine =
            |c: &mut Cursor<'_>| -> Result<(String, u64), Fault> { Ok((c.string()?, c.varint()?)) };
        (stats.engine, stats.idle_ticks) = engine(body)
            .map_err(|f| f.into_error(start, "the engine and idle ticks", Section::Stats))?;
    }
    if version >= CAPS_SINCE {
        let start = body.pos;
        let caps = |c: &mut Cursor<'_>| -> Result<(u64, u32, u32, u32, u64), Fault> {
            Ok((
                c.varint()?,
                c.varint_u32("rate cap")?,
                c.varint_u32("sampler thread's rate cap")?,
                c.varint_u32("share")?,
                c.varint()?,
            ))
        };
        (
            stats.sample_cost_ns,
            stats.cost_cap_hz,
            stats.sampler_thread_cap_hz,
            stats.share_percent,
            stats.sampler_thread_cpu_ns,
        ) = caps(body)
            .map_err(|f| f.into_error(start, "the sample cost and rate caps", Section::Stats))?;
    }
    Ok(())
}

fn read_sample(c: &mut Cursor<'_>, functions: usize) -> Result<Sample, Fault> {
    let thread = c.varint_u32("thread id")?;
    let time_ns = c.varint()?;
    let weight_ns = c.varint()?;
    let count = c.count(3)?;
    let mut frames = Vec::with_capacity(count);
    for _ in 0..count {
        let func = c.function_id(functions)?;
        let tier = c.tier()?;
        let line = c.varint_u32("line")?;
        frames.push(Frame { func, tier, line });
    }
    Ok(Sample {
        thread,
        time_ns,
        weight_ns,
        frames,
    })
}

fn read_event(c: &mut Cursor<'_>, functions: usize, version: u16) -> Result<TierEvent, Fault> {
    let time_ns = c.varint()?;
    let func = c.function_id(functions)?;
    let kind_at = c.pos;
    let osr_events = version >= OSR_EVENTS_SINCE;
    let kind = match c.u8()? {
        EVENT_COMPILE => TierEventKind::Compile {
            from: c.tier()?,
            to: c.tier()?,
            duration_ns: c.varint()?,
            queue_ns: c.varint()?,
        },
        EVENT_INSTALL => TierEventKind::Install { tier: c.tier()? },
        EVENT_RETIRE => TierEventKind::Retire { tier: c.tier()? },
        EVENT_OSR_COMPILE if osr_events => TierEventKind::OsrCompile {
            pc: c.varint_u32("loop header pc")?,
            duration_ns: c.varint()?,
            queue_ns: c.varint()?,
        },
        EVENT_OSR_ENTRY if osr_events => TierEventKind::OsrEntry {
            pc: c.varint_u32("loop header pc")?,
            from: c.tier()?,
            to: c.tier()?,
        },
        EVENT_COMPILE_FAILED if version >= FAILED_COMPILES_SINCE => TierEventKind::CompileFailed {
            from: c.tier()?,
            to: c.tier()?,
        },
        EVENT_CACHE_LOAD if version >= CACHE_LOADS_SINCE => {
            TierEventKind::CacheLoad { tier: c.tier()? }
        }
        other => {
            let kinds = if version >= CACHE_LOADS_SINCE {
                "compile (0), install (1), retire (2), osr compile (3), osr entry (4), \
                 compile failed (5) or cache load (6)"
            } else if version >= FAILED_COMPILES_SINCE {
                "compile (0), install (1), retire (2), osr compile (3), osr entry (4) or \
                 compile failed (5) (cache loads need version 5)"
            } else if osr_events {
                "compile (0), install (1), retire (2), osr compile (3) or osr entry (4) \
                 (failed compiles need version 4)"
            } else {
                "compile (0), install (1) or retire (2) (OSR events need version 3)"
            };
            return Err(Fault::Bad {
                at: kind_at,
                what: format!("event kind {other} is not {kinds}"),
            });
        }
    };
    Ok(TierEvent {
        time_ns,
        func,
        kind,
    })
}

/// Reads a count, then that many items with `item`; `min_len` is the
/// fewest bytes one item can take, which bounds the count.
fn read_items<'a, T>(
    c: &mut Cursor<'a>,
    noun: &str,
    min_len: usize,
    mut item: impl FnMut(&mut Cursor<'a>) -> Result<T, Fault>,
) -> Result<Vec<T>, FormatError> {
    let section = c.section;
    let start = c.pos;
    let count = c
        .count(min_len)
        .map_err(|f| f.into_error(start, &format!("the {noun} count"), section))?;
    let mut items = Vec::with_capacity(count);
    for i in 0..count {
        let start = c.pos;
        let value = item(c)
            .map_err(|f| f.into_error(start, &format!("{noun} {} of {count}", i + 1), section))?;
        items.push(value);
    }
    Ok(items)
}

/// What went wrong inside one item, before the item's name is known.
#[derive(Debug)]
enum Fault {
    /// The item runs past the end of its section.
    Short,
    /// A value at `at` is wrong.
    Bad { at: usize, what: String },
}

impl Fault {
    /// Names the item (`thing`, starting at `start`) the fault is in.
    fn into_error(self, start: usize, thing: &str, section: Section) -> FormatError {
        match self {
            Fault::Short => FormatError::Invalid {
                offset: start,
                what: format!(
                    "{thing} runs past the end of the {} section",
                    section.name()
                ),
            },
            Fault::Bad { at, what } => FormatError::Invalid {
                offset: at,
                what: format!("{thing}: {what}"),
            },
        }
    }
}

/// A position in the file and the end of the part being read.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    /// The section being read (the whole file reads as the header's).
    section: Section,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], pos: usize, end: usize) -> Cursor<'a> {
        Cursor {
            bytes,
            pos,
            end,
            section: Section::Header,
        }
    }

    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Reads the next section's tag and length; gives a cursor over its
    /// body and moves past it.
    fn section(&mut self, section: Section) -> Result<Cursor<'a>, FormatError> {
        let start = self.pos;
        let name = section.name();
        let head = |c: &mut Cursor<'a>| -> Result<(u8, u64), Fault> { Ok((c.u8()?, c.varint()?)) };
        let (tag, len) = head(self).map_err(|fault| match fault {
            Fault::Short => FormatError::Truncated {
                offset: start,
                what: format!("the {name} section's tag and length"),
            },
            Fault::Bad { at, what } => FormatError::Invalid {
                offset: at,
                what: format!("the {name} section's length: {what}"),
            },
        })?;
        if tag != section as u8 {
            return Err(FormatError::Invalid {
                offset: start,
                what: format!(
                    "section tag {tag} where the {name} section (tag {}) should be",
                    section as u8
                ),
            });
        }
        if len > self.remaining() as u64 {
            return Err(FormatError::Truncated {
                offset: start,
                what: format!("the {name} section ({len} bytes)"),
            });
        }
        let body_start = self.pos;
        self.pos += len as usize;
        Ok(Cursor {
            bytes: self.bytes,
            pos: body_start,
            end: self.pos,
            section,
        })
    }

    /// Checks that a section's body was read to its last byte.
    fn expect_end(&self, section: Section) -> Result<(), FormatError> {
        if self.remaining() == 0 {
            return Ok(());
        }
        Err(FormatError::Invalid {
            offset: self.pos,
            what: format!(
                "{} unread bytes at the end of the {} section",
                self.remaining(),
                section.name()
            ),
        })
    }

    fn u8(&mut self) -> Result<u8, Fault> {
        if self.pos >= self.end {
            return Err(Fault::Short);
        }
        self.pos += 1;
        Ok(self.bytes[self.pos - 1])
    }

    fn varint(&mut self) -> Result<u64, Fault> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Fault::Bad {
            at: start,
            what: "varint does not fit in 64 bits".to_string(),
        })
    }

    fn varint_u32(&mut self, what: &str) -> Result<u32, Fault> {
        let start = self.pos;
        let value = self.varint()?;
        u32::try_from(value).map_err(|_| Fault::Bad {
            at: start,
            what: format!("{what} {value} does not fit in 32 bits"),
        })
    }

    /// A count of items that take at least `min_len` bytes each: no more
    /// than the rest of the section can hold.
    fn count(&mut self, min_len: usize) -> Result<usize, Fault> {
        let start = self.pos;
        let count = self.varint()?;
        let room = self.remaining() / min_len;
        if count > room as u64 {
            return Err(Fault::Bad {
                at: start,
                what: format!(
                    "count {count} cannot fit in the {} bytes left in the {} section",
                    self.remaining(),
                    self.section.name()
                ),
            });
        }
        Ok(count as usize)
    }

    fn function_id(&mut self, functions: usize) -> Result<u32, Fault> {
        let start = self.pos;
        let id = self.varint()?;
        if id >= functions as u64 {
            return Err(Fault::Bad {
                at: start,
                what: format!("function id {id} out of range ({functions} functions)"),
            });
        }
        Ok(id as u32)
    }

    fn tier(&mut self) -> Result<Tier, Fault> {
        let start = self.pos;
        let code = self.u8()?;
        Tier::from_code(code).ok_or_else(|| Fault::Bad {
            at: start,
            what: format!("tier code {code} is not a tier (0 to 3)"),
        })
    }

    fn string(&mut self) -> Result<String, Fault> {
        let start = self.pos;
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            return Err(Fault::Short);
        }
        let bytes = &self.bytes[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        String::from_utf8(bytes.to_vec()).map_err(|_| Fault::Bad {
            at: start,
            what: "string is not UTF-8".to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
