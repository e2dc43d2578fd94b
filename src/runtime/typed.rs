//! Typed calls from a host into tj functions.
//!
//! [`Vm::typed`] looks a function up by name and checks its signature
//! against Rust types once; the [`TypedFunc`] it gives then calls the
//! function with Rust values, in whatever tier the function runs. `int`
//! is `i64`, `float` is `f64`, `bool` is `bool`, and a function with no
//! result returns `()`. Arrays cannot cross the boundary yet.
//!
//! ```
//! let module = tierjit::lang::compile(
//!     b"fn hyp(x: float, y: float) -> float { return sqrt(x * x + y * y); }
//!       fn main() {}",
//! )
//! .unwrap();
//! let vm = tierjit::runtime::Vm::new(module, Default::default()).unwrap();
//! let hyp = vm.typed::<(f64, f64), f64>("hyp").unwrap();
//! assert_eq!(hyp.call(&vm, (3.0, 4.0)).unwrap(), 5.0);
//! // The signature is checked when the function is looked up.
//! assert!(vm.typed::<(i64, i64), f64>("hyp").is_err());
//! ```

use super::call_context::CallContext;
use super::Vm;
use std::fmt;
use std::marker::PhantomData;
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::trap::RuntimeError;
use tierjit_tiers::Type;

/// A Rust type that is a tj value type.
pub trait ValueType: Copy {
    /// The tj type.
    const TYPE: Type;
    /// The value as the 64 bits a tj register holds.
    fn to_bits(self) -> u64;
    /// The value of a tj register's 64 bits.
    fn from_bits(bits: u64) -> Self;
}

impl ValueType for i64 {
    const TYPE: Type = Type::Int;
    fn to_bits(self) -> u64 {
        self as u64
    }
    fn from_bits(bits: u64) -> i64 {
        bits as i64
    }
}

impl ValueType for f64 {
    const TYPE: Type = Type::Float;
    fn to_bits(self) -> u64 {
        self.to_bits()
    }
    fn from_bits(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
}

impl ValueType for bool {
    const TYPE: Type = Type::Bool;
    fn to_bits(self) -> u64 {
        self as u64
    }
    fn from_bits(bits: u64) -> bool {
        bits != 0
    }
}

/// The parameters of a tj function as a Rust tuple of [`ValueType`]s
/// (`()` for none).
pub trait Params {
    /// The tj types, in order.
    fn types() -> Vec<Type>;
    /// The values as register bits, in order: the first
    /// `Self::types().len()` of the array.
    fn bits(self) -> [u64; MAX_PARAMS];
    /// The values of register bits, in order (a host function's
    /// arguments; `bits` has one per parameter).
    fn from_bits(bits: &[u64]) -> Self;
}

macro_rules! params {
    ($($name:ident),*) => {
        impl<$($name: ValueType),*> Params for ($($name,)*) {
            fn types() -> Vec<Type> {
                vec![$($name::TYPE),*]
            }
            #[allow(non_snake_case, unused_mut)]
            fn bits(self) -> [u64; MAX_PARAMS] {
                let ($($name,)*) = self;
                let mut bits = [0; MAX_PARAMS];
                for (slot, value) in bits.iter_mut().zip([$($name.to_bits()),*]) {
                    *slot = value;
                }
                bits
            }
            #[allow(unused_variables, unused_mut, unused_assignments, clippy::unused_unit)]
            fn from_bits(bits: &[u64]) -> Self {
                let mut next = bits.iter();
                ($($name::from_bits(*next.next().unwrap_or(&0)),)*)
            }
        }
    };
}

/// The most parameters a typed call passes.
pub const MAX_PARAMS: usize = 8;

params!();
params!(A);
params!(A, B);
params!(A, B, C);
params!(A, B, C, D);
params!(A, B, C, D, E);
params!(A, B, C, D, E, F);
params!(A, B, C, D, E, F, G);
params!(A, B, C, D, E, F, G, H);

/// The result of a tj function as a Rust type: a [`ValueType`], or `()`
/// for a function without one.
pub trait Results: Sized {
    /// The tj type (`None`: no result).
    fn ty() -> Option<Type>;
    /// The value of the returned bits (`None` if nothing was returned).
    fn from_result(bits: Option<u64>) -> Self;
    /// The value as the bits a host function gives (0 for `()`).
    fn into_bits(self) -> u64;
}

impl Results for () {
    fn ty() -> Option<Type> {
        None
    }
    fn from_result(_: Option<u64>) {}
    fn into_bits(self) -> u64 {
        0
    }
}

impl<T: ValueType> Results for T {
    fn ty() -> Option<Type> {
        Some(T::TYPE)
    }
    fn from_result(bits: Option<u64>) -> T {
        T::from_bits(bits.unwrap_or(0))
    }
    fn into_bits(self) -> u64 {
        self.to_bits()
    }
}

/// Why a typed call could not be made, or what it ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The module has no function of this name.
    NoSuchFunction(String),
    /// The function's signature is not the one asked for (both shown as
    /// `fn(int, float) -> bool`).
    Signature {
        /// The function's name.
        name: String,
        /// The signature asked for.
        asked: String,
        /// The function's own.
        actual: String,
    },
    /// The call ended with a runtime error.
    Runtime(RuntimeError),
    /// The function was looked up in another Vm.
    OtherVm,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::NoSuchFunction(name) => write!(f, "no function `{name}`"),
            CallError::Signature {
                name,
                asked,
                actual,
            } => write!(f, "`{name}` is `{actual}`, not `{asked}`"),
            CallError::Runtime(error) => error.fmt(f),
            CallError::OtherVm => f.write_str("the function belongs to another Vm"),
        }
    }
}

