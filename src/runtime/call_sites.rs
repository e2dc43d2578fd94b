//! Direct calls between compiled code, and repatching them.
//!
//! Optimized code calls other functions with `call rel32`
//! ([`CallSite`]s, displacement 4-byte aligned). The runtime points each
//! at the callee's current entry when it places the code, and again every
//! time the callee's code changes (tier-up, stress flip, uninstall), with
//! one aligned 4-byte store through the writable view. The entry is what
//! the callee's method-table slot holds, except that an interpreted
//! callee is reached through the *call stub*: a `jmp` in code memory to
//! the interpreter's entry, which is outside rel32 reach.
//!
//! A site is recorded until the blob it is in is freed: a retired caller
//! that threads are still inside keeps calling the callee's newest code.
//! Before retired code may be freed, [`sync_cores`] makes every thread of
//! the process serialize its instruction stream, so no core goes on
//! running a `call` it decoded before a repatch; the retirement handshake
//! that follows finds any thread already inside the old target. (Nothing
//! else depends on the new target: until it is freed, the old code still
//! runs correctly.)
//!
//! Everything here runs under the Vm's call-site lock, which is also held
//! while a method-table slot changes, so a site placed concurrently with
//! an install reads either the old slot (and is repatched with the rest)
//! or the new one.

use super::code_memory::Blob;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use tierjit_tiers::bytecode::FuncId;
use tierjit_tiers::code::CallSite;

/// The call stub's code: `jmp qword [rip + 0]`, then the 8-byte target.
pub fn call_stub_code(target: usize) -> Vec<u8> {
    let mut code = vec![0xFF, 0x25, 0, 0, 0, 0];
    code.extend_from_slice(&(target as u64).to_le_bytes());
    code
}

/// Bytes of the call stub's one instruction (the rest is its target).
pub const CALL_STUB_JUMP_BYTES: u32 = 6;

/// One recorded call site.
#[derive(Clone, Copy, Debug)]
struct Site {
    /// Address of the displacement in the executable view.
    rx: usize,
    /// The same bytes in the writable view.
    rw: usize,
    /// The code address of the blob the site is in.
    blob: usize,
}

/// Every direct call site of every live blob, by callee.
pub struct CallSites {
    by_callee: Vec<Vec<Site>>,
    /// The callees of each blob that has sites, by its code address.
    by_blob: HashMap<usize, Vec<FuncId>>,
    /// Where calls of an interpreted function go (0: no stub, so no
    /// direct calls can be placed).
    call_stub: usize,
    /// Stores done to sites whose callee changed.
    repatched: u64,
    /// Some site was repatched since the last [`sync_cores`] (see
    /// [`CallSites::take_unsynced`]).
    unsynced: bool,
}

impl CallSites {
    /// No sites, for a module of `funcs` functions; interpreted callees
    /// are reached at `call_stub`.
    pub fn new(funcs: usize, call_stub: usize) -> CallSites {
        CallSites {
            by_callee: vec![Vec::new(); funcs],
            by_blob: HashMap::new(),
            call_stub,
            repatched: 0,
            unsynced: false,
        }
    }

    /// Where a direct call reaches the code at `entry` (a method-table
    /// slot's value, `interpreter` meaning the interpreter's entry).
    pub fn target(&self, entry: usize, interpreter: usize) -> usize {
        if entry == interpreter {
            self.call_stub
        } else {
            entry
        }
    }

