//! Busy polling before a shard sleeps.
//!
//! When every connection of a shard is waiting for its peer, the shard
//! thread would block in `epoll_wait`, and the next request must wake it.
//! On a virtual machine that wake-up is an inter-processor interrupt through
//! the hypervisor, unless the guest halt-polls, and can cost several times
//! what the request itself does (figures in docs/PERFORMANCE.md, "Tuning").
//! So, as Linux's own `net.core.busy_poll` does for NIC queues, a shard
//! first polls the sockets of the connections that just went to wait, for up
//! to a budget (`serve --busy-poll`, in microseconds), and only then sleeps.
//! A reply that comes back within the budget finds the thread awake.
//!
//! Spinning costs CPU that someone else may want, so it backs off:
//! - between polls the thread yields (`sched_yield`), so a process that
//!   shares the CPU runs first;
//! - a spin that was kept off the CPU for a while (another thread wanted
//!   it), or that ran out of budget with nothing arriving (a slow or idle
//!   peer), makes the shard skip the next 1, 3, 7 ... 1023 chances to spin;
//! - a spin that caught input resets that.
//!
//! So an idle server never spins, a server whose peers answer slowly spins
//! about once in a thousand sleeps, and a server that shares its CPU with
//! busy neighbours gives them the CPU. Only what the thread polls is
//! registered here: the connections that went to wait since it last slept,
//! at most [`MAX_FDS`] of them (a shard with more is busy and seldom sleeps).

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Sockets polled at most; a park with more registered does not spin.
pub const MAX_FDS: usize = 64;

/// A gap this long between two polls means the thread was off the CPU
/// (another thread ran): the CPU is contended, so stop spinning for a while.
const OFF_CPU: Duration = Duration::from_micros(20);

/// Most chances to spin skipped after repeated fruitless spins: 2^10 - 1.
const MAX_LEVEL: u32 = 10;

/// How a spin ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Input arrived while the thread had the CPU to itself.
    Caught,
    /// The budget ran out with nothing arriving.
    Expired,
    /// The thread was kept off the CPU during the spin.
    Contended,
}

/// The back-off rule, apart from the polling (so it can be tested alone).
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    /// Chances still to skip.
    skip: u32,
    /// Fruitless spins in a row (capped).
    level: u32,
}

impl Backoff {
    /// Whether to spin at this chance (a skipped chance counts down).
    pub fn should_spin(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// Takes a spin's outcome into account.
    pub fn record(&mut self, outcome: Outcome) {
        if outcome == Outcome::Caught {
            self.level = 0;
            self.skip = 0;
        } else {
            self.level = (self.level + 1).min(MAX_LEVEL);
            self.skip = (1 << self.level) - 1;
        }
    }
}

/// A shard thread's spinning state.
struct Spinner {
    budget: Duration,
    /// Sockets that went to wait since the last park.
    fds: Vec<RawFd>,
    /// More than [`MAX_FDS`] went to wait.
    crowded: bool,
    backoff: Backoff,
    polled: Vec<libc::pollfd>,
}

thread_local! {
    static SPINNER: RefCell<Option<Spinner>> = const { RefCell::new(None) };
}

/// Turns busy polling on for this thread, with `budget` per sleep; a zero
/// budget leaves it off. Called by a shard thread before it runs.
pub fn enable(budget: Duration) {
    if budget.is_zero() {
        return;
    }
    SPINNER.with(|s| {
        *s.borrow_mut() = Some(Spinner {
            budget,
            fds: Vec::with_capacity(MAX_FDS),
            crowded: false,
            backoff: Backoff::default(),
            polled: Vec::with_capacity(MAX_FDS),
        })
    });
}

/// Notes that the connection on `fd` is about to wait for input, so the
/// thread's next park polls it. Does nothing on threads without spinning.
pub fn waiting(fd: RawFd) {
    // try_with: a socket may be polled while the thread's locals are torn
    // down; then there is nothing to spin for.
    let _ = SPINNER.try_with(|s| {
        if let Some(sp) = s.borrow_mut().as_mut() {
            if sp.fds.len() < MAX_FDS {
                sp.fds.push(fd);
            } else {
                sp.crowded = true;
            }
        }
    });
}

/// A stream whose reads note its socket for this thread's busy polling
/// whenever they find nothing: what the echo and framed doors opt into,
/// since their peers answer within microseconds. The line door does not
/// (people type slowly; polling their sockets would only burn CPU).
#[derive(Debug)]
pub struct Spinning<S>(pub S);

impl<S: AsyncRead + AsRawFd + Unpin> AsyncRead for Spinning<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &mut self.get_mut().0;
        let r = Pin::new(&mut *inner).poll_read(cx, buf);
        if r.is_pending() {
            waiting(inner.as_raw_fd());
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Spinning<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// The runtime's before-park hook: spins while that may pay (see the module
/// documentation), and returns as soon as a registered socket is readable;
/// the runtime then finds the readiness event without sleeping.
pub fn before_park() {
    let _ = SPINNER.try_with(|s| {
        if let Some(sp) = s.borrow_mut().as_mut() {
            sp.park();
        }
    });
}

impl Spinner {
    fn park(&mut self) {
        let crowded = std::mem::take(&mut self.crowded);
        if self.fds.is_empty() || crowded || !self.backoff.should_spin() {
            self.fds.clear();
            return;
        }
        self.polled.clear();
        self.polled
            .extend(self.fds.drain(..).map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            }));
        let outcome = spin(&mut self.polled, self.budget);
        self.backoff.record(outcome);
    }
}

