//! PID 1's duty: reap every process that ends in the sandbox, and hand the exit status
//! of the ones we started to whoever waits for them.

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    exited: HashMap<i32, WaitStatus>,
    /// Started processes nobody will wait for (detached commands): reaped and dropped.
    detached: std::collections::HashSet<i32>,
    /// Children started since the reaper last found none: wakes it from idling.
    started: u64,
}

#[derive(Clone, Default)]
pub struct Reaper {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl Reaper {
    /// Starts the reaping thread.
    pub fn start() -> Reaper {
        let reaper = Reaper::default();
        let r = reaper.clone();
        std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || r.run())
            .map(|_| ())
            .unwrap_or_else(|e| eprintln!("warden init: no reaper thread: {e}"));
        reaper
    }

    fn run(&self) {
        let (lock, cv) = &*self.inner;
        loop {
            match waitpid(Pid::from_raw(-1), None) {
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
                        // Keep only statuses someone may ask for: orphans would pile up otherwise.
                        let ended =
                            matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..));
                        // A detached command's status is dropped: nobody asks for it.
                        if ended && !st.detached.remove(&pid.as_raw()) {
                            st.exited.insert(pid.as_raw(), status);
                            if st.exited.len() > 4096 {
                                st.exited.clear();
                            }
                        }
                        cv.notify_all();
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => {
                    // No children: sleep until one is started.
                    let st = lock.lock().unwrap_or_else(|p| p.into_inner());
                    let seen = st.started;
                    let _unused = cv
                        .wait_timeout_while(st, Duration::from_secs(1), |s| s.started == seen)
                        .map(|_| ());
                }
            }
        }
    }

    /// Tells the reaper a child exists (call right after fork).
    pub fn started(&self) {
        let (lock, cv) = &*self.inner;
        lock.lock().unwrap_or_else(|p| p.into_inner()).started += 1;
        cv.notify_all();
    }

    /// Waits until `pid` ends or `until` passes; takes its status.
    pub fn wait(&self, pid: i32, until: Instant) -> Option<WaitStatus> {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(status) = st.exited.remove(&pid) {
                return Some(status);
            }
            let now = Instant::now();
            if now >= until {
                return None;
            }
            st = cv
                .wait_timeout(st, until - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Marks `pid` as one nobody will wait for (a detached command): its status is dropped.
    pub fn forget(&self, pid: i32) {
        let (lock, _) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        if st.exited.remove(&pid).is_none() {
            st.detached.insert(pid);
        }
    }
}