    /// Records the direct calls `sites` of a freshly placed `blob` and
    /// points each at the callee's code, `slot(callee)` being its
    /// method-table slot's value (`interpreter` for the interpreter's
    /// entry). Fails, recording nothing, if a target is out of reach (or
    /// there is no call stub).
    pub fn add(
        &mut self,
        blob: &Blob,
        sites: &[CallSite],
        slot: impl Fn(FuncId) -> usize,
        interpreter: usize,
    ) -> Result<(), String> {
        if sites.is_empty() {
            return Ok(());
        }
        if self.call_stub == 0 {
            return Err("no call stub for direct calls".into());
        }
        let mut placed = Vec::with_capacity(sites.len());
        for s in sites {
            if s.offset as usize + 4 > blob.code_size || s.offset % 4 != 0 {
                return Err(format!("call site at offset {} is misplaced", s.offset));
            }
            if self.by_callee.get(s.callee.index()).is_none() {
                return Err(format!("call site calls unknown function {}", s.callee.0));
            }
            let site = Site {
                rx: blob.code_rx + s.offset as usize,
                rw: blob.code_rw + s.offset as usize,
                blob: blob.code_rx,
            };
            let displacement = displacement(site.rx, self.target(slot(s.callee), interpreter))?;
            placed.push((s.callee, site, displacement));
        }
        let mut callees = Vec::with_capacity(placed.len());
        for (callee, site, displacement) in placed {
            store(&site, displacement);
            self.by_callee[callee.index()].push(site);
            callees.push(callee);
        }
        callees.sort_unstable();
        callees.dedup();
        self.by_blob.insert(blob.code_rx, callees);
        Ok(())
    }

    /// Points every recorded call of `callee` at `target`; gives how many
    /// sites changed. The caller then runs [`sync_cores`] before anything
    /// depends on no core running the old target.
    pub fn retarget(&mut self, callee: FuncId, target: usize) -> usize {
        let Some(sites) = self.by_callee.get(callee.index()) else {
            return 0;
        };
        let mut changed = 0;
        for site in sites {
            // Code memory is one reserved range of at most 2 GiB, so
            // every target is in reach of every site (checked when the
            // site was added, and here again).
            if let Ok(d) = displacement(site.rx, target) {
                store(site, d);
                changed += 1;
            }
        }
        self.repatched += changed as u64;
        self.unsynced |= changed > 0;
        changed
    }

    /// Whether a site was repatched since this was last asked (and then
    /// not [`CallSites::keep_unsynced`]): only then must the cores be
    /// serialized before retired code is freed.
    pub fn take_unsynced(&mut self) -> bool {
        std::mem::take(&mut self.unsynced)
    }

    /// Gives back what [`CallSites::take_unsynced`] took, when the
    /// serializing could not be done yet.
    pub fn keep_unsynced(&mut self) {
        self.unsynced = true;
    }

    /// Forgets the sites of blobs that are being freed (by their code
    /// addresses): one pass over each callee's sites, however many blobs
    /// go (a handshake round frees hundreds under stress).
    pub fn remove_blobs(&mut self, code_rx: &[usize]) {
        let mut gone = std::collections::HashSet::new();
        let mut callees = Vec::new();
        for &blob in code_rx {
            if let Some(c) = self.by_blob.remove(&blob) {
                gone.insert(blob);
                callees.extend(c);
            }
        }
        callees.sort_unstable();
        callees.dedup();
        for callee in callees {
            self.by_callee[callee.index()].retain(|s| !gone.contains(&s.blob));
        }
    }

    /// Site stores done because a callee's code changed.
    pub fn repatched(&self) -> u64 {
        self.repatched
    }

    /// Sites recorded now.
    pub fn len(&self) -> usize {
        self.by_callee.iter().map(Vec::len).sum()
    }

    /// True if no site is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The target of the call whose displacement is at `rx`, as the code
    /// says now (for tests).
    pub fn current_target(&self, rx: usize) -> Option<usize> {
        let site = self.by_callee.iter().flatten().find(|s| s.rx == rx)?;
        // SAFETY: a recorded site's blob is live (sites are removed before
        // their blob is freed) and the displacement is 4-aligned.
        let d = unsafe { AtomicU32::from_ptr(site.rx as *mut u32) }.load(Ordering::Relaxed);
        Some((site.rx + 4).wrapping_add(d as i32 as isize as usize))
    }
}

/// The rel32 that takes a call whose displacement is at `rx` to `target`.
fn displacement(rx: usize, target: usize) -> Result<u32, String> {
    let d = (target as i64).wrapping_sub(rx as i64 + 4);
    i32::try_from(d)
        .map(|d| d as u32)
        .map_err(|_| format!("call target {target:#x} is out of rel32 reach of {rx:#x}"))
}

