//! A background thread whose end can be awaited with a deadline: the guard's flush and
//! shutdown never wait longer than their bound, whatever a receiver or a client does.
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

/// A named thread; it counts as finished when its closure returns or unwinds.
#[derive(Debug)]
pub(crate) struct JoinableThread {
    /// Disconnects when the thread's closure (which owns the sender) is gone.
    done: mpsc::Receiver<()>,
    thread: JoinHandle<()>,
}

impl JoinableThread {
    pub(crate) fn spawn(
        name: &str,
        f: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<JoinableThread> {
        let (alive, done) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _alive = alive;
                f();
            })?;
        Ok(JoinableThread { done, thread })
    }

    /// Joins the thread if it finishes by `deadline`; otherwise leaves it to finish alone.
    pub(crate) fn wait_until(self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.done.recv_timeout(left) {
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            _ => {
                let _ = self.thread.join();
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn waits_for_a_finished_thread_and_not_for_a_stuck_one() {
        let quick = JoinableThread::spawn("quick", || {}).unwrap();
        assert!(quick.wait_until(Instant::now() + Duration::from_secs(30)));
        let (release, stuck_until) = mpsc::channel::<()>();
        let stuck = JoinableThread::spawn("stuck", move || {
            let _ = stuck_until.recv();
        })
        .unwrap();
        assert!(!stuck.wait_until(Instant::now()));
        drop(release);
    }
}
