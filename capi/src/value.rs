//! `tj_value` and `tj_type`: tj's scalar values as C sees them.
//!
//! A tj register holds 64 bits: an `int` as `i64`, a `float` as `f64`'s
//! bits, a `bool` as 0 or 1. A `tj_value` is those bits with a tag, so a
//! call can check every argument's type against the function's.

use tierjit::tiers::Type;

/// The type of a `tj_value` (an integer, not a C enum, so that any value a
/// caller stores is one the library can check).
pub type tj_type = u32;

/// No value: the result of a function without one; the return type of a
/// host function without one.
pub const TJ_VOID: tj_type = 0;
/// tj's `int`: `int64_t`, in `of.i`.
pub const TJ_INT: tj_type = 1;
/// tj's `float`: `double`, in `of.f`.
pub const TJ_FLOAT: tj_type = 2;
/// tj's `bool`: `bool`, in `of.b`.
pub const TJ_BOOL: tj_type = 3;

/// A tj value: `{ .type = TJ_INT, .of.i = 42 }`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tj_value {
    /// Which member of `of` holds the value.
    pub r#type: tj_type,
    /// The value.
    pub of: tj_value_of,
}

/// The value of a `tj_value`, as its `type` says.
#[repr(C)]
#[derive(Clone, Copy)]
pub union tj_value_of {
    /// `TJ_INT`.
    pub i: i64,
    /// `TJ_FLOAT`.
    pub f: f64,
    /// `TJ_BOOL`.
    pub b: bool,
}

impl tj_value {
    /// The value of type `ty` (`None`: void) with register bits `bits`.
    pub fn from_bits(ty: Option<Type>, bits: u64) -> tj_value {
        let r#type = ty.map_or(TJ_VOID, tag_of);
        let bits = match ty {
            None => 0,
            Some(Type::Bool) => (bits != 0) as u64,
            Some(_) => bits,
        };
        // Every byte is written, so `of.b` reads the low byte (x86-64 is
        // little-endian) and `of.i` never reads bytes nobody wrote.
        tj_value {
            r#type,
            of: tj_value_of { i: bits as i64 },
        }
    }

    /// The register bits of this value, if it is of type `ty`.
    pub fn bits_as(&self, ty: Type) -> Option<u64> {
        if self.r#type != tag_of(ty) {
            return None;
        }
        Some(match ty {
            // Read as a byte, not as a Rust `bool`: a byte other than 0 or
            // 1 (a union written through another member) is then `true`,
            // not undefined behaviour.
            // SAFETY: the union is 8 bytes; its first byte is the `b` the
            // caller wrote (the tag says so).
            Type::Bool => (unsafe { *std::ptr::addr_of!(self.of).cast::<u8>() } != 0) as u64,
            // SAFETY: the tag says the caller wrote `i` or `f`; every bit
            // pattern is a valid i64.
            _ => (unsafe { self.of.i }) as u64,
        })
    }
}

impl std::fmt::Debug for tj_value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match type_of(self.r#type) {
            Ok(Some(ty)) => {
                let bits = self.bits_as(ty).expect("the tag is the type");
                match ty {
                    Type::Float => write!(f, "{:?}", f64::from_bits(bits)),
                    Type::Bool => write!(f, "{}", bits != 0),
                    _ => write!(f, "{}", bits as i64),
                }
            }
            _ => write!(f, "({})", tag_name(self.r#type)),
        }
    }
}

/// The tag of a scalar type (arrays have none: `TJ_VOID`).
pub fn tag_of(ty: Type) -> tj_type {
    match ty {
        Type::Int => TJ_INT,
        Type::Float => TJ_FLOAT,
        Type::Bool => TJ_BOOL,
        Type::IntArray | Type::FloatArray => TJ_VOID,
    }
}

/// The tj type of a tag (`Ok(None)`: `TJ_VOID`), or the tag itself if it
/// is none of them.
pub fn type_of(tag: tj_type) -> Result<Option<Type>, tj_type> {
    match tag {
        TJ_VOID => Ok(None),
        TJ_INT => Ok(Some(Type::Int)),
        TJ_FLOAT => Ok(Some(Type::Float)),
        TJ_BOOL => Ok(Some(Type::Bool)),
        other => Err(other),
    }
}

/// The tj name of a tag, for messages: `int`, or `type 9` for one that is
/// none.
pub fn tag_name(tag: tj_type) -> String {
    match type_of(tag) {
        Ok(Some(ty)) => ty.name().to_string(),
        Ok(None) => "void".to_string(),
        Err(other) => format!("type {other}"),
    }
}
