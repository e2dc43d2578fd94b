//! Module images: a [`Module`] as one file that runs in place.
//!
//! [`write`] lays a module out as bytes; [`load`] takes such bytes (a
//! mapped file, normally) and gives a module whose instructions, constant
//! pools and line tables are [`Table`]s pointing into them: nothing is
//! parsed or copied but names and signatures, and the pages of a mapped
//! image are read only as the program runs them.
//!
//! ```text
//! header, 64 bytes (little-endian):
//!    0  magic "TJIMAGE\0"        8  format version (u32)
//!   12  size of an instruction  16  file length (u64)
//!   24  checksum (u64): FNV-1a 64 of the file, these 8 bytes read as 0
//!   32  opcode table hash (u64): mnemonics and operand kinds, in order
//!   40  functions (u32)         44  strings (u32)     48  host imports (u32)
//!   52  0 (u32)                 56  offset of the records (u64)
//! records, from that offset:
//!   per function, 44 bytes: name (offset u32, length u32), parameter
//!     types (offset, count: one byte each), result type (u8, 0xff: none),
//!     0 (u8), registers (u16), code (offset, count of instructions),
//!     constants (offset, count of u64), lines (offset, count of runs)
//!   per string, 8 bytes: offset, length (UTF-8 bytes)
//!   per host import, 20 bytes: name, parameter types, result type, 3 zeros
//! data: the bytes the records point at; instructions 4-aligned, as the
//! `repr(u8)` [`Instr`] lays them out; constants 8-aligned; line runs
//! ([`LineRun`]) 4-aligned.
//! ```
//!
//! Loading checks everything before anything points into the bytes: the
//! header, the length, the checksum, every offset, count and alignment,
//! every instruction's tag, every type byte, every name's UTF-8; then the
//! verifier checks the module as it checks any other. A bad image is an
//! [`ImageError`], never a crash.

use super::table::{ImageBytes, Table};
use super::verify::{verify_module, VerifyError};
use super::{Function, HostImport, Instr, LineRun, LineTable, Module, Opcode};
use crate::Type;
use std::fmt;
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"TJIMAGE\0";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 64;
const CHECKSUM_AT: usize = 24;
const FUNC_RECORD: usize = 44;
const STRING_RECORD: usize = 8;
const HOST_RECORD: usize = 20;
const NO_TYPE: u8 = 0xff;

/// Why bytes are not a module image that can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Not an image, or from another version of tierjit, or damaged.
    Malformed(String),
    /// Well formed, but the verifier rejects its bytecode.
    Invalid(VerifyError),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Malformed(why) => write!(f, "bad module image: {why}"),
            ImageError::Invalid(e) => write!(f, "bad module image: {e}"),
        }
    }
}

impl std::error::Error for ImageError {}

fn malformed<T>(why: impl Into<String>) -> Result<T, ImageError> {
    Err(ImageError::Malformed(why.into()))
}

/// True if `bytes` start like an image (its magic), whatever follows.
pub fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// FNV-1a, 64 bits, of `bytes` with the checksum field read as zeros.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, &b) in bytes.iter().enumerate() {
        let b = if (CHECKSUM_AT..CHECKSUM_AT + 8).contains(&i) {
            0
        } else {
            b
        };
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A hash of the opcode table: an image from a tierjit whose instructions
/// differ is refused, not misread.
fn opcode_table_hash() -> u64 {
    let mut text = String::new();
    for op in Opcode::ALL {
        text.push_str(op.mnemonic());
        for kind in op.operand_kinds() {
            text.push_str(&format!(" {kind:?}"));
        }
        text.push('\n');
    }
    checksum(text.as_bytes())
}

fn type_byte(t: Type) -> u8 {
    Type::ALL
        .iter()
        .position(|&u| u == t)
        .expect("every type is in ALL") as u8
}

fn byte_type(b: u8) -> Option<Type> {
    Type::ALL.get(b as usize).copied()
}

/// Bytes of an image being written: the records, then the data.
struct Writer {
    records: Vec<u8>,
    data: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.records.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.records.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.records.extend_from_slice(&v.to_le_bytes());
    }

    /// Puts `bytes` in the data at an `align`ed offset (relative to the
    /// data's start) and writes `offset, count` into the record.
    fn blob(&mut self, bytes: &[u8], align: usize, count: usize) {
        self.data.resize(self.data.len().next_multiple_of(align), 0);
        let at = self.data.len() as u32;
        self.data.extend_from_slice(bytes);
        self.u32(at);
        self.u32(count as u32);
    }

    fn types(&mut self, types: &[Type]) {
        let bytes: Vec<u8> = types.iter().map(|&t| type_byte(t)).collect();
        self.blob(&bytes, 1, bytes.len());
    }
}

