//! The host's functions, by name, for the modules that import them.
//!
//! A module imports host functions by name and signature
//! ([`tierjit_tiers::bytecode::HostImport`]: `ModuleBuilder::import`, or
//! `lang::compile_with_imports` for tj source). The host defines them here
//! and passes the set in [`super::VmOptions::host_functions`];
//! [`super::Vm::new`] links each import to its definition and refuses a
//! module whose imports are missing or of another signature, so no call
//! is ever checked again while the program runs.
//!
//! ```
//! use tierjit::{HostError, HostFunctions};
//! use tierjit::runtime::{Vm, VmOptions};
//! let mut host = HostFunctions::new();
//! host.define("half", |(n,): (i64,)| {
//!     if n % 2 == 0 { Ok(n / 2) } else { Err(HostError::new(format!("{n} is odd"))) }
//! });
//! let source = b"fn main() -> int { return half(84); }";
//! let module = tierjit::lang::compile_with_imports(source, &host.imports()).unwrap();
//! let options = VmOptions { host_functions: host, ..Default::default() };
//! let vm = Vm::new(module, options).unwrap();
//! assert_eq!(vm.run_main().unwrap(), Some(42));
//! ```

use super::typed::{signature, Params, Results};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use tierjit_tiers::bytecode::{HostImport, Module};
use tierjit_tiers::host_fn::LinkedHostFn;
use tierjit_tiers::{HostError, HostFn, Type};

/// One defined host function.
#[derive(Clone)]
struct Definition {
    params: Vec<Type>,
    ret: Option<Type>,
    f: Arc<HostFn>,
}

/// A set of host functions, by name. Cheap to clone: the functions are
/// shared.
#[derive(Clone, Default)]
pub struct HostFunctions {
    defs: BTreeMap<String, Definition>,
}

impl fmt::Debug for HostFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.imports()
                    .iter()
                    .map(|i| format!("{}: {}", i.name, signature(&i.params, i.ret))),
            )
            .finish()
    }
}

impl HostFunctions {
    /// An empty set.
    pub fn new() -> HostFunctions {
        HostFunctions::default()
    }

    /// Defines `name` as `f`, with its tj signature from `P` (a tuple of
    /// `i64`, `f64` and `bool`) and `R` (one of them, or `()`); replaces an
    /// earlier definition of the name.
    pub fn define<P, R, F>(&mut self, name: &str, f: F) -> &mut HostFunctions
    where
        P: Params,
        R: Results,
        F: Fn(P) -> Result<R, HostError> + Send + Sync + 'static,
    {
        self.define_raw(name, P::types(), R::ty(), move |bits| {
            f(P::from_bits(bits)).map(R::into_bits)
        })
    }

    /// Defines `name` with the signature `params -> ret` as `f`, which
    /// takes and gives raw bits ([`HostFn`]). For hosts that know
    /// signatures only at run time (a C API, an interpreter's FFI).
    pub fn define_raw<F>(
        &mut self,
        name: &str,
        params: Vec<Type>,
        ret: Option<Type>,
        f: F,
    ) -> &mut HostFunctions
    where
        F: Fn(&[u64]) -> Result<u64, HostError> + Send + Sync + 'static,
    {
        let f: Arc<HostFn> = Arc::new(f);
        self.defs
            .insert(name.to_string(), Definition { params, ret, f });
        self
    }

    /// Every definition as the import a module would declare for it, in
    /// name order: what `lang::compile_with_imports` takes.
    pub fn imports(&self) -> Vec<HostImport> {
        self.defs
            .iter()
            .map(|(name, d)| HostImport {
                name: name.clone(),
                params: d.params.clone(),
                ret: d.ret,
            })
            .collect()
    }

    /// The definition of each of `module`'s imports, in import order.
    pub(crate) fn link(&self, module: &Module) -> Result<Arc<[LinkedHostFn]>, String> {
        module
            .hosts
            .iter()
            .map(|import| {
                let Some(d) = self.defs.get(&import.name) else {
                    return Err(format!(
                        "the program imports host function '{}', which the host does not define",
                        import.name
                    ));
                };
                if (&d.params, d.ret) != (&import.params, import.ret) {
                    return Err(format!(
                        "the program imports host function '{}' as {}, but the host defines it as {}",
                        import.name,
                        signature(&import.params, import.ret),
                        signature(&d.params, d.ret)
                    ));
                }
                Ok(LinkedHostFn {
                    f: d.f.clone(),
                    arity: d.params.len(),
                })
            })
            .collect()
    }
}
