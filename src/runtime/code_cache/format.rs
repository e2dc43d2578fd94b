//! The bytes of a code-cache file: [`write`] makes one, [`check`] checks
//! every byte of one before anything in it is used.
//!
//! All fields are little-endian. The header:
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `TJCACHE\0` |
//! | 8 | format version (u32) |
//! | 12 | zero (u32) |
//! | 16 | file length (u64) |
//! | 24 | checksum (u64, [`checksum`]; these 8 bytes read as zeros) |
//! | 32 | the key: module, build, CPU features, flags (u64 each, [`Key`]) |
//! | 64 | when it was written (u64, seconds since 1970) |
//! | 72 | functions in the module (u32), zero (u32) |
//! | 80 | seven sections, `(offset, count)` as two u32s each: entries, OSR entries, call sites, function heat, loop heat, call heat, program name |
//! | 136 | offset of the code section (u64, a multiple of the page size) |
//! | 144 | its length (u64); it runs to the end of the file |
//!
//! The records, each 4-aligned:
//!
//! - an **entry**, 32 bytes: kind (0 code, 1 call stub), function, the
//!   blob's offset and length in the code section, its OSR entries
//!   (first, count) and its call sites (first, count);
//! - an **OSR entry**, 8 bytes: loop header pc, code offset;
//! - a **call site**, 8 bytes: offset of the rel32, callee;
//! - **heat**, 16 bytes: function, pc (0 for a function's heat), then
//!   decayed CPU time in nanoseconds (u64);
//! - the **program name**: UTF-8.
//!
//! The code section holds blobs exactly as code memory lays them out
//! (`code_memory.rs`: header, code, pc map, inline table, no-frame table),
//! each 16-aligned, so that, mapped, they describe themselves to stack
//! walkers and the code map like any other code. A *call stub* is a blob
//! of 9 bytes, `mov rax, [rdi]; jmp [rax + 8 * callee]`: a call through the
//! callee's method-table slot, for call sites whose callee has no
//! optimized code in the file. Every other call site is a rel32 to the
//! callee's optimized code in the same file. So nothing in the code
//! section depends on where it is mapped.

use crate::runtime::code_memory::{self, BlobHeader, ALIGN, BLOB_MAGIC, HEADER_SIZE, PAGE_SIZE};
use std::collections::HashMap;
use tierjit_tiers::bytecode::{FuncId, Module};
use tierjit_tiers::code::{CallSite, NoFrameKind, NoFrameRange, PcMapEntry, Tier};

/// The first 8 bytes of every cache file.
pub const MAGIC: &[u8; 8] = b"TJCACHE\0";
/// The format version this tierjit writes and reads.
pub const VERSION: u32 = 1;

const CHECKSUM_AT: usize = 24;
const KEY_AT: usize = 32;
const CREATED_AT: usize = 64;
const FUNCS_AT: usize = 72;
const SECTIONS_AT: usize = 80;
const CODE_AT: usize = 136;
const HEADER_LEN: usize = 152;

const ENTRY_BYTES: usize = 32;
const PAIR_BYTES: usize = 8;
const HEAT_BYTES: usize = 16;

/// The sections, in header order.
#[derive(Clone, Copy)]
enum Section {
    Entries = 0,
    Osr = 1,
    Sites = 2,
    FuncHeat = 3,
    LoopHeat = 4,
    CallHeat = 5,
    Name = 6,
}

impl Section {
    const ALL: [Section; 7] = [
        Section::Entries,
        Section::Osr,
        Section::Sites,
        Section::FuncHeat,
        Section::LoopHeat,
        Section::CallHeat,
        Section::Name,
    ];

    fn record_bytes(self) -> usize {
        match self {
            Section::Entries => ENTRY_BYTES,
            Section::Osr | Section::Sites => PAIR_BYTES,
            Section::FuncHeat | Section::LoopHeat | Section::CallHeat => HEAT_BYTES,
            Section::Name => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Section::Entries => "entries",
            Section::Osr => "OSR entries",
            Section::Sites => "call sites",
            Section::FuncHeat => "function heat",
            Section::LoopHeat => "loop heat",
            Section::CallHeat => "call heat",
            Section::Name => "program name",
        }
    }
}

const KIND_CODE: u32 = 0;
const KIND_STUB: u32 = 1;