/// `instr` as the bytes of its `repr(u8)` layout: the tag, then each
/// field at its `repr(C)` offset (registers 2-aligned, every other
/// operand 4-aligned), zeros between.
fn instr_bytes(instr: &Instr) -> [u8; std::mem::size_of::<Instr>()] {
    let mut out = [0u8; std::mem::size_of::<Instr>()];
    out[0] = instr.opcode() as u8;
    let mut at: usize = 1;
    instr.for_each_operand(|kind, v| {
        if kind.is_register() {
            at = at.next_multiple_of(2);
            out[at..at + 2].copy_from_slice(&(v as u16).to_le_bytes());
            at += 2;
        } else {
            at = at.next_multiple_of(4);
            out[at..at + 4].copy_from_slice(&v.to_le_bytes());
            at += 4;
        }
    });
    out
}

/// The image of `module`.
pub fn write(module: &Module) -> Vec<u8> {
    let mut w = Writer {
        records: Vec::new(),
        data: Vec::new(),
    };
    for f in &module.funcs {
        w.blob(f.name.as_bytes(), 1, f.name.len());
        w.types(&f.params);
        w.u8(f.ret.map_or(NO_TYPE, type_byte));
        w.u8(0);
        w.u16(f.num_regs);
        let code: Vec<u8> = f.code.iter().flat_map(instr_bytes).collect();
        w.blob(&code, 4, f.code.len());
        let consts: Vec<u8> = f.consts.iter().flat_map(|k| k.to_le_bytes()).collect();
        w.blob(&consts, 8, f.consts.len());
        let lines: Vec<u8> = f
            .lines
            .runs()
            .iter()
            .flat_map(|r| [r.pc.to_le_bytes(), r.line.to_le_bytes()].concat())
            .collect();
        w.blob(&lines, 4, f.lines.runs().len());
    }
    for s in &module.strings {
        w.blob(s.as_bytes(), 1, s.len());
    }
    for h in &module.hosts {
        w.blob(h.name.as_bytes(), 1, h.name.len());
        w.types(&h.params);
        w.u8(h.ret.map_or(NO_TYPE, type_byte));
        w.records.extend_from_slice(&[0; 3]);
    }
    // Data offsets are relative to the data's start until here.
    let data_at = (HEADER_LEN + w.records.len()).next_multiple_of(8);
    let mut out = Vec::with_capacity(data_at + w.data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(std::mem::size_of::<Instr>() as u32).to_le_bytes());
    out.extend_from_slice(&((data_at + w.data.len()) as u64).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&opcode_table_hash().to_le_bytes());
    for n in [
        module.funcs.len(),
        module.strings.len(),
        module.hosts.len(),
        0,
    ] {
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(&(HEADER_LEN as u64).to_le_bytes());
    out.extend_from_slice(&relocate_offsets(module, &w.records, data_at as u32));
    out.resize(data_at, 0);
    out.extend_from_slice(&w.data);
    let sum = checksum(&out);
    out[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
    out
}

/// The records with every data offset made absolute (`data_at` added).
fn relocate_offsets(module: &Module, records: &[u8], data_at: u32) -> Vec<u8> {
    let mut out = records.to_vec();
    let mut shift = |at: usize| {
        let v = u32::from_le_bytes(out[at..at + 4].try_into().expect("4 bytes"));
        out[at..at + 4].copy_from_slice(&(v + data_at).to_le_bytes());
    };
    let mut at = 0;
    for _ in &module.funcs {
        for field in [0, 8, 20, 28, 36] {
            shift(at + field);
        }
        at += FUNC_RECORD;
    }
    for _ in &module.strings {
        shift(at);
        at += STRING_RECORD;
    }
    for _ in &module.hosts {
        shift(at);
        shift(at + 8);
        at += HOST_RECORD;
    }
    out
}

/// Reads the records of an image, checking every range.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ImageError> {
        match self.bytes.get(self.at..self.at + N) {
            Some(b) => {
                self.at += N;
                Ok(b.try_into().expect("N bytes"))
            }
            None => malformed("the records run past the end"),
        }
    }
    fn u8(&mut self) -> Result<u8, ImageError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, ImageError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, ImageError> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    /// An `offset, count` pair naming `count` items of `size` bytes,
    /// `align`ed: the byte offset, once checked to lie in the image.
    fn range(
        &mut self,
        size: usize,
        align: usize,
        what: &str,
    ) -> Result<(usize, usize), ImageError> {
        let (offset, count) = (self.u32()? as usize, self.u32()? as usize);
        let end = count.checked_mul(size).and_then(|n| n.checked_add(offset));
        match end {
            Some(end) if end <= self.bytes.len() && offset % align == 0 => Ok((offset, count)),
            _ => malformed(format!(
                "{what} at {offset} ({count} items) is outside the image or misaligned"
            )),
        }
    }

    fn str(&mut self, what: &str) -> Result<String, ImageError> {
        let (at, len) = self.range(1, 1, what)?;
        match std::str::from_utf8(&self.bytes[at..at + len]) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => malformed(format!("{what} at {at} is not UTF-8")),
        }
    }

    fn types(&mut self, what: &str) -> Result<Vec<Type>, ImageError> {
        let (at, len) = self.range(1, 1, what)?;
        self.bytes[at..at + len]
            .iter()
            .map(|&b| {
                byte_type(b).ok_or_else(|| ImageError::Malformed(format!("{what}: type byte {b}")))
            })
            .collect()
    }

    fn ret(&mut self, what: &str) -> Result<Option<Type>, ImageError> {
        match self.u8()? {
            NO_TYPE => Ok(None),
            b => match byte_type(b) {
                Some(t) => Ok(Some(t)),
                None => malformed(format!("{what}: type byte {b}")),
            },
        }
    }
}

