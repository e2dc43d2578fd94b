//! The runtime: a [`Vm`] runs one verified module on any number of threads.
//!
//! The Vm is the [`Host`] the tiers call back into: it owns the method
//! table, the array heap, the program's output and its threads. The main
//! thread runs `main` through [`Vm::run_main`]; `spawn` starts OS threads
//! that each get their own [`ThreadState`].

pub mod output;
pub mod threads;

use output::Output;
use std::sync::{Arc, Weak};
use threads::Threads;
use tierjit_tiers::bytecode::verify::{verify_module, VerifyError};
use tierjit_tiers::bytecode::{FuncId, Module};
use tierjit_tiers::exec::{Host, Limits, MethodTable, RuntimeError, ThreadState, Trap};
use tierjit_tiers::heap::Heap;
use tierjit_tiers::interp;

/// Options for a [`Vm`].
#[derive(Clone, Debug)]
pub struct VmOptions {
    /// Program arguments (`arg(i)`, `argc()`).
    pub args: Vec<String>,
    /// Stack limits of every thread.
    pub limits: Limits,
    /// Most bytes of arrays the program may allocate.
    pub heap_limit: usize,
    /// Write each printed line at once (default: when stdout is a terminal).
    pub line_buffered: Option<bool>,
}

impl Default for VmOptions {
    fn default() -> VmOptions {
        VmOptions {
            args: Vec::new(),
            limits: Limits::default(),
            heap_limit: Heap::default_limit(),
            line_buffered: None,
        }
    }
}

/// A module, ready to run.
pub struct Vm {
    module: Module,
    methods: MethodTable,
    heap: Heap,
    output: Output,
    threads: Threads,
    options: VmOptions,
    this: Weak<Vm>,
}

/// Native stack of each spawned thread. The interpreter does not recurse
/// on it; compiled code will.
const THREAD_STACK_BYTES: usize = 16 << 20;

impl Vm {
    /// Verifies `module` and prepares it to run: every function starts in
    /// the interpreter.
    pub fn new(module: Module, options: VmOptions) -> Result<Arc<Vm>, VerifyError> {
        verify_module(&module)?;
        let methods = MethodTable::new(module.funcs.len(), interp::interpreter_entry);
        let output = match options.line_buffered {
            Some(line_buffered) => Output::new(line_buffered),
            None => Output::default(),
        };
        Ok(Arc::new_cyclic(|this| Vm {
            heap: Heap::new(options.heap_limit),
            module,
            methods,
            output,
            threads: Threads::default(),
            options,
            this: this.clone(),
        }))
    }

    fn arc(&self) -> Arc<Vm> {
        self.this
            .upgrade()
            .expect("a running Vm is owned by an Arc")
    }

    fn thread_state(&self, handle: i64) -> ThreadState {
        ThreadState::new(
            self.arc(),
            handle,
            self.options.limits,
            self.threads.interrupt.clone(),
            self.output.register(),
        )
    }

    /// Runs `main` on the calling thread; gives its int result, if it has
    /// one. The error of whichever thread failed first is the program's.
    pub fn run_main(&self) -> Result<Option<i64>, RuntimeError> {
        let main = self.module.find("main").ok_or_else(|| RuntimeError {
            trap: Trap::BadArgument,
            frames: Vec::new(),
        })?;
        self.call(main, &[])
    }

    /// Calls `func` with raw argument bits on the calling thread.
    pub fn call(&self, func: FuncId, args: &[u64]) -> Result<Option<i64>, RuntimeError> {
        let mut ts = self.thread_state(0);
        let result = interp::call(&mut ts, func, args);
        self.output.write(&mut ts.out.lock());
        match (result, self.threads.failure()) {
            (_, Some(failure)) => Err(failure),
            (Ok(value), None) => Ok(value.map(|bits| bits as i64)),
            (Err(e), None) => Err(e),
        }
    }

    /// Writes every thread's pending output (before exit, or before
    /// printing an error).
    pub fn flush_output(&self) {
        self.output.flush_all();
    }

    /// The module being run.
    pub fn module(&self) -> &Module {
        &self.module
    }
}

impl Host for Vm {
    fn module(&self) -> &Module {
        &self.module
    }

    fn method_table(&self) -> &MethodTable {
        &self.methods
    }

    fn heap(&self) -> &Heap {
        &self.heap
    }

    fn args(&self) -> &[String] {
        &self.options.args
    }

    fn line_buffered(&self) -> bool {
        self.output.line_buffered()
    }

    fn write_output(&self, lines: &mut Vec<u8>) {
        self.output.write(lines)
    }

    fn spawn(&self, func: FuncId, args: Vec<u64>) -> Result<i64, Trap> {
        let handle = self.threads.reserve();
        let mut ts = self.thread_state(handle);
        let vm = self.arc();
        let started = std::thread::Builder::new()
            .name(format!("tj-{handle}"))
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || {
                let result = interp::call(&mut ts, func, &args);
                vm.output.write(&mut ts.out.lock());
                match result {
                    Ok(value) => vm.threads.finish(handle, value.map(|bits| bits as i64)),
                    Err(error) => {
                        if error.trap != Trap::Terminated {
                            vm.threads.fail(error);
                        }
                        vm.threads.finish(handle, None);
                    }
                }
            });
        match started {
            Ok(os_thread) => {
                self.threads.attach(handle, os_thread);
                Ok(handle)
            }
            Err(_) => {
                self.threads.finish(handle, None);
                Err(Trap::OutOfMemory)
            }
        }
    }

    fn join(&self, caller: i64, handle: i64) -> Result<i64, Trap> {
        self.threads.join(caller, handle)
    }

    fn native_frame(&self, _pc: usize) -> Option<(FuncId, u32)> {
        None
    }
}