/// What a cache entry is valid for: the code in it was compiled from this
/// module, by this build of tierjit, for these CPU features, with these
/// code-changing options. A file is used only if every part matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// Hash of the module's image (its bytecode, constants, names).
    pub module: u64,
    /// Hash of tierjit's sources (`build.rs`).
    pub build: u64,
    /// The CPU features the generated code uses ([`CPU_FEATURES`]).
    pub cpu: u64,
    /// Hash of the options that change generated code.
    pub flags: u64,
}

impl Key {
    /// One number for the whole key: the cache file's name.
    pub fn combined(&self) -> u64 {
        checksum_words(
            &[self.module, self.build, self.cpu, self.flags]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect::<Vec<u8>>(),
            None,
        )
    }
}

/// The CPU features generated code relies on, as bits: x86-64 with
/// SSE2 (bit 0), which every x86-64 processor has. The compilers use
/// nothing else; a feature they start to use gets a bit here, and files
/// whose code needs a bit this processor lacks are refused.
pub const CPU_FEATURES: u64 = 1;

/// Bits of [`CPU_FEATURES`] this processor has.
pub fn cpu_features_present() -> u64 {
    let mut present = 0;
    if std::arch::is_x86_feature_detected!("sse2") {
        present |= 1;
    }
    present
}