fn header_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn header_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks the header; gives the counts of functions, strings and hosts and
/// where the records start.
fn check_header(bytes: &[u8]) -> Result<(usize, usize, usize, usize), ImageError> {
    if bytes.len() < HEADER_LEN || !is_image(bytes) {
        return malformed("not a tierjit module image (no TJIMAGE header)");
    }
    let version = header_u32(bytes, 8);
    if version != VERSION {
        return malformed(format!(
            "format version {version}, this tierjit reads {VERSION}"
        ));
    }
    if header_u32(bytes, 12) as usize != std::mem::size_of::<Instr>()
        || header_u64(bytes, 32) != opcode_table_hash()
    {
        return malformed("written by a tierjit with other instructions");
    }
    let len = header_u64(bytes, 16);
    if len != bytes.len() as u64 || len > u64::from(u32::MAX) {
        return malformed(format!("{} bytes long, the header says {len}", bytes.len()));
    }
    if header_u64(bytes, CHECKSUM_AT) != checksum(bytes) {
        return malformed("checksum mismatch (the file is damaged)");
    }
    if (bytes.as_ptr() as usize) & 7 != 0 {
        return malformed("the image's bytes are not 8-byte aligned in memory");
    }
    let counts = (
        header_u32(bytes, 40) as usize,
        header_u32(bytes, 44) as usize,
        header_u32(bytes, 48) as usize,
    );
    let records = usize::try_from(header_u64(bytes, 56)).unwrap_or(usize::MAX);
    Ok((counts.0, counts.1, counts.2, records))
}

