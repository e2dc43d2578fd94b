//! A host thread's standing context for calling into a [`Vm`].
//!
//! A call from the host needs what any thread running tj code has: a
//! [`ThreadState`] with its stacks, an output buffer, a place in the
//! retirer's stack walks and in the sampler's targets. [`Vm::call_bits`]
//! sets all of that up and takes it down again on every call. A
//! [`CallContext`] sets it up once, for the thread that made it, and
//! keeps it between calls:
//!
//! - between calls the thread is *parked* for the retirer
//!   ([`retire::Registration::park`]): it has no tj frame, so a round walks
//!   its (empty) stack from the retirer's thread without signalling it;
//! - it stays a sampler target, so calls from the host are sampled, and
//!   the functions they reach tier up, as on any other thread; samples
//!   that land between calls find no tj frame and count for no function;
//! - lines tj code printed are written out after each call, as
//!   [`Vm::call_bits`] does.
//!
//! A context belongs to the thread that made it (it is neither `Send` nor
//! `Sync`); dropping it ends the registrations and keeps its stacks for
//! the next context or call.

use super::retire;
use super::{Vm, SPARE_STACKS};
use std::marker::PhantomData;
use std::sync::Arc;
use tierjit_profiler::sampler::Registration as Sampling;
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::exec::ThreadState;
use tierjit_tiers::interp;
use tierjit_tiers::stacks::ThreadStacks;
use tierjit_tiers::trap::{RuntimeError, Trap};

/// A thread's context for calling into a [`Vm`] again and again; made by
/// [`Vm::call_context`].
pub struct CallContext {
    /// Ended before the thread state they point into.
    sampling: Option<Sampling>,
    retiring: Option<retire::Registration>,
    /// Boxed: the registrations point into it, so it must not move.
    ts: Option<Box<ThreadState>>,
    vm: Arc<Vm>,
    /// The registrations are the making thread's.
    _this_thread: PhantomData<*const ()>,
}

impl CallContext {
    pub(super) fn new(vm: &Vm) -> Result<CallContext, RuntimeError> {
        let spare = vm.spare_stacks.lock().pop();
        let stacks = match spare {
            Some(stacks) => stacks,
            None => ThreadStacks::new(vm.options.limits)
                .map_err(|_| RuntimeError::new(Trap::OutOfMemory, Vec::new()))?,
        };
        let ts = Box::new(vm.thread_state(0, stacks));
        let sampling = vm.profiling.as_ref().and_then(|p| p.register(vm, 0, &ts));
        let retiring = vm.retirer.register(
            super::profiling::interp_frames(&ts, vm.call_stub),
            &ts.calling,
        );
        retiring.park();
        Ok(CallContext {
            sampling,
            retiring: Some(retiring),
            ts: Some(ts),
            vm: vm.arc(),
            _this_thread: PhantomData,
        })
    }

    /// The Vm it calls into.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// [`Vm::call_bits`] on this context's thread state.
    pub fn call_bits(&mut self, func: FuncId, args: &[u64]) -> Result<Option<u64>, RuntimeError> {
        self.vm.check_callable(func, args)?;
        let (Some(retiring), Some(ts)) = (&self.retiring, &mut self.ts) else {
            unreachable!("only Drop takes them");
        };
        retiring.unpark();
        if let Some(sampling) = &self.sampling {
            sampling.make_current();
        }
        let result = interp::call_with(ts, &*self.vm, func, args);
        retiring.park();
        if ts.printed.replace(false) {
            self.vm.write_lines(&mut ts.out.lock());
        }
        match (result, self.vm.threads.failure()) {
            (_, Some(failure)) => Err(failure),
            (Ok(value), None) => Ok(value),
            (Err(e), None) => Err(e),
        }
    }
}

impl Drop for CallContext {
    fn drop(&mut self) {
        if let Some(retiring) = &self.retiring {
            // No walk may read the thread state once it is gone.
            retiring.unpark();
        }
        self.sampling = None;
        self.retiring = None;
        if let Some(ts) = self.ts.take() {
            self.vm.write_lines(&mut ts.out.lock());
            let mut spare = self.vm.spare_stacks.lock();
            if spare.len() < SPARE_STACKS {
                spare.push(ts.into_stacks());
            }
        }
    }
}