/// A hash of `bytes` over 64-bit little-endian words (the last one
/// zero-padded), with the 8 bytes at `hole` read as zeros: each word is
/// xor-ed into the state, which is then multiplied by the 64-bit FNV
/// prime. Every step is a bijection of the state for a fixed word and of
/// the word for a fixed state, so a change to any one word always changes
/// the hash; eight times as fast as byte-wise FNV-1a.
pub fn checksum_words(bytes: &[u8], hole: Option<usize>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let w = if Some(at) == hole {
            0
        } else {
            u64::from_le_bytes(chunk.try_into().expect("8 bytes"))
        };
        h = (h ^ w).wrapping_mul(0x0100_0000_01b3);
        at += 8;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(last)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Decayed CPU time in nanoseconds: per function, per loop (function,
/// header pc) and per call site (function, call pc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heat {
    /// Per function.
    pub funcs: Vec<(FuncId, u64)>,
    /// Per loop: function, header pc.
    pub loops: Vec<(FuncId, u32, u64)>,
    /// Per call site: function, call pc.
    pub calls: Vec<(FuncId, u32, u64)>,
}

/// One function's code to save.
#[derive(Clone, Debug)]
pub struct SavedCode {
    /// The function.
    pub func: FuncId,
    /// The blob as placed: header, code and tables.
    pub blob: Vec<u8>,
    /// Its OSR entries, `(loop header pc, offset)`.
    pub osr: Vec<(u32, u32)>,
    /// Its direct calls.
    pub sites: Vec<CallSite>,
}

/// The code of a call stub for `callee`: `mov rax, [rdi]` (the method
/// table, the first word of the context the calling convention passes in
/// `rdi`), `jmp [rax + 8 * callee]`.
pub fn call_stub_code(callee: FuncId) -> [u8; 9] {
    let slot = (callee.0 as u64 * 8) as u32;
    let d = slot.to_le_bytes();
    [0x48, 0x8B, 0x07, 0xFF, 0xA0, d[0], d[1], d[2], d[3]]
}

/// The blob of the call stub for `callee`: every pc maps to the callee's
/// pc 0, and the whole stub is frameless with the return address at
/// `[rsp]`, exactly as at the callee's first instruction.
fn call_stub_blob(callee: FuncId) -> Vec<u8> {
    let code = call_stub_code(callee);
    code_memory::blob_bytes(
        Tier::Interp,
        callee,
        &code,
        &[PcMapEntry::root(0, 0)],
        &[],
        &[NoFrameRange {
            start: 0,
            end: code.len() as u32,
            kind: NoFrameKind::ReturnAtSp,
        }],
    )
}

fn blob_tier(blob: &[u8]) -> Option<Tier> {
    Tier::from_u32(u32::from_ne_bytes(blob.get(4..8)?.try_into().ok()?))
}

fn put_u32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut [u8], at: usize, v: u64) {
    out[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The bytes of a cache file for `key`: the code of each function in
/// `code` (with its call sites pointed within the file), the `heat`, the
/// `program`'s name, and `created` (seconds since 1970). `funcs` is the
/// module's number of functions.
pub fn write(
    key: &Key,
    program: &str,
    funcs: u32,
    code: &[SavedCode],
    heat: &Heat,
    created: u64,
) -> Vec<u8> {
    // The code section: call stubs, then each function's blob.
    let opt: HashMap<FuncId, usize> = code
        .iter()
        .enumerate()
        .filter(|(_, c)| blob_tier(&c.blob) == Some(Tier::Opt))
        .map(|(i, c)| (c.func, i))
        .collect();
    let mut stubbed: Vec<FuncId> = code
        .iter()
        .flat_map(|c| &c.sites)
        .map(|s| s.callee)
        .filter(|f| !opt.contains_key(f))
        .collect();
    stubbed.sort_unstable();
    stubbed.dedup();
    let mut section = Vec::new();
    let mut stub_at = HashMap::new();
    for &callee in &stubbed {
        stub_at.insert(callee, section.len());
        section.extend_from_slice(&call_stub_blob(callee));
    }
    let mut blob_at = Vec::with_capacity(code.len());
    for c in code {
        blob_at.push(section.len());
        section.extend_from_slice(&c.blob);
        section.resize(section.len().next_multiple_of(ALIGN), 0xCC);
    }
    for (c, &at) in code.iter().zip(&blob_at) {
        for site in &c.sites {
            let target = match opt.get(&site.callee) {
                Some(&i) => blob_at[i],
                None => stub_at[&site.callee],
            } + HEADER_SIZE;
            let rx = at + HEADER_SIZE + site.offset as usize;
            let d = (target as i64 - (rx as i64 + 4)) as i32;
            section[rx..rx + 4].copy_from_slice(&d.to_le_bytes());
        }
    }

    // The records.
    let mut entries = Vec::new();
    let (mut osr, mut sites) = (Vec::new(), Vec::new());
    let entry =
        |kind: u32, func: FuncId, at: usize, len: usize, o: (usize, usize), s: (usize, usize)| {
            [
                kind, func.0, at as u32, len as u32, o.0 as u32, o.1 as u32, s.0 as u32, s.1 as u32,
            ]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>()
        };
    for &callee in &stubbed {
        let len = call_stub_blob(callee).len();
        entries.extend(entry(
            KIND_STUB,
            callee,
            stub_at[&callee],
            len,
            (0, 0),
            (0, 0),
        ));
    }
    for (c, &at) in code.iter().zip(&blob_at) {
        let o = (osr.len() / PAIR_BYTES, c.osr.len());
        for &(pc, offset) in &c.osr {
            osr.extend(pc.to_le_bytes());
            osr.extend(offset.to_le_bytes());
        }
        let s = (sites.len() / PAIR_BYTES, c.sites.len());
        for site in &c.sites {
            sites.extend(site.offset.to_le_bytes());
            sites.extend(site.callee.0.to_le_bytes());
        }
        entries.extend(entry(KIND_CODE, c.func, at, c.blob.len(), o, s));
    }
    let heat_records = |items: &mut dyn Iterator<Item = (FuncId, u32, u64)>| {
        let mut out = Vec::new();
        for (f, pc, ns) in items {
            out.extend(f.0.to_le_bytes());
            out.extend(pc.to_le_bytes());
            out.extend(ns.to_le_bytes());
        }
        out
    };
    let (osr_count, site_count) = (osr.len() / PAIR_BYTES, sites.len() / PAIR_BYTES);
    let sections: [(Vec<u8>, usize); 7] = [
        (entries, stubbed.len() + code.len()),
        (osr, osr_count),
        (sites, site_count),
        (
            heat_records(&mut heat.funcs.iter().map(|&(f, ns)| (f, 0, ns))),
            heat.funcs.len(),
        ),
        (
            heat_records(&mut heat.loops.iter().copied()),
            heat.loops.len(),
        ),
        (
            heat_records(&mut heat.calls.iter().copied()),
            heat.calls.len(),
        ),
        (program.as_bytes().to_vec(), program.len()),
    ];

    let mut out = vec![0u8; HEADER_LEN];
    out[..8].copy_from_slice(MAGIC);
    put_u32(&mut out, 8, VERSION);
    for (i, w) in [key.module, key.build, key.cpu, key.flags]
        .into_iter()
        .enumerate()
    {
        put_u64(&mut out, KEY_AT + 8 * i, w);
    }
    put_u64(&mut out, CREATED_AT, created);
    put_u32(&mut out, FUNCS_AT, funcs);
    for (i, (bytes, count)) in sections.iter().enumerate() {
        let at = out.len();
        out.extend_from_slice(bytes);
        out.resize(out.len().next_multiple_of(4), 0);
        put_u32(&mut out, SECTIONS_AT + 8 * i, at as u32);
        put_u32(&mut out, SECTIONS_AT + 8 * i + 4, *count as u32);
    }
    let code_at = out.len().next_multiple_of(PAGE_SIZE);
    out.resize(code_at, 0);
    out.extend_from_slice(&section);
    let len = out.len() as u64;
    put_u64(&mut out, CODE_AT, code_at as u64);
    put_u64(&mut out, CODE_AT + 8, section.len() as u64);
    put_u64(&mut out, 16, len);
    let sum = checksum_words(&out, Some(CHECKSUM_AT));
    put_u64(&mut out, CHECKSUM_AT, sum);
    out
}

/// What the header of a cache file says, once its length, magic, version
/// and checksum are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The key the file was written for.
    pub key: Key,
    /// When it was written (seconds since 1970).
    pub created: u64,
    /// The program it was written for.
    pub program: String,
    /// Functions in the module.
    pub funcs: u32,
    /// Blobs of code for each tier: baseline, opt.
    pub blobs: [usize; 2],
    /// Offset and length of the code section.
    pub code: (u64, u64),
    /// Bytes of the file.
    pub len: u64,
}

/// A function's code in a checked cache file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The function.
    pub func: FuncId,
    /// The tier of its code.
    pub tier: Tier,
    /// Offset of its blob (the header) in the code section.
    pub blob_at: usize,
    /// Bytes of the blob.
    pub blob_len: usize,
    /// Bytes of its machine code.
    pub code_size: usize,
    /// Its OSR entries, `(loop header pc, offset)`.
    pub osr: Vec<(u32, u32)>,
    /// Its direct calls.
    pub sites: Vec<CallSite>,
}

