//! Spawned tj threads: handles, results, joining, and failure.
//!
//! Handles count from 1 in spawn order (the main thread is 0). A thread's
//! result is kept until it is joined once; a second join, a join of a
//! handle that was never given out or of one's own handle is
//! `bad thread handle`.
//!
//! A runtime error in any thread ends the program: the first error is
//! recorded, the shared interrupt flag is raised (every running thread
//! stops at its next safe point) and joiners wake up.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tierjit_tiers::trap::{RuntimeError, Trap};

use super::os_thread::OsThread;

enum ThreadStatus {
    Running,
    Finished(i64),
    Stopped,
    Joined,
}

struct ThreadEntry {
    status: ThreadStatus,
    /// Until the thread finishes (then it waits in `Threads::to_reap`).
    os_thread: Option<OsThread>,
    /// Notified (under the table's lock) when this thread ends, and when
    /// the program stops: its joiners wait here, so a thread's end wakes
    /// only its own joiners (one shared condition variable woke every
    /// waiter at every end: a chain of 2,000 threads each joining the one
    /// before took 8.5 s).
    ended: Arc<Condvar>,
}

/// The table of spawned threads.
#[derive(Default)]
pub struct Threads {
    table: Mutex<Vec<ThreadEntry>>,
    failure: Mutex<Option<RuntimeError>>,
    /// OS threads whose tj thread has finished, to be joined (a moment
    /// later they have exited) so that their memory is unmapped, whether
    /// or not the program joins them.
    to_reap: Mutex<Vec<OsThread>>,
    /// Raised when the program must stop; polled by running code.
    pub interrupt: Arc<AtomicBool>,
    /// Spawned threads reserved and not finished.
    live: AtomicUsize,
}

impl Threads {
    /// Reserves the next handle, before the OS thread exists.
    pub fn reserve(&self) -> i64 {
        let mut table = self.table.lock();
        table.push(ThreadEntry {
            status: ThreadStatus::Running,
            os_thread: None,
            ended: Arc::new(Condvar::new()),
        });
        self.live.fetch_add(1, Ordering::Relaxed);
        table.len() as i64
    }

    /// Spawned threads that have not finished.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Records the OS thread behind `handle`.
    pub fn attach(&self, handle: i64, os_thread: OsThread) {
        let mut table = self.table.lock();
        let entry = &mut table[handle as usize - 1];
        if matches!(entry.status, ThreadStatus::Running) {
            entry.os_thread = Some(os_thread);
        } else {
            self.to_reap.lock().push(os_thread);
        }
    }

    /// Joins the OS threads of finished tj threads, freeing their stacks.
    /// Called before each spawn, so that a program that spawns threads
    /// without end and never joins them does not keep their memory.
    pub fn reap(&self) {
        let ended = std::mem::take(&mut *self.to_reap.lock());
        for os_thread in ended {
            // It has published its end and is returning: the wait is
            // short.
            os_thread.join();
        }
    }

    /// Records how the thread behind `handle` ended: its result, or `None`
    /// if it stopped without one (a runtime error, or it could not start).
    pub fn finish(&self, handle: i64, result: Option<i64>) {
        let mut table = self.table.lock();
        let entry = &mut table[handle as usize - 1];
        if matches!(entry.status, ThreadStatus::Running) {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
        entry.status = match result {
            Some(v) => ThreadStatus::Finished(v),
            None => ThreadStatus::Stopped,
        };
        if let Some(os_thread) = entry.os_thread.take() {
            self.to_reap.lock().push(os_thread);
        }
        entry.ended.notify_all();
    }

    /// Wakes every joiner (the program is stopping).
    fn wake_all_joiners(&self) {
        for entry in self.table.lock().iter() {
            entry.ended.notify_all();
        }
    }

    /// Records a runtime error that ends the program (the first one wins)
    /// and asks every thread to stop.
    pub fn fail(&self, error: RuntimeError) {
        let mut failure = self.failure.lock();
        if failure.is_none() {
            *failure = Some(error);
        }
        self.interrupt.store(true, Ordering::SeqCst);
        drop(failure);
        self.wake_all_joiners();
    }

    /// Asks every thread to stop, as a runtime error would but with none
    /// recorded: each stops at its next safe point (`terminated`), and
    /// joiners wake up.
    pub fn stop(&self) {
        self.interrupt.store(true, Ordering::SeqCst);
        self.wake_all_joiners();
    }

    /// The error that is ending the program, if any.
    pub fn failure(&self) -> Option<RuntimeError> {
        // `fail` records the error before it sets the flag.
        if !self.interrupt.load(Ordering::SeqCst) {
            return None;
        }
        self.failure.lock().clone()
    }

    /// Waits for thread `handle` and takes its result.
    pub fn join(&self, caller: i64, handle: i64) -> Result<i64, Trap> {
        let mut table = self.table.lock();
        if handle == caller || handle < 1 || handle as usize > table.len() {
            return Err(Trap::BadThreadHandle);
        }
        let i = handle as usize - 1;
        loop {
            if self.interrupt.load(Ordering::SeqCst) {
                return Err(Trap::Terminated);
            }
            match table[i].status {
                ThreadStatus::Running => {
                    let ended = table[i].ended.clone();
                    ended.wait(&mut table);
                }
                ThreadStatus::Finished(v) => {
                    table[i].status = ThreadStatus::Joined;
                    return Ok(v);
                }
                ThreadStatus::Stopped => return Err(Trap::Terminated),
                ThreadStatus::Joined => return Err(Trap::BadThreadHandle),
            }
        }
    }
}
