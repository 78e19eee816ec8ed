//! Process-wide resource limits.

/// Raises the soft open-file limit to the hard limit, so a server can hold
/// tens of thousands of connections and a load generator can open them
/// without the user remembering `ulimit -n`. Failure is harmless: we keep the
/// old limit and accept errors say what to do.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
