//! Small functions for the inliner, and the call patterns around them.
//!
//! A helper is a leaf of one to three statements: arithmetic such as
//! `return (x * x);`, a getter `return a[i];`, a setter `a[i] = v;`
//! (sometimes returning the old value), a division by a divisor
//! parameter, an alias probe that stores through one array parameter and
//! loads through another, or a short reduction loop up to a bound
//! parameter; some call an earlier helper, so that inlining chains two or
//! three deep, and some recurse on `depth` like other recursive functions.
//! Helpers never print. Call sites pass each parameter what its [`Role`]
//! promises, so a helper needs no guards of its own; in a trapping program
//! a call site may pass an index out of bounds or a zero divisor, and the
//! runtime error happens inside the helper, under its callers' frames.

use super::{Access, Cost, Generator, Param, Role, Signature, Ty};

/// The kinds of helper; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HelperKind {
    Arith,
    Getter,
    Setter,
    Divide,
    AliasProbe,
    Reduce,
    Recursive,
}

/// Every kind, with the weight it is picked with.
const KINDS: [(HelperKind, u32); 7] = [
    (HelperKind::Arith, 6),
    (HelperKind::Getter, 5),
    (HelperKind::Setter, 4),
    (HelperKind::Divide, 2),
    (HelperKind::AliasProbe, 2),
    (HelperKind::Reduce, 2),
    (HelperKind::Recursive, 2),
];

fn one(ty: Ty) -> &'static str {
    if ty == Ty::Float {
        "1.0"
    } else {
        "1"
    }
}

/// The parameters of a helper of `kind` on `element`s.
fn helper_params(kind: HelperKind, element: Ty, arity: usize) -> Vec<Param> {
    let array = Param::plain(Ty::array_of(element));
    let index = Param {
        ty: Ty::Int,
        role: Role::IndexInto(0),
    };
    match kind {
        HelperKind::Arith => vec![Param::plain(element); arity],
        HelperKind::Getter => vec![array, index],
        HelperKind::Setter => vec![array, index, Param::plain(element)],
        HelperKind::Divide => vec![
            Param::plain(Ty::Int),
            Param {
                ty: Ty::Int,
                role: Role::Divisor,
            },
        ],
        HelperKind::AliasProbe => vec![array, array],
        HelperKind::Reduce => vec![
            array,
            Param {
                ty: Ty::Int,
                role: Role::Bound,
            },
        ],
        HelperKind::Recursive => vec![
            Param {
                ty: Ty::Int,
                role: Role::Depth,
            },
            Param::plain(element),
        ],
    }
}