/// A cache file checked against the module it is to run.
#[derive(Clone, Debug)]
pub struct Contents {
    /// What the header says.
    pub summary: Summary,
    /// The code of each function (one at most per function).
    pub entries: Vec<Entry>,
    /// The call stubs: callee, offset and length of the blob.
    pub stubs: Vec<(FuncId, usize, usize)>,
    /// The saved heat.
    pub heat: Heat,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks the header of a cache file: length, magic, version, checksum
/// and the section table. Nothing else of the file is trusted yet.
pub fn summary(bytes: &[u8]) -> Result<Summary, String> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("not a tierjit code cache file".into());
    }
    let version = u32_at(bytes, 8);
    if version != VERSION {
        return Err(format!(
            "format version {version}, this tierjit reads version {VERSION}"
        ));
    }
    let len = u64_at(bytes, 16);
    if len != bytes.len() as u64 {
        return Err(format!(
            "the file has {} bytes, its header says {len}",
            bytes.len()
        ));
    }
    if checksum_words(bytes, Some(CHECKSUM_AT)) != u64_at(bytes, CHECKSUM_AT) {
        return Err("the checksum does not match (the file is damaged)".into());
    }
    for s in Section::ALL {
        section_range(bytes, s)?;
    }
    let (code_at, code_len) = (u64_at(bytes, CODE_AT), u64_at(bytes, CODE_AT + 8));
    if code_at % PAGE_SIZE as u64 != 0
        || code_at < HEADER_LEN as u64
        || code_at.checked_add(code_len) != Some(len)
    {
        return Err(format!(
            "the code section ({code_len} bytes at {code_at}) is misplaced"
        ));
    }
    let program = std::str::from_utf8(section(bytes, Section::Name)?)
        .map_err(|_| "the program name is not UTF-8".to_string())?
        .to_string();
    let mut blobs = [0; 2];
    for e in section(bytes, Section::Entries)?.chunks_exact(ENTRY_BYTES) {
        if u32_at(e, 0) != KIND_CODE {
            continue;
        }
        let at = code_at as usize + u32_at(e, 8) as usize;
        match bytes.get(at..).and_then(blob_tier) {
            Some(Tier::Baseline) => blobs[0] += 1,
            Some(Tier::Opt) => blobs[1] += 1,
            _ => {}
        }
    }
    Ok(Summary {
        key: Key {
            module: u64_at(bytes, KEY_AT),
            build: u64_at(bytes, KEY_AT + 8),
            cpu: u64_at(bytes, KEY_AT + 16),
            flags: u64_at(bytes, KEY_AT + 24),
        },
        created: u64_at(bytes, CREATED_AT),
        program,
        funcs: u32_at(bytes, FUNCS_AT),
        blobs,
        code: (code_at, code_len),
        len,
    })
}

