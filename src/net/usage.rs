//! Measurements the kernel keeps for us: a TCP socket's retransmissions
//! (TCP_INFO) and this process's CPU time (getrusage), for throughput
//! tests.

// TCP_INFO and getrusage are read through libc (rustix wraps neither), into
// plain-old-data structs the kernel fills: FFI that needs `unsafe`.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::time::Duration;

/// Total retransmitted segments of a TCP socket, from TCP_INFO; `None`
/// when the kernel does not say (not TCP, or an old kernel).
pub fn tcp_retransmits<S: AsRawFd>(socket: &S) -> Option<u64> {
    // SAFETY: tcp_info is plain old data; all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::tcp_info>()).ok()?;
    // SAFETY: the pointer and length describe `info`, which outlives the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            std::ptr::addr_of_mut!(info).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(u64::from(info.tcpi_total_retrans))
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu() -> Option<Duration> {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer describes `ru`, which outlives the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return None;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Some(tv(ru.ru_utime) + tv(ru.ru_stime))
}

/// CPU used between two [`process_cpu`] readings over `wall`, in percent
/// of one core.
pub fn cpu_percent(
    before: Option<Duration>,
    after: Option<Duration>,
    wall: Duration,
) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    (wall > Duration::ZERO).then(|| 100.0 * used.as_secs_f64() / wall.as_secs_f64())
}
