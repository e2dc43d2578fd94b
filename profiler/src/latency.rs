//! Scheduling for threads that must run soon after they wake: the
//! sampler thread, and the runtime's compiler thread (which also runs the
//! tier policy).
//!
//! On a machine with as many busy program threads as cores, a service
//! thread that wakes (its timer, a queued compile) is often put on the
//! core of a program thread and, with Linux's EEVDF scheduler, waits
//! there until that thread's time slice ends: 0.5-3 ms, seen with
//! `perf sched` on this project's 2-core machine, while the program ran
//! interpreted code it had asked to have compiled. A thread that asks
//! for a short slice (`sched_setattr` with `sched_runtime`, Linux 6.12 and
//! later, no privilege needed) gets an earlier deadline and preempts on
//! wake-up; it gives the core back as soon as it sleeps again. Older
//! kernels ignore the request or refuse it, which changes nothing.

/// The slice asked for: the kernel's shortest.
const SLICE_NS: u64 = 100_000;

/// `struct sched_attr` of `sched_setattr(2)`, its first version
/// (`SCHED_ATTR_SIZE_VER0`).
#[repr(C)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
}

/// Asks for a short time slice for the calling thread, keeping its
/// policy (`SCHED_OTHER`) and nice value; true if the kernel took it.
pub fn ask_short_slice() -> bool {
    // SAFETY: getpriority only reads; errno is not needed (a failure
    // reads as nice 0, which sched_setattr then sets).
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: libc::SCHED_OTHER as u32,
        sched_flags: 0,
        sched_nice: nice,
        sched_priority: 0,
        sched_runtime: SLICE_NS,
        sched_deadline: 0,
        sched_period: 0,
    };
    // SAFETY: sched_setattr reads `size` bytes of `attr`, a live, fully
    // initialized struct sched_attr; pid 0 is the calling thread.
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) == 0 }
}