/// The program name in the header of the cache file `file`, read without
/// checking the rest (to find a program's entries among many files).
pub fn program_name(file: &mut std::fs::File) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header).ok()?;
    if &header[..8] != MAGIC || u32_at(&header, 8) != VERSION {
        return None;
    }
    let at = SECTIONS_AT + 8 * Section::Name as usize;
    let (offset, len) = (u32_at(&header, at), u32_at(&header, at + 4));
    let mut name = vec![0u8; (len as usize).min(1 << 16)];
    file.seek(SeekFrom::Start(offset.into())).ok()?;
    file.read_exact(&mut name).ok()?;
    String::from_utf8(name).ok()
}

/// The byte range of a section, checked to lie in the file before the
/// code section, 4-aligned.
fn section_range(bytes: &[u8], s: Section) -> Result<(usize, usize), String> {
    let at = SECTIONS_AT + 8 * s as usize;
    let (offset, count) = (u32_at(bytes, at) as usize, u32_at(bytes, at + 4) as usize);
    let code_at = usize::try_from(u64_at(bytes, CODE_AT)).unwrap_or(usize::MAX);
    let end = count
        .checked_mul(s.record_bytes())
        .and_then(|n| n.checked_add(offset));
    match end {
        Some(end) if offset >= HEADER_LEN && end <= code_at.min(bytes.len()) && offset % 4 == 0 => {
            Ok((offset, end))
        }
        _ => Err(format!(
            "the {} ({count} records at {offset}) lie outside the file",
            s.name()
        )),
    }
}

fn section(bytes: &[u8], s: Section) -> Result<&[u8], String> {
    let (at, end) = section_range(bytes, s)?;
    Ok(&bytes[at..end])
}

/// Checks a whole cache file against the module it is to run and the
/// `key` it must have been written for: the header, every record, and
/// every blob (its header and tables, and the target of every call site).
/// Only the machine code itself is taken on trust: the checksum shows it
/// is what tierjit wrote under this key.
pub fn check(bytes: &[u8], key: &Key, module: &Module) -> Result<Contents, String> {
    let summary = summary(bytes)?;
    if summary.key.build != key.build {
        return Err("written by another build of tierjit".into());
    }
    if summary.key.cpu & !cpu_features_present() != 0 {
        return Err("its code needs CPU features this processor lacks".into());
    }
    if summary.key != *key {
        return Err("written for another program or other options".into());
    }
    if summary.funcs as usize != module.funcs.len() {
        return Err(format!(
            "written for {} functions, the module has {}",
            summary.funcs,
            module.funcs.len()
        ));
    }
    let code = &bytes[summary.code.0 as usize..];
    let osr = section(bytes, Section::Osr)?;
    let sites = section(bytes, Section::Sites)?;
    let mut entries = Vec::new();
    let mut stubs = Vec::new();
    let mut seen = vec![false; module.funcs.len()];
    let mut stubbed = vec![false; module.funcs.len()];
    for (i, e) in section(bytes, Section::Entries)?
        .chunks_exact(ENTRY_BYTES)
        .enumerate()
    {
        let w = |k: usize| u32_at(e, 4 * k) as usize;
        let what = format!("entry {i}");
        let func = w(1);
        if func >= module.funcs.len() {
            return Err(format!(
                "{what} names function {func}, which does not exist"
            ));
        }
        let (at, len) = (w(2), w(3));
        let blob = match code.get(at..at.saturating_add(len)) {
            Some(b) if at % ALIGN == 0 => b,
            _ => return Err(format!("{what}: its blob lies outside the code section")),
        };
        let func = FuncId(func as u32);
        match w(0) as u32 {
            KIND_STUB => {
                if blob != call_stub_blob(func).as_slice()
                    || std::mem::replace(&mut stubbed[func.index()], true)
                {
                    return Err(format!("{what}: not the call stub it should be"));
                }
                stubs.push((func, at, len));
            }
            KIND_CODE => {
                let (tier, code_size) =
                    check_blob(blob, func, module).map_err(|e| format!("{what}: {e}"))?;
                if std::mem::replace(&mut seen[func.index()], true) {
                    return Err(format!("{what}: a second entry for function {}", func.0));
                }
                let osr =
                    pairs(osr, w(4), w(5)).ok_or(format!("{what}: OSR entries out of range"))?;
                let sites = pairs(sites, w(6), w(7))
                    .ok_or(format!("{what}: call sites out of range"))?
                    .into_iter()
                    .map(|(offset, callee)| CallSite {
                        offset,
                        callee: FuncId(callee),
                    })
                    .collect();
                entries.push(Entry {
                    func,
                    tier,
                    blob_at: at,
                    blob_len: len,
                    code_size,
                    osr,
                    sites,
                });
            }
            kind => return Err(format!("{what} has kind {kind}")),
        }
    }
    for e in &entries {
        check_osr(e, module)?;
        check_sites(e, &entries, &stubs, code, module)?;
    }
    let heat = read_heat(bytes, module)?;
    Ok(Contents {
        summary,
        entries,
        stubs,
        heat,
    })
}

