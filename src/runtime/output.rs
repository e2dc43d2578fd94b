//! Program output: per-thread line buffers written to stdout whole.
//!
//! Each thread appends complete lines to its own buffer (its lock is
//! uncontended but lets the exit path reach every buffer). Buffers are
//! written to stdout in one `write_all` under the stdout lock, so lines of
//! different threads never interleave within a line. When stdout is a
//! terminal every line is written at once; otherwise buffers are written
//! when they fill, when their thread ends, and when the program exits or
//! fails ([`Output::flush_all`]).
//!
//! A stdout that went away (a closed pipe: `tierjit run prog.tj | head
//! -1`) is not an error of the program: output stops quietly, and the Vm
//! stops the program as SIGPIPE would have (the command exits with 141;
//! a program that never ends would otherwise run on forever). Another
//! write error (a full disk) stops the output and is kept
//! ([`Output::write_error`]): the command warns, and a run that would have
//! ended with status 0 ends with 1, so that a script does not take the
//! cut-off output for the whole.

use parking_lot::Mutex;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// A thread's buffer of printed lines.
pub type LineBuffer = Arc<Mutex<Vec<u8>>>;

/// The buffers an [`Output`] reaches.
#[derive(Default)]
struct Buffers {
    list: Vec<Weak<Mutex<Vec<u8>>>>,
    /// Dead buffers are dropped when the list reaches this length.
    prune_at: usize,
}

/// All output of one program run.
pub struct Output {
    /// Every live thread's buffer, in the order threads started. A thread
    /// writes its lines before its buffer goes (when its call or thread
    /// ends), so only live buffers can hold lines: the list keeps weak
    /// references, and drops the dead ones once it has doubled since it
    /// last did, so that a program that starts threads (or a host that
    /// calls in) without end does not grow it without end.
    buffers: Mutex<Buffers>,
    line_buffered: bool,
    broken: AtomicBool,
    pipe_closed: AtomicBool,
    /// The first write error other than a closed pipe.
    write_error: Mutex<Option<std::io::Error>>,
}

impl Default for Output {
    fn default() -> Output {
        Output::new(std::io::stdout().is_terminal())
    }
}

impl Output {
    /// Output that writes every line at once if `line_buffered`.
    pub fn new(line_buffered: bool) -> Output {
        Output {
            buffers: Mutex::new(Buffers::default()),
            line_buffered,
            broken: AtomicBool::new(false),
            pipe_closed: AtomicBool::new(false),
            write_error: Mutex::new(None),
        }
    }

    /// A new buffer for a thread; the exit path will flush it while the
    /// thread lives.
    pub fn register(&self) -> LineBuffer {
        let buffer = LineBuffer::default();
        let mut buffers = self.buffers.lock();
        if buffers.list.len() >= buffers.prune_at {
            buffers.list.retain(|b| b.strong_count() > 0);
            buffers.prune_at = (2 * buffers.list.len()).max(64);
        }
        buffers.list.push(Arc::downgrade(&buffer));
        buffer
    }

    /// How many buffers it lists (live, or dead and not yet dropped).
    pub fn listed(&self) -> usize {
        self.buffers.lock().list.len()
    }

    /// True if lines should be written as soon as they are complete.
    pub fn line_buffered(&self) -> bool {
        self.line_buffered
    }

    /// Writes `lines` to stdout as one piece and clears it; true if this
    /// write found stdout's reader gone (a broken pipe), the first time.
    pub fn write(&self, lines: &mut Vec<u8>) -> bool {
        let mut pipe_closed = false;
        if !lines.is_empty() && !self.broken.load(Ordering::Relaxed) {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(lines).and_then(|_| stdout.flush()) {
                let was_broken = self.broken.swap(true, Ordering::Relaxed);
                if e.kind() == std::io::ErrorKind::BrokenPipe && !was_broken {
                    self.pipe_closed.store(true, Ordering::Relaxed);
                    pipe_closed = true;
                } else if !was_broken {
                    *self.write_error.lock() = Some(e);
                }
            }
        }
        lines.clear();
        pipe_closed
    }

    /// Why output stopped, if a write failed for another reason than a
    /// closed pipe (the rest of the output was dropped).
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().as_ref().map(|e| e.to_string())
    }

    /// True if a write found stdout's reader gone.
    pub fn pipe_closed(&self) -> bool {
        self.pipe_closed.load(Ordering::Relaxed)
    }

    /// Writes every thread's pending lines, in the order threads started.
    pub fn flush_all(&self) {
        let buffers: Vec<LineBuffer> = self
            .buffers
            .lock()
            .list
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for buffer in buffers {
            let _ = self.write(&mut buffer.lock());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_of_ended_threads_are_let_go() {
        let output = Output::new(false);
        let live: Vec<LineBuffer> = (0..100).map(|_| output.register()).collect();
        for _ in 0..100_000 {
            drop(output.register());
        }
        assert!(
            output.listed() <= 2 * live.len() + 64,
            "{}",
            output.listed()
        );
        let reachable = output
            .buffers
            .lock()
            .list
            .iter()
            .filter(|b| b.strong_count() > 0)
            .count();
        assert_eq!(reachable, live.len());
    }
}