/// Polls `fds` without blocking until one is readable (or closed, or in
/// error: anything that gives its task work), the budget runs out, or the
/// thread is seen to have been off the CPU.
// poll(2) over a caller's array of raw pollfd is FFI: `unsafe`.
#[allow(unsafe_code)]
fn spin(fds: &mut [libc::pollfd], budget: Duration) -> Outcome {
    let start = Instant::now();
    let mut last = start;
    loop {
        // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of
        // the length passed; poll(2) only writes their `revents`. An fd
        // closed since it was noted is harmless: poll reports POLLNVAL for
        // it (which ends the spin) or polls whatever reuses the number.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        let now = Instant::now();
        // Off the CPU first: input that came while another thread had our
        // CPU would have found us just as fast asleep.
        if now.duration_since(last) > OFF_CPU {
            return Outcome::Contended;
        }
        if n != 0 {
            return Outcome::Caught;
        }
        if now.duration_since(start) >= budget {
            return Outcome::Expired;
        }
        std::thread::yield_now();
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(b: &mut Backoff) -> u32 {
        let mut n = 0;
        while !b.should_spin() {
            n += 1;
        }
        n
    }

    #[test]
    fn fruitless_spins_skip_exponentially_more_chances_up_to_a_cap() {
        let mut b = Backoff::default();
        assert!(b.should_spin(), "a fresh thread spins");
        let mut seen = Vec::new();
        for _ in 0..12 {
            b.record(Outcome::Expired);
            seen.push(skips(&mut b));
        }
        assert_eq!(seen, [1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 1023, 1023]);
    }

    #[test]
    fn contention_backs_off_like_an_expired_spin_and_a_catch_resets() {
        let mut b = Backoff::default();
        b.record(Outcome::Contended);
        b.record(Outcome::Contended);
        assert_eq!(skips(&mut b), 3);
        b.record(Outcome::Caught);
        assert!(b.should_spin(), "a caught spin means spin again next time");
        b.record(Outcome::Expired);
        assert_eq!(skips(&mut b), 1, "the count starts over after a catch");
    }

    #[test]
    fn a_spin_returns_at_once_when_a_socket_has_input() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut b, b"x").unwrap();
        let mut fds = [libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&a),
            events: libc::POLLIN,
            revents: 0,
        }];
        // A spin can be Contended if the machine takes the CPU away right
        // then; that cannot happen on every try.
        let caught = (0..20).any(|_| spin(&mut fds, Duration::from_secs(10)) == Outcome::Caught);
        assert!(caught, "input waiting on the socket was never caught");
    }

    #[test]
    fn a_spin_on_a_silent_socket_ends_within_its_budget() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut fds = [libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&a),
            events: libc::POLLIN,
            revents: 0,
        }];
        // Expired, or Contended if the test machine took the CPU away.
        assert_ne!(spin(&mut fds, Duration::from_millis(2)), Outcome::Caught);
    }

    #[test]
    fn only_threads_that_enable_spinning_note_sockets() {
        waiting(3);
        SPINNER.with(|s| assert!(s.borrow().is_none()));
        enable(Duration::from_micros(50));
        for fd in 0..(MAX_FDS as RawFd + 1) {
            waiting(fd);
        }
        SPINNER.with(|s| {
            let s = s.borrow();
            let sp = s.as_ref().unwrap();
            assert_eq!(sp.fds.len(), MAX_FDS);
            assert!(sp.crowded);
        });
        before_park();
        SPINNER.with(|s| {
            let s = s.borrow();
            let sp = s.as_ref().unwrap();
            assert!(sp.fds.is_empty() && !sp.crowded, "a park starts a new list");
        });
    }
}