/// `count` (u32, u32) pairs from record `first` of `records`.
fn pairs(records: &[u8], first: usize, count: usize) -> Option<Vec<(u32, u32)>> {
    let start = first.checked_mul(PAIR_BYTES)?;
    let end = count.checked_mul(PAIR_BYTES)?.checked_add(start)?;
    let bytes = records.get(start..end)?;
    Some(
        bytes
            .chunks_exact(PAIR_BYTES)
            .map(|p| (u32_at(p, 0), u32_at(p, 4)))
            .collect(),
    )
}

/// Checks a blob's header and tables as code memory would have written
/// them for `func`; gives its tier and the bytes of its code.
fn check_blob(blob: &[u8], func: FuncId, module: &Module) -> Result<(Tier, usize), String> {
    let word = |k: usize| -> Result<u32, String> {
        blob.get(4 * k..4 * k + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| "the blob is cut short".to_string())
    };
    let header = BlobHeader {
        magic: word(0)?,
        tier: word(1)?,
        func: word(2)?,
        code_size: word(3)?,
        pc_map_len: word(4)?,
        inline_len: word(5)?,
        reserved: [word(6)?, word(7)?],
    };
    let tier = match header.tier() {
        Some(t @ (Tier::Baseline | Tier::Opt)) => t,
        _ => return Err(format!("tier number {}", header.tier)),
    };
    if header.magic != BLOB_MAGIC || header.func != func.0 {
        return Err("the blob's header does not match the entry".into());
    }
    let code_size = header.code_size as usize;
    let pc_at = HEADER_SIZE + code_size.next_multiple_of(4);
    let inline_at = pc_at + 12 * header.pc_map_len as usize;
    let no_frame_at = inline_at + 12 * header.inline_len as usize;
    let table = |at: usize, n: usize| -> Result<Vec<[u32; 3]>, String> {
        (0..n)
            .map(|k| {
                let base = at + 12 * k;
                let w = |j: usize| {
                    blob.get(base + 4 * j..base + 4 * j + 4)
                        .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
                };
                match (w(0), w(1), w(2)) {
                    (Some(a), Some(b), Some(c)) => Ok([a, b, c]),
                    _ => Err("the blob's tables run past its end".to_string()),
                }
            })
            .collect()
    };
    let pc_map = table(pc_at, header.pc_map_len as usize)?;
    let inlines = table(inline_at, header.inline_len as usize)?;
    let no_frame_count = blob
        .get(no_frame_at..no_frame_at + 4)
        .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")) as usize)
        .ok_or("the blob's tables run past its end")?;
    let no_frame = table(no_frame_at + 4, no_frame_count.min(blob.len() / 12 + 1))?;
    if no_frame.len() != no_frame_count {
        return Err("the blob's tables run past its end".into());
    }
    let total = (no_frame_at + 4 + 12 * no_frame_count).next_multiple_of(ALIGN);
    if total != blob.len() {
        return Err("the blob's length does not match its tables".into());
    }
    // Inlined frames: each names a function and a call pc in its parent,
    // which comes before it.
    let func_of = |frame: u32| -> FuncId {
        match frame {
            0 => func,
            k => FuncId(inlines[k as usize - 1][0]),
        }
    };
    let code_len = |f: FuncId| module.funcs[f.index()].code.len() as u32;
    for (k, &[f, parent, call_pc]) in inlines.iter().enumerate() {
        if f as usize >= module.funcs.len()
            || parent as usize > k
            || call_pc >= code_len(func_of(parent))
        {
            return Err(format!("inlined frame {} is malformed", k + 1));
        }
    }
    // The pc map: from offset 0, strictly increasing, each pc in its
    // function.
    let mut last = None;
    for &[offset, pc, inline] in &pc_map {
        let ok = match last {
            None => offset == 0,
            Some(l) => offset > l,
        };
        if !ok
            || offset as usize >= code_size.max(1)
            || inline as usize > inlines.len()
            || pc >= code_len(func_of(inline))
        {
            return Err(format!("the pc map entry at offset {offset} is malformed"));
        }
        last = Some(offset);
    }
    if pc_map.is_empty() {
        return Err("the blob has no pc map".into());
    }
    let mut end = 0;
    for &[start, stop, kind] in &no_frame {
        let kind_ok = kind == NoFrameKind::ReturnAtSp as u32
            || kind == NoFrameKind::ReturnAboveSavedRbp as u32;
        if start < end || stop <= start || stop as usize > code_size || !kind_ok {
            return Err(format!("the no-frame range at {start} is malformed"));
        }
        end = stop;
    }
    Ok((tier, code_size))
}

