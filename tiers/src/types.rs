//! The value types shared by the front end, the bytecode and every tier.

use std::fmt;

/// The type of a tj value, and so of a bytecode register at a given pc.
///
/// Every type fits in one 64-bit register slot: `Int` as two's complement,
/// `Float` as IEEE-754 bits, `Bool` as 0 or 1, arrays as a pointer to the
/// array's header (see `heap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// 64-bit two's complement integer.
    Int,
    /// IEEE-754 binary64.
    Float,
    /// `true` or `false`.
    Bool,
    /// Reference to a fixed-length array of `int`.
    IntArray,
    /// Reference to a fixed-length array of `float`.
    FloatArray,
}

impl Type {
    /// Every type, in the order of their text-form tags.
    pub const ALL: [Type; 5] = [
        Type::Int,
        Type::Float,
        Type::Bool,
        Type::IntArray,
        Type::FloatArray,
    ];

    /// True for `[int]` and `[float]`.
    pub fn is_array(self) -> bool {
        matches!(self, Type::IntArray | Type::FloatArray)
    }

    /// The element type of an array type.
    pub fn element(self) -> Option<Type> {
        match self {
            Type::IntArray => Some(Type::Int),
            Type::FloatArray => Some(Type::Float),
            _ => None,
        }
    }

    /// The array type whose elements have this type.
    pub fn array_of(self) -> Option<Type> {
        match self {
            Type::Int => Some(Type::IntArray),
            Type::Float => Some(Type::FloatArray),
            _ => None,
        }
    }

    /// The name as written in tj source.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Float => "float",
            Type::Bool => "bool",
            Type::IntArray => "[int]",
            Type::FloatArray => "[float]",
        }
    }

    /// Parses a name as written by [`Type::name`].
    pub fn from_name(s: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == s)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