/// The module in `image`, its code, constants and lines used in place.
pub fn load(image: Arc<dyn ImageBytes>) -> Result<Module, ImageError> {
    let bytes = image.bytes();
    let (funcs, strings, hosts, records) = check_header(bytes)?;
    let mut r = Reader { bytes, at: records };
    let mut module = Module::default();
    for i in 0..funcs {
        let what = format!("function {i}");
        let name = r.str(&what)?;
        let params = r.types(&what)?;
        let ret = r.ret(&what)?;
        r.u8()?;
        let num_regs = r.u16()?;
        let size = std::mem::size_of::<Instr>();
        let (code_at, code_len) = r.range(size, std::mem::align_of::<Instr>(), &what)?;
        for k in 0..code_len {
            let tag = bytes[code_at + k * size];
            if Opcode::from_u8(tag).is_none() {
                return malformed(format!("{what}: instruction {k} has opcode {tag}"));
            }
        }
        let (consts_at, consts_len) = r.range(8, 8, &what)?;
        let (lines_at, lines_len) = r.range(8, 4, &what)?;
        // SAFETY: each range was checked to lie in the image and to be
        // aligned (the image's base is 8-aligned); every instruction's tag
        // is an opcode, and every field of every variant (u16, u32, i32)
        // is valid for any bits; u64 and LineRun (two u32s) are valid for
        // any bits. The bytes never change (ImageBytes).
        let (code, consts, runs) = unsafe {
            (
                Table::<Instr>::in_image(image.clone(), code_at, code_len),
                Table::<u64>::in_image(image.clone(), consts_at, consts_len),
                Table::<LineRun>::in_image(image.clone(), lines_at, lines_len),
            )
        };
        module.funcs.push(Function {
            name,
            params,
            ret,
            num_regs,
            code,
            consts,
            lines: LineTable::from_runs(runs),
        });
    }
    for i in 0..strings {
        module.strings.push(r.str(&format!("string {i}"))?);
    }
    for i in 0..hosts {
        let what = format!("host import {i}");
        let name = r.str(&what)?;
        let params = r.types(&what)?;
        let ret = r.ret(&what)?;
        r.take::<3>()?;
        module.hosts.push(HostImport { name, params, ret });
    }
    verify_module(&module).map_err(ImageError::Invalid)?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::Reg;

    /// Bytes in an 8-aligned buffer, as a mapped file is.
    struct Aligned(Vec<u64>, usize);

    impl ImageBytes for Aligned {
        fn bytes(&self) -> &[u8] {
            // SAFETY: the u64s' own bytes, `self.1 <= 8 * len` of them.
            unsafe { std::slice::from_raw_parts(self.0.as_ptr() as *const u8, self.1) }
        }
    }

    fn aligned(bytes: &[u8]) -> Arc<dyn ImageBytes> {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            words[i] = u64::from_le_bytes(w);
        }
        Arc::new(Aligned(words, bytes.len()))
    }

    /// Every opcode with distinct operand values survives the trip through
    /// bytes: the writer's idea of the `repr(u8)` layout is the compiler's.
    #[test]
    fn every_instruction_reads_back_in_place() {
        for (n, &op) in Opcode::ALL.iter().enumerate() {
            let values: Vec<u32> = (0..4).map(|i| 0x0101 * (n as u32 + 1) + i).collect();
            let instr = Instr::from_parts(op, &values);
            let bytes = instr_bytes(&instr);
            let image = aligned(&bytes);
            // SAFETY: 12 aligned bytes whose tag is an opcode.
            let table: Table<Instr> = unsafe { Table::in_image(image, 0, 1) };
            assert_eq!(table[0], instr, "{}", op.mnemonic());
        }
    }

    fn sample_module() -> Module {
        let mut m = crate::bytecode::builder::ModuleBuilder::new();
        let h = m.import("twice", vec![Type::Int], Some(Type::Int)).unwrap();
        let main = m.declare("main", vec![], Some(Type::Int)).unwrap();
        let mut f = m.function(main);
        f.reserve_regs(2);
        f.set_line(3);
        f.load_int(Reg(1), 1 << 40);
        f.set_line(4);
        f.load_float(Reg(0), 0.5);
        f.emit(Instr::CallHost {
            dst: Reg(0),
            host: h,
            base: Reg(1),
        });
        let s = m.string("hi");
        f.emit(Instr::PrintStr { s });
        f.emit(Instr::Return { src: Reg(0) });
        m.define(main, f).unwrap();
        m.finish().unwrap()
    }

    #[test]
    fn a_module_round_trips_and_runs_from_the_image_bytes() {
        let module = sample_module();
        let bytes = write(&module);
        let loaded = load(aligned(&bytes)).unwrap();
        assert_eq!(loaded, module);
        assert!(loaded.funcs[0].code.is_in_image());
        assert_eq!(loaded.funcs[0].lines.line(1), 4);
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_an_error() {
        let bytes = write(&sample_module());
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x5a;
            assert!(load(aligned(&bad)).is_err(), "flip at {at}");
        }
        for len in 0..bytes.len() {
            assert!(load(aligned(&bytes[..len])).is_err(), "cut at {len}");
        }
    }

    /// With the checksum made right again, a flip reaches the structural
    /// checks and the verifier: each either refuses the image or gives a
    /// module the verifier accepts; none may panic.
    #[test]
    fn flips_behind_a_fixed_checksum_never_get_past_the_checks_unverified() {
        let bytes = write(&sample_module());
        let checksum_field = CHECKSUM_AT..CHECKSUM_AT + 8;
        for at in (0..bytes.len()).filter(|at| !checksum_field.contains(at)) {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] ^= bit;
                let sum = checksum(&bad);
                bad[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
                if let Ok(module) = load(aligned(&bad)) {
                    verify_module(&module).expect("loaded modules are verified");
                }
            }
        }
    }
}