impl Generator<'_> {
    /// A helper function; see the module docs.
    pub(super) fn helper(&mut self) -> String {
        let index = self.funcs.len();
        let name = format!("f{index}");
        let weights: Vec<u32> = KINDS.iter().map(|k| k.1).collect();
        let kind = KINDS[self.rng.weighted(&weights)].0;
        let element = if kind == HelperKind::Divide || self.rng.chance(65) {
            Ty::Int
        } else {
            Ty::Float
        };
        let params = helper_params(kind, element, 1 + self.rng.below(2));
        let ret = match kind {
            HelperKind::Setter if self.rng.chance(60) => None,
            _ => Some(element),
        };
        self.funcs.push(Signature {
            name: name.clone(),
            params: params.clone(),
            ret,
            helper: Some(kind),
            cost: Cost::default(),
        });
        let budget = Cost {
            work: self.config.work_budget / 40,
            prints: 0,
        };
        let recursive = kind == HelperKind::Recursive;
        self.begin_function(index, ret, recursive, budget);
        let names = self.declare_params(&params);
        let mut header = Self::fn_header(&name, &names, &params, ret);
        if recursive {
            header.push_str(&format!(" if depth <= 0 {{ return {}; }}", names[1]));
        }
        self.f.lines.push(header);
        self.charge(Cost { work: 6, prints: 0 });
        match kind {
            HelperKind::Arith => self.arith_body(&names, element),
            HelperKind::Getter => self.getter_body(&names, element),
            HelperKind::Setter => self.setter_body(&names, element, ret.is_some()),
            HelperKind::Divide => self.divide_body(&names),
            HelperKind::AliasProbe => self.alias_probe_body(&names, element),
            HelperKind::Reduce => self.reduce_body(&names, element),
            HelperKind::Recursive => self.recursive_body(index, &params, element),
        }
        let text = self.close_function();
        self.finish_signature(index);
        text
    }

    /// An earlier helper that `fits` and the budget allows.
    fn earlier_helper(&mut self, fits: impl Fn(&Signature) -> bool) -> Option<usize> {
        let found: Vec<usize> = (0..self.f.callees)
            .filter(|&i| {
                let f = &self.funcs[i];
                f.helper.is_some() && fits(f) && self.affordable(f.cost)
            })
            .collect();
        (!found.is_empty()).then(|| *self.rng.pick(&found))
    }

    /// An earlier setter helper on arrays of type `array`.
    fn earlier_setter(&mut self, array: Ty) -> Option<usize> {
        self.earlier_helper(|f| f.helper == Some(HelperKind::Setter) && f.params[0].ty == array)
    }

    /// `name(args)` for `funcs[callee]` with the given arguments, charged.
    fn call_with(&mut self, callee: usize, args: &[&str]) -> String {
        let callee = self.funcs[callee].clone();
        self.charge(callee.cost);
        format!("{}({})", callee.name, args.join(", "))
    }

    fn arith_body(&mut self, names: &[String], ty: Ty) {
        if self.rng.chance(40) {
            let t = self.fresh("v");
            let value = self.expr(ty, 2);
            self.line(format!("let {t} = {value};"));
            self.declare(t, ty, Access::Mutable);
        }
        let chain = self.earlier_helper(|f| f.ret == Some(ty));
        let value = match (self.rng.below(3), chain) {
            (0, Some(callee)) => {
                let call = self.call_to(callee, 1);
                let op = *self.rng.pick(&["+", "-", "*"]);
                format!("({call} {op} {})", self.expr(ty, 1))
            }
            (1, _) => {
                let x = self.rng.pick(names).clone();
                format!("({x} * {x})")
            }
            _ => self.expr(ty, 2),
        };
        self.line(format!("return {value};"));
    }

    fn getter_body(&mut self, names: &[String], element: Ty) {
        let (a, i) = (&names[0], &names[1]);
        let getter =
            self.earlier_helper(|f| f.helper == Some(HelperKind::Getter) && f.ret == Some(element));
        let value = match getter {
            Some(getter) if self.rng.chance(40) => {
                let call = self.call_with(getter, &[a.as_str(), i.as_str()]);
                format!("({call} + {})", one(element))
            }
            _ => format!("{a}[{i}]"),
        };
        self.line(format!("return {value};"));
    }

    fn setter_body(&mut self, names: &[String], element: Ty, returns_old: bool) {
        let (a, i, v) = (&names[0], &names[1], &names[2]);
        if returns_old {
            let old = self.fresh("v");
            self.line(format!("let {old} = {a}[{i}];"));
            self.line(format!("{a}[{i}] = {v};"));
            self.line(format!("return {old};"));
            return;
        }
        let setter = self.earlier_setter(Ty::array_of(element));
        match setter {
            Some(setter) if self.rng.chance(40) => {
                let value = format!("({v} + {})", one(element));
                let call = self.call_with(setter, &[a.as_str(), i.as_str(), &value]);
                self.line(format!("{call};"));
            }
            _ => self.line(format!("{a}[{i}] = {v};")),
        }
    }

    fn divide_body(&mut self, names: &[String]) {
        let (x, d) = (&names[0], &names[1]);
        let op = *self.rng.pick(&["/", "%"]);
        let arith =
            self.earlier_helper(|f| f.helper == Some(HelperKind::Arith) && f.ret == Some(Ty::Int));
        let dividend = match arith {
            Some(arith) if self.rng.chance(40) => self.call_to(arith, 1),
            _ => x.clone(),
        };
        self.line(format!("return ({dividend} {op} {d});"));
    }

    /// Stores through `a` and reads through `b` before and after: the
    /// difference shows whether they alias.
    fn alias_probe_body(&mut self, names: &[String], element: Ty) {
        let (a, b) = (&names[0], &names[1]);
        let (at_a, at_b) = if self.rng.chance(50) {
            ("0".to_string(), "0".to_string())
        } else {
            (format!("(len({a}) - 1)"), format!("(len({b}) - 1)"))
        };
        let t = self.fresh("v");
        self.line(format!("let {t} = {b}[{at_b}];"));
        self.line(format!("{a}[{at_a}] = ({t} + {});", one(element)));
        self.line(format!("return ({b}[{at_b}] - {t});"));
    }

    /// Sums `a[j]` for `j` below the bound parameter (and, unless the
    /// program traps here, below `len(a)`).
    fn reduce_body(&mut self, names: &[String], element: Ty) {
        let (a, n) = (&names[0], &names[1]);
        let (s, j) = (self.fresh("s"), self.fresh("j"));
        let zero = if element == Ty::Float { "0.0" } else { "0" };
        let limit = if self.trap_here() {
            n.clone()
        } else {
            format!("min({n}, len({a}))")
        };
        self.line(format!("let {s} = {zero};"));
        self.open_block(format!("for {j} in 0..{limit} {{"));
        self.line(format!("{s} = ({s} + {a}[{j}]);"));
        self.close_block("}");
        self.charge(Cost { work: 6, prints: 0 }.times(super::MAX_ARRAY_LEN as u64));
        self.line(format!("return {s};"));
    }

    fn recursive_body(&mut self, own: usize, params: &[Param], element: Ty) {
        // Counted first, so that the arguments call it at most once more.
        self.f.self_calls += 1;
        let args = self.args_for(params, true, 1);
        let name = self.funcs[own].name.clone();
        let op = *self.rng.pick(&["+", "-", "*"]);
        let other = self.expr(element, 1);
        self.line(format!(
            "return ({name}({}) {op} {other});",
            args.join(", ")
        ));
    }

    /// A call to a helper as a statement, added to `acc` when the types
    /// fit and dropped otherwise.
    pub(super) fn helper_call_stmt(&mut self, acc: Option<(&str, Ty)>) -> bool {
        let helpers: Vec<usize> = (0..self.f.callees)
            .filter(|&i| self.funcs[i].helper.is_some() && self.affordable(self.funcs[i].cost))
            .collect();
        if helpers.is_empty() {
            return false;
        }
        let callee = *self.rng.pick(&helpers);
        let call = self.call_to(callee, 1);
        match acc {
            Some((acc, ty)) if self.funcs[callee].ret == Some(ty) && self.holds(acc, ty) => {
                self.line(format!("{acc} = ({acc} + {call});"));
            }
            _ => self.line(format!("{call};")),
        }
        true
    }

    /// Two loads of one element, with a store between them through
    /// another name of its array or in a setter helper; prints the
    /// difference.
    pub(super) fn alias_stmt(&mut self) -> bool {
        let Some(array) = self.pick_var(|v| v.ty.element().is_some()) else {
            return false;
        };
        let element = array.ty.element().unwrap_or(Ty::Int);
        let a = array.name;
        let b = if self.rng.chance(50) {
            let b = self.fresh("v");
            self.line(format!("let {b} = {a};"));
            self.declare(b.clone(), array.ty, Access::Mutable);
            b
        } else {
            a.clone()
        };
        let k = self.stable_index(&a);
        let first = self.fresh("v");
        self.charge(Cost { work: 8, prints: 0 });
        self.line(format!("let {first} = {a}[{k}];"));
        self.declare(first.clone(), element, Access::Mutable);
        let value = self.expr(element, 2);
        let store = match self.earlier_setter(array.ty) {
            Some(setter) if self.rng.chance(70) => {
                format!("{};", self.call_with(setter, &[&b, &k, &value]))
            }
            _ => format!("{b}[{k}] = {value};"),
        };
        self.line(store);
        let second = self.fresh("v");
        self.line(format!("let {second} = ({a}[{k}] - {first});"));
        self.declare(second.clone(), element, Access::Mutable);
        if self.can_print() && self.rng.chance(70) {
            self.charge(Cost { work: 1, prints: 1 });
            self.line(format!("print({second});"));
        }
        true
    }

    /// An index into the array variable `array` that means the same on
    /// several consecutive lines: a literal, `len`, or an index variable.
    fn stable_index(&mut self, array: &str) -> String {
        if self.trap_here() {
            return self
                .rng
                .pick(&["(-1)".to_string(), format!("len({array})")])
                .clone();
        }
        if self.rng.chance(50) {
            if let Some(index) = self.induction_index(array) {
                return index;
            }
        }
        if self.rng.chance(50) {
            "0".to_string()
        } else {
            format!("(len({array}) - 1)")
        }
    }
}