impl std::error::Error for CallError {}

/// `fn(int, float) -> bool`.
pub(crate) fn signature(params: &[Type], ret: Option<Type>) -> String {
    let params: Vec<&str> = params.iter().map(|t| t.name()).collect();
    match ret {
        Some(ret) => format!("fn({}) -> {ret}", params.join(", ")),
        None => format!("fn({})", params.join(", ")),
    }
}

/// A tj function whose signature was checked against `P` and `R`: see
/// [`Vm::typed`].
#[derive(Debug)]
pub struct TypedFunc<P, R> {
    func: FuncId,
    /// The number of parameters.
    arity: usize,
    /// The address of the Vm it was looked up in.
    vm: usize,
    types: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P: Params, R: Results> TypedFunc<P, R> {
    /// Calls the function on the calling thread, with `vm`, the Vm it was
    /// looked up in; the program's first runtime error, if any, is the
    /// call's.
    pub fn call(&self, vm: &Vm, params: P) -> Result<R, CallError> {
        if vm as *const Vm as usize != self.vm {
            return Err(CallError::OtherVm);
        }
        vm.call_bits(self.func, &params.bits()[..self.arity])
            .map(R::from_result)
            .map_err(CallError::Runtime)
    }

    /// [`TypedFunc::call`] through a thread's [`CallContext`] of the same
    /// Vm: the cheap way to call again and again.
    pub fn call_in(&self, cx: &mut CallContext, params: P) -> Result<R, CallError> {
        if cx.vm() as *const Vm as usize != self.vm {
            return Err(CallError::OtherVm);
        }
        cx.call_bits(self.func, &params.bits()[..self.arity])
            .map(R::from_result)
            .map_err(CallError::Runtime)
    }

    /// The function's id in its module.
    pub fn id(&self) -> FuncId {
        self.func
    }
}

impl Vm {
    /// The function `name`, checked to take `P` and give `R`.
    pub fn typed<P: Params, R: Results>(&self, name: &str) -> Result<TypedFunc<P, R>, CallError> {
        let module = self.module();
        let func = module
            .find(name)
            .ok_or_else(|| CallError::NoSuchFunction(name.to_string()))?;
        let f = module.func(func);
        let asked = (P::types(), R::ty());
        if (f.params.as_slice(), f.ret) != (asked.0.as_slice(), asked.1) {
            return Err(CallError::Signature {
                name: name.to_string(),
                asked: signature(&asked.0, asked.1),
                actual: signature(&f.params, f.ret),
            });
        }
        Ok(TypedFunc {
            func,
            arity: asked.0.len(),
            vm: self as *const Vm as usize,
            types: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm_in(source: &str, tier: super::super::TierMode) -> std::sync::Arc<Vm> {
        let source = format!("{source} fn main() {{}}");
        let options = super::super::VmOptions {
            tier,
            ..Default::default()
        };
        Vm::new(crate::lang::compile(source.as_bytes()).unwrap(), options).unwrap()
    }

    fn vm(source: &str) -> std::sync::Arc<Vm> {
        vm_in(source, Default::default())
    }

    #[test]
    fn values_of_every_type_cross_both_ways_in_every_tier() {
        use super::super::TierMode;
        for tier in [TierMode::Interp, TierMode::Baseline, TierMode::Opt] {
            let vm = vm_in(
                "fn pick(c: bool, a: int, x: float) -> float {
                     if c { return float(a); } return x; }
                 fn neg(b: bool) -> bool { return !b; }
                 fn nothing(a: int) { }",
                tier,
            );
            let pick = vm.typed::<(bool, i64, f64), f64>("pick").unwrap();
            assert_eq!(pick.call(&vm, (true, -3, 0.5)).unwrap(), -3.0, "{tier:?}");
            assert_eq!(pick.call(&vm, (false, -3, 0.5)).unwrap(), 0.5, "{tier:?}");
            let neg = vm.typed::<(bool,), bool>("neg").unwrap();
            assert!(!neg.call(&vm, (true,)).unwrap(), "{tier:?}");
            assert!(neg.call(&vm, (false,)).unwrap(), "{tier:?}");
            vm.typed::<(i64,), ()>("nothing")
                .unwrap()
                .call(&vm, (7,))
                .unwrap();
            assert_eq!(vm.current_tier(pick.id()), tier_of(tier), "{tier:?}");
        }
    }

    fn tier_of(mode: super::super::TierMode) -> tierjit_tiers::code::Tier {
        use super::super::TierMode;
        use tierjit_tiers::code::Tier;
        match mode {
            TierMode::Baseline => Tier::Baseline,
            TierMode::Opt => Tier::Opt,
            _ => Tier::Interp,
        }
    }

    #[test]
    fn a_wrong_name_or_signature_is_refused_with_both_signatures() {
        let vm = vm("fn f(a: int, x: float) -> bool { return x > float(a); }");
        assert_eq!(
            vm.typed::<(), ()>("g").unwrap_err(),
            CallError::NoSuchFunction("g".into())
        );
        let error = vm.typed::<(i64, i64), bool>("f").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`f` is `fn(int, float) -> bool`, not `fn(int, int) -> bool`"
        );
        assert!(vm.typed::<(i64, f64), ()>("f").is_err());
        let f = vm.typed::<(i64, f64), bool>("f").unwrap();
        let other = vm_in(
            "fn f(a: int, x: float) -> bool { return true; }",
            Default::default(),
        );
        assert_eq!(f.call(&other, (1, 2.0)), Err(CallError::OtherVm));
        assert_eq!(f.call(&vm, (1, 2.0)), Ok(true));
    }

    #[test]
    fn raw_calls_refuse_what_bits_cannot_be() {
        let vm = vm("fn f(a: int) -> int { return a; } fn g(xs: [int]) -> int { return len(xs); }");
        let bad = |r: Result<Option<u64>, RuntimeError>| r.unwrap_err().trap;
        let f = vm.module().find("f").unwrap();
        let g = vm.module().find("g").unwrap();
        use tierjit_tiers::trap::Trap;
        assert_eq!(bad(vm.call_bits(f, &[])), Trap::BadArgument);
        assert_eq!(bad(vm.call_bits(g, &[0x1000])), Trap::BadArgument);
        assert_eq!(bad(vm.call_bits(FuncId(99), &[])), Trap::BadArgument);
        assert_eq!(vm.call_bits(f, &[5]), Ok(Some(5)));
    }

    #[test]
    fn a_runtime_error_comes_back_with_its_backtrace() {
        let vm = vm("fn div(a: int, b: int) -> int { return a / b; }
                     fn outer(a: int) -> int { return div(a, 0); }");
        let outer = vm.typed::<(i64,), i64>("outer").unwrap();
        let CallError::Runtime(error) = outer.call(&vm, (1,)).unwrap_err() else {
            panic!("not a runtime error");
        };
        let names: Vec<&str> = error
            .frames
            .iter()
            .map(|&(f, _)| vm.module().func(f).name.as_str())
            .collect();
        assert_eq!(names, ["div", "outer"]);
    }
}