/// Writes a site's displacement: one aligned 4-byte store, so a thread
/// running the call sees the old target or the new one, never a mix.
fn store(site: &Site, displacement: u32) {
    // SAFETY: `rw` is the writable view of the displacement of a call in a
    // live blob (recorded sites are removed before their blob is freed),
    // 4-byte aligned (checked in `add`; blobs' code is 16-aligned), and
    // only ever written with atomic stores under the call-site lock.
    unsafe { AtomicU32::from_ptr(site.rw as *mut u32) }.store(displacement, Ordering::Release);
}

/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE` (linux/membarrier.h).
const MEMBARRIER_SYNC_CORE: libc::c_int = 1 << 5;
/// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE`.
const MEMBARRIER_REGISTER_SYNC_CORE: libc::c_int = 1 << 6;

/// Registration for `membarrier` sync-core: not started, under way,
/// done, or not supported by the kernel.
const NOT_STARTED: u8 = 0;
const REGISTERING: u8 = 1;
const REGISTERED: u8 = 2;
const UNSUPPORTED: u8 = 3;
static MEMBARRIER: AtomicU8 = AtomicU8::new(NOT_STARTED);

/// Registers the process for [`sync_cores`] on the calling thread, if no
/// registration was started yet. Call it first thing in `main`: while
/// the process has one thread, the kernel registers it at once (3-4 us);
/// with more, it waits for an RCU grace period (7-19 ms measured on this
/// project's machine), and a process cannot exit while a thread waits
/// there (it had added 4-10 ms to every short run).
pub fn register_sync_cores() {
    if start_registering() {
        register_membarrier();
    }
}

/// Marks the registration under way; false if it was started before.
fn start_registering() -> bool {
    MEMBARRIER
        .compare_exchange(
            NOT_STARTED,
            REGISTERING,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
}

/// Registers, and records the outcome.
fn register_membarrier() {
    // SAFETY: the membarrier system call with a command and no pointers;
    // it fails harmlessly where unsupported.
    let ok = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_REGISTER_SYNC_CORE, 0, 0) };
    let state = if ok == 0 { REGISTERED } else { UNSUPPORTED };
    MEMBARRIER.store(state, Ordering::Release);
}

/// Starts registering the process for [`sync_cores`] on a thread of its
/// own, unless [`register_sync_cores`] did already: a Vm made in a process
/// that already runs threads must delay neither an install nor the
/// compiler thread by the grace period.
pub fn prepare_sync_cores() {
    if !start_registering() {
        return;
    }
    if std::thread::Builder::new()
        .name("tj-membarrier".into())
        .spawn(register_membarrier)
        .is_err()
    {
        MEMBARRIER.store(UNSUPPORTED, Ordering::Release);
    }
}

