//! Statements: each kind's generator, with the bounds that keep loops and
//! recursion finite (see the module docs of [`super`]).

use super::{Access, Cost, Generator, Ty, Var, MAX_ARRAY_LEN};

/// Statements, by the weight with which they are picked.
#[derive(Clone, Copy)]
enum Stmt {
    Let,
    Assign,
    Store,
    Print,
    If,
    For,
    While,
    Call,
    Jump,
    Return,
    AtomicAdd,
    Spawn,
    IndexFor,
    IndexWhile,
    Alias,
}

/// String literals to print, with every escape.
const STRINGS: &[&str] = &[
    "\"tick\"",
    "\"a\\tb\"",
    "\"say \\\"hi\\\"\"",
    "\"back\\\\slash\"",
    "\"\"",
];

impl Generator<'_> {
    /// A block's statements; a function body (block depth 0) gets more.
    pub(super) fn block_contents(&mut self) {
        let count = if self.f.block_depth == 0 {
            self.config.max_stmts / 2 + 1 + self.rng.below(2 * self.config.max_stmts)
        } else {
            1 + self.rng.below(self.config.max_stmts)
        };
        for _ in 0..count {
            if !self.affordable(Cost {
                work: 16,
                prints: 0,
            }) {
                break;
            }
            self.stmt();
        }
    }

    fn stmt(&mut self) {
        let nested = self.f.block_depth < self.config.max_block_depth;
        let in_loop = self.f.loop_depth > 0;
        let options = [
            (Stmt::Let, 20),
            (Stmt::Assign, 14),
            (Stmt::Store, 7),
            (Stmt::Print, if self.can_print() { 22 } else { 0 }),
            (Stmt::If, if nested { 9 } else { 0 }),
            (Stmt::For, if nested { 7 } else { 0 }),
            (Stmt::While, if nested { 4 } else { 0 }),
            (Stmt::Call, if self.f.is_main { 14 } else { 6 }),
            (Stmt::Jump, if in_loop { 4 } else { 0 }),
            (Stmt::Return, if self.f.block_depth > 0 { 2 } else { 0 }),
            (Stmt::AtomicAdd, 2),
            (Stmt::Spawn, if self.can_spawn() { 1 } else { 0 }),
            (Stmt::IndexFor, if nested { 2 } else { 0 }),
            (Stmt::IndexWhile, if nested { 1 } else { 0 }),
            (Stmt::Alias, 1),
        ];
        let weights: Vec<u32> = options.iter().map(|o| o.1).collect();
        let done = match options[self.rng.weighted(&weights)].0 {
            Stmt::Let => false,
            Stmt::Assign => self.assign_stmt(),
            Stmt::Store => self.store_stmt(),
            Stmt::Print => self.print_stmt(),
            Stmt::If => self.if_stmt(),
            Stmt::For => self.for_stmt(),
            Stmt::While => self.while_stmt(),
            Stmt::Call => self.call_stmt(),
            Stmt::Jump => self.jump_stmt(),
            Stmt::Return => self.return_stmt(),
            Stmt::AtomicAdd => self.atomic_add_stmt(),
            Stmt::Spawn => self.spawn_stmt(),
            Stmt::IndexFor => self.index_loop_stmt(false),
            Stmt::IndexWhile => self.index_loop_stmt(true),
            Stmt::Alias => self.alias_stmt(),
        };
        if !done {
            self.let_stmt();
        }
    }

    fn let_stmt(&mut self) {
        let ty = *self.rng.pick(&Ty::ALL);
        let value = self.expr(ty, self.config.max_expr_depth);
        let shadowable =
            self.vars_where(|v| matches!(v.access, Access::Mutable | Access::ReadOnly));
        let name = if !shadowable.is_empty() && self.rng.chance(25) {
            self.rng.pick(&shadowable).name.clone()
        } else {
            self.fresh("v")
        };
        let annotation = if self.rng.chance(30) {
            format!(": {}", ty.name())
        } else {
            String::new()
        };
        // Declared after its initializer, which still sees the old binding.
        self.line(format!("let {name}{annotation} = {value};"));
        self.declare(name.clone(), ty, Access::Mutable);
        let scalar = matches!(ty, Ty::Int | Ty::Float | Ty::Bool);
        if scalar && self.can_print() && self.rng.chance(25) {
            self.charge(Cost { work: 1, prints: 1 });
            self.line(format!("print({name});"));
        }
    }

    fn assign_stmt(&mut self) -> bool {
        let Some(var) = self.pick_var(|v| v.access == Access::Mutable) else {
            return false;
        };
        let value = self.expr(var.ty, self.config.max_expr_depth);
        self.line(format!("{} = {value};", var.name));
        true
    }

    fn store_stmt(&mut self) -> bool {
        let Some(array) = self.pick_var(|v| v.ty.element().is_some()) else {
            return false;
        };
        let index = self.index(&array.name);
        let element = array.ty.element().unwrap_or(Ty::Int);
        let value = self.expr(element, self.config.max_expr_depth);
        self.line(format!("{}[{index}] = {value};", array.name));
        true
    }

    fn print_stmt(&mut self) -> bool {
        self.charge(Cost { work: 1, prints: 1 });
        let roll = self.rng.below(100);
        let scalar = |v: &Var| matches!(v.ty, Ty::Int | Ty::Float | Ty::Bool);
        let argument = if roll < 5 {
            self.rng.pick(STRINGS).to_string()
        } else if let (true, Some(var)) = (roll < 50, self.pick_var(scalar)) {
            var.name
        } else {
            let ty = *self.rng.pick(&Ty::SCALARS);
            self.expr(ty, self.config.max_expr_depth)
        };
        self.line(format!("print({argument});"));
        true
    }

    fn if_stmt(&mut self) -> bool {
        let cond = self.expr(Ty::Bool, 2);
        self.open_block(format!("if {cond} {{"));
        self.block_contents();
        for _ in 0..self.rng.below(3) {
            self.next_branch(true);
        }
        if self.rng.chance(50) {
            self.next_branch(false);
        }
        self.close_block("}");
        true
    }

    /// Closes the current branch of an `if` and fills the next one: an
    /// `else if` (its condition sees only the variables outside the `if`)
    /// or the final `else`.
    fn next_branch(&mut self, with_condition: bool) {
        self.end_scope();
        let separator = if with_condition {
            format!("}} else if {} {{", self.expr(Ty::Bool, 2))
        } else {
            "} else {".to_string()
        };
        self.open_block(separator);
        self.block_contents();
    }

    /// A `for` loop whose trip count is bounded by its ends' bounds.
    fn for_stmt(&mut self) -> bool {
        let (lo, lo_min) = match self.rng.below(4) {
            0 => (format!("({} & 3)", self.expr(Ty::Int, 1)), 0),
            1 => {
                let v = self.rng.range(-3, 2);
                (super::exprs::fmt_int(v), v)
            }
            _ => ("0".to_string(), 0),
        };
        let arrays = self.vars_where(|v| v.ty.element().is_some());
        let (hi, hi_max) = match self.rng.below(5) {
            0 => (format!("({} & 7)", self.expr(Ty::Int, 1)), 7),
            1 if !arrays.is_empty() => {
                let array = self.rng.pick(&arrays).name.clone();
                (format!("len({array})"), MAX_ARRAY_LEN)
            }
            2 if !self.f.bounds.is_empty() => {
                let bound = self.rng.pick(&self.f.bounds).clone();
                (bound, MAX_ARRAY_LEN)
            }
            _ => {
                let v = self.rng.range(0, self.config.max_trip);
                (v.to_string(), v)
            }
        };
        let trip = (hi_max - lo_min).max(0) as u64;
        if !self.loop_affordable(trip) {
            return false;
        }
        let var = self.fresh("i");
        self.open_block(format!("for {var} in {lo}..{hi} {{"));
        self.declare(var, Ty::Int, Access::ReadOnly);
        self.loop_body(trip);
        self.close_block("}");
        true
    }

    /// A `while` loop with its own counter, incremented and bounded on the
    /// header line.
    fn while_stmt(&mut self) -> bool {
        let trip = self.rng.range(0, self.config.max_trip) as u64;
        if !self.loop_affordable(trip + 1) {
            return false;
        }
        let counter = self.fresh("w");
        self.line(format!("let {counter} = 0;"));
        self.declare(counter.clone(), Ty::Int, Access::Guard);
        let step = format!("{counter} = {counter} + 1;");
        let header = if self.rng.chance(35) {
            format!("while true {{ {step} if {counter} > {trip} {{ break; }}")
        } else if self.rng.chance(50) {
            // The extra condition runs once more than the body.
            self.f.mult *= trip + 1;
            let cond = self.expr(Ty::Bool, 2);
            self.f.mult /= trip + 1;
            format!("while {counter} < {trip} && {cond} {{ {step}")
        } else {
            format!("while {counter} < {trip} {{ {step}")
        };
        self.open_block(header);
        self.loop_body(trip + 1);
        self.close_block("}");
        true
    }

    fn loop_body(&mut self, trip: u64) {
        self.enter_loop(trip);
        self.block_contents();
        self.leave_loop(trip);
    }

    /// Charges what follows `trip` times, until [`Self::leave_loop`].
    pub(super) fn enter_loop(&mut self, trip: u64) {
        self.f.mult *= trip.max(1);
        self.f.loop_depth += 1;
    }

    pub(super) fn leave_loop(&mut self, trip: u64) {
        self.f.loop_depth -= 1;
        self.f.mult /= trip.max(1);
    }

    fn call_stmt(&mut self) -> bool {
        let ret = if self.rng.chance(50) {
            None
        } else {
            Some(*self.rng.pick(&Ty::ALL))
        };
        let Some(call) = self.call(ret, self.config.max_expr_depth) else {
            return false;
        };
        self.line(format!("{call};"));
        true
    }

    /// `break` or `continue` under a condition, so the loop's code after it
    /// stays reachable.
    fn jump_stmt(&mut self) -> bool {
        let cond = self.expr(Ty::Bool, 2);
        let jump = if self.rng.chance(50) {
            "break"
        } else {
            "continue"
        };
        self.line(format!("if {cond} {{ {jump}; }}"));
        true
    }

    fn return_stmt(&mut self) -> bool {
        let cond = self.expr(Ty::Bool, 2);
        let value = match self.f.ret {
            Some(ty) => format!(" {}", self.expr(ty, 2)),
            None => String::new(),
        };
        self.line(format!("if {cond} {{ return{value}; }}"));
        true
    }

    fn atomic_add_stmt(&mut self) -> bool {
        let Some(call) = self.atomic_add(1) else {
            return false;
        };
        self.line(format!("{call};"));
        true
    }

    fn can_spawn(&self) -> bool {
        self.f.is_main
            && !self.traps
            && !self.spawned
            && self.f.mult == 1
            && self.spawnable().next().is_some()
    }

    /// Functions a thread may run: they return int and never print.
    fn spawnable(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.f.callees).filter(|&i| {
            let callee = &self.funcs[i];
            callee.ret == Some(Ty::Int) && callee.cost.prints == 0 && self.affordable(callee.cost)
        })
    }

    /// A thread that is joined at once: deterministic, and it exercises
    /// entering compiled code on a fresh thread.
    fn spawn_stmt(&mut self) -> bool {
        let candidates: Vec<usize> = self.spawnable().collect();
        if candidates.is_empty() {
            return false;
        }
        let callee = *self.rng.pick(&candidates);
        let call = self.call_to(callee, 1);
        let handle = self.fresh("h");
        self.spawned = true;
        self.charge(Cost { work: 1, prints: 1 });
        self.line(format!("let {handle} = spawn {call};"));
        self.line(format!("print(join({handle}));"));
        self.declare(handle, Ty::Int, Access::Hidden);
        true
    }
}