/// Every OSR entry is at a loop header of the function, inside the code.
fn check_osr(e: &Entry, module: &Module) -> Result<(), String> {
    let headers: Vec<u32> = module.funcs[e.func.index()]
        .loops()
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    for &(pc, offset) in &e.osr {
        if !headers.contains(&pc) || offset as usize >= e.code_size {
            return Err(format!(
                "function {}: OSR entry at pc {pc} is malformed",
                e.func.0
            ));
        }
    }
    Ok(())
}

/// Every call site is a rel32 to its callee's optimized code in the file,
/// or to the call stub for it.
fn check_sites(
    e: &Entry,
    entries: &[Entry],
    stubs: &[(FuncId, usize, usize)],
    code: &[u8],
    module: &Module,
) -> Result<(), String> {
    for s in &e.sites {
        let bad = || {
            format!(
                "function {}: the call at offset {} is malformed",
                e.func.0, s.offset
            )
        };
        if s.offset % 4 != 0
            || s.offset as usize + 4 > e.code_size
            || s.callee.index() >= module.funcs.len()
        {
            return Err(bad());
        }
        let expected = entries
            .iter()
            .find(|c| c.func == s.callee && c.tier == Tier::Opt)
            .map(|c| c.blob_at)
            .or_else(|| stubs.iter().find(|st| st.0 == s.callee).map(|st| st.1))
            .ok_or_else(bad)?
            + HEADER_SIZE;
        let rx = e.blob_at + HEADER_SIZE + s.offset as usize;
        let d = u32_at(code, rx) as i32 as i64;
        if rx as i64 + 4 + d != expected as i64 {
            return Err(bad());
        }
    }
    Ok(())
}

fn read_heat(bytes: &[u8], module: &Module) -> Result<Heat, String> {
    let records = |s: Section| -> Result<Vec<(FuncId, u32, u64)>, String> {
        section(bytes, s)?
            .chunks_exact(HEAT_BYTES)
            .map(|r| {
                let (f, pc, ns) = (u32_at(r, 0), u32_at(r, 4), u64_at(r, 8));
                match module.funcs.get(f as usize) {
                    Some(func) if (pc as usize) < func.code.len().max(1) => Ok((FuncId(f), pc, ns)),
                    _ => Err(format!("a {} record names function {f} pc {pc}", s.name())),
                }
            })
            .collect()
    };
    Ok(Heat {
        funcs: records(Section::FuncHeat)?
            .into_iter()
            .map(|(f, _, ns)| (f, ns))
            .collect(),
        loops: records(Section::LoopHeat)?,
        calls: records(Section::CallHeat)?,
    })
}