/// Makes every running thread of the process execute a serializing
/// instruction (`membarrier(PRIVATE_EXPEDITED_SYNC_CORE)`, 0.2 us once
/// registered), so none goes on with instructions it decoded before a
/// patch. False while the registration ([`prepare_sync_cores`], started
/// here if it was not) is still under way: the caller then frees no
/// retired code yet. Where the kernel lacks the command (before Linux
/// 4.16) it is true and does nothing: x86 then still gives an aligned
/// displacement store atomically to instruction fetch, as HotSpot's call
/// patching relies on, and the retirement handshake's signal interrupts
/// each thread before its answer.
pub fn sync_cores() -> bool {
    match MEMBARRIER.load(Ordering::Acquire) {
        REGISTERED => {
            // SAFETY: as in `register_membarrier`.
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_SYNC_CORE, 0, 0) };
            true
        }
        UNSUPPORTED => true,
        NOT_STARTED => {
            prepare_sync_cores();
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::code_memory::CodeMemory;
    use tierjit_tiers::code::Tier;

    /// `mov eax, value; ret`
    fn returning(value: u8) -> Vec<u8> {
        vec![0xB8, value, 0, 0, 0, 0xC3]
    }

    /// Calls the function whose code starts at `code_rx`.
    fn run(code_rx: usize) -> u32 {
        // SAFETY: every blob these tests call is a complete function that
        // keeps the stack and returns a value in eax.
        let f: extern "sysv64" fn() -> u32 = unsafe { std::mem::transmute(code_rx) };
        f()
    }

    #[test]
    fn sites_are_pointed_at_the_callee_and_repatched_when_it_changes() {
        let mut memory = CodeMemory::new();
        let place = |memory: &mut CodeMemory, func: u32, code: &[u8]| {
            memory
                .alloc_blob(Tier::Opt, FuncId(func), code, &[], &[], &[])
                .unwrap()
        };
        let stub = place(&mut memory, u32::MAX, &returning(1));
        let first = place(&mut memory, 1, &returning(42));
        let second = place(&mut memory, 1, &returning(7));
        // push rbp; mov rbp, rsp; xchg ax, ax; call rel32; pop rbp; ret:
        // the displacement at offset 8, 4-aligned.
        let caller_code = [
            0x55, 0x48, 0x89, 0xE5, 0x0F, 0x1F, 0x00, 0xE8, 0, 0, 0, 0, 0x5D, 0xC3,
        ];
        let caller = place(&mut memory, 0, &caller_code);
        let site = CallSite {
            offset: 8,
            callee: FuncId(1),
        };
        let interpreter = 0x1234;
        let mut sites = CallSites::new(2, stub.code_rx);
        // An interpreted callee is reached through the stub.
        sites
            .add(&caller, &[site], |_| interpreter, interpreter)
            .unwrap();
        assert_eq!(sites.current_target(caller.code_rx + 8), Some(stub.code_rx));
        assert_eq!(run(caller.code_rx), 1);
        assert_eq!(sites.retarget(FuncId(1), first.code_rx), 1);
        assert_eq!(run(caller.code_rx), 42);
        assert_eq!(sites.retarget(FuncId(1), second.code_rx), 1);
        assert_eq!(run(caller.code_rx), 7);
        // Another callee's change leaves the site alone.
        assert_eq!(sites.retarget(FuncId(0), first.code_rx), 0);
        assert_eq!(run(caller.code_rx), 7);
        assert_eq!(sites.repatched(), 2);
        sites.remove_blobs(&[caller.code_rx]);
        assert!(sites.is_empty());
        assert_eq!(sites.retarget(FuncId(1), first.code_rx), 0);
    }

    #[test]
    fn misplaced_or_unknown_sites_are_refused_whole() {
        let mut memory = CodeMemory::new();
        let caller = memory
            .alloc_blob(Tier::Opt, FuncId(0), &[0x90; 16], &[], &[], &[])
            .unwrap();
        let mut sites = CallSites::new(1, caller.code_rx);
        let site = |offset, callee| CallSite {
            offset,
            callee: FuncId(callee),
        };
        let slot = |_| caller.code_rx;
        for bad in [
            vec![site(4, 0), site(6, 0)],
            vec![site(4, 0), site(16, 0)],
            vec![site(4, 0), site(8, 3)],
        ] {
            assert!(sites.add(&caller, &bad, slot, 0).is_err(), "{bad:?}");
            assert!(sites.is_empty(), "{bad:?}");
        }
        // Without a stub nothing can be placed.
        let mut no_stub = CallSites::new(1, 0);
        assert!(no_stub.add(&caller, &[site(4, 0)], slot, 0).is_err());
    }

    #[test]
    fn code_memory_is_one_range_that_rel32_spans() {
        let mut memory = CodeMemory::new();
        // A blob that fills most of a chunk sends the next into another.
        let big = memory
            .alloc_blob(Tier::Opt, FuncId(0), &vec![0xC3; 15 << 20], &[], &[], &[])
            .unwrap();
        let far = memory
            .alloc_blob(Tier::Opt, FuncId(0), &vec![0xC3; 2 << 20], &[], &[], &[])
            .unwrap();
        assert!(far.code_rx > big.code_rx + (14 << 20));
        assert!(displacement(big.code_rx, far.code_rx).is_ok());
        assert!(displacement(far.code_rx, big.code_rx).is_ok());
        assert!(displacement(0x1000, 0x1000 + (3usize << 30)).is_err());
    }
}
