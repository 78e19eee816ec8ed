//! Tests of the throttle, with time driven by hand.

use super::*;

const MIN: Duration = Duration::from_secs(60);

fn cfg() -> ThrottleConfig {
    ThrottleConfig {
        account_max_failures: 5,
        ip_max_failures: 20,
        window: 15 * MIN,
        lockout: MIN,
        lockout_cap: 60 * MIN,
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Fails `n` times on `name` from `from`, one second apart; returns the
/// time after the last one and every lockout started.
fn fail_n(
    t: &mut Throttle,
    name: &str,
    from: Option<IpAddr>,
    start: Instant,
    n: u32,
) -> (Instant, Vec<Lockout>) {
    let mut now = start;
    let mut all = Vec::new();
    for _ in 0..n {
        assert_eq!(t.check(name, from, now), Ok(()));
        all.extend(t.failure(name, true, from, now, 1000));
        now += Duration::from_secs(1);
    }
    (now, all)
}

#[test]
fn five_failures_lock_the_name_for_a_minute() {
    let mut t = Throttle::new(cfg());
    let t0 = Instant::now();
    let (now, locks) = fail_n(&mut t, "alice", ip("10.0.0.1"), t0, 5);
    assert_eq!(
        locks,
        [Lockout {
            account: true,
            retry_after: MIN
        }]
    );
    match t.check("alice", ip("10.0.0.2"), now) {
        Err(Blocked::Account {
            retry_after,
            since_unix,
        }) => {
            assert_eq!(retry_after, MIN - Duration::from_secs(1));
            assert_eq!(since_unix, 1000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        t.check("bob", ip("10.0.0.1"), now),
        Ok(()),
        "others unaffected"
    );
    assert_eq!(
        t.check("alice", None, t0 + Duration::from_secs(4) + MIN),
        Ok(()),
        "lockout ends"
    );
}

#[test]
fn failures_outside_the_window_do_not_count() {
    let mut t = Throttle::new(cfg());
    let mut now = Instant::now();
    for _ in 0..20 {
        assert_eq!(t.check("alice", None, now), Ok(()));
        assert!(t.failure("alice", true, None, now, 0).is_empty());
        now += 4 * MIN; // at most 4 failures inside any 15 minutes
    }
}

#[test]
fn repeat_lockouts_double_up_to_the_cap_then_are_forgiven() {
    let mut t = Throttle::new(cfg());
    let mut now = Instant::now();
    let mut seen = Vec::new();
    for _ in 0..9 {
        let (after, locks) = fail_n(&mut t, "alice", None, now, 5);
        let lock = locks[0].retry_after;
        seen.push(lock.as_secs() / 60);
        now = after + lock; // retry as soon as allowed
    }
    assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    // Quiet for the whole cap after the last lockout: back to one minute.
    now += 60 * MIN;
    let (_, locks) = fail_n(&mut t, "alice", None, now, 5);
    assert_eq!(locks[0].retry_after, MIN);
}

#[test]
fn success_and_unlock_clear_the_name_but_not_the_address() {
    let mut t = Throttle::new(cfg());
    let now = Instant::now();
    let (now, _) = fail_n(&mut t, "alice", ip("10.0.0.1"), now, 4);
    t.success("alice", None);
    let (now, locks) = fail_n(&mut t, "alice", ip("10.0.0.1"), now, 4);
    assert!(locks.is_empty(), "the count restarted after the success");
    let (now, locks) = fail_n(&mut t, "alice", ip("10.0.0.1"), now, 1);
    assert_eq!(locks.len(), 1);
    t.clear_account("alice");
    assert_eq!(t.check("alice", ip("10.0.0.9"), now), Ok(()));
    // The address has 9 failures of 20 and still remembers them.
    let (now, locks) = fail_n(&mut t, "x", ip("10.0.0.1"), now, 4);
    assert_eq!(locks.len(), 0);
    let mut locks = Vec::new();
    let mut now = now;
    for i in 0..7 {
        let name = format!("n{i}");
        locks.extend(t.failure(&name, false, ip("10.0.0.1"), now, 0));
        now += Duration::from_secs(1);
    }
    assert_eq!(
        locks,
        [Lockout {
            account: false,
            retry_after: MIN
        }]
    );
    assert!(matches!(
        t.check("anyone", ip("10.0.0.1"), now),
        Err(Blocked::Ip { .. })
    ));
}

#[test]
fn twenty_names_from_one_address_lock_the_address() {
    let mut t = Throttle::new(cfg());
    let mut now = Instant::now();
    for i in 0..20 {
        assert_eq!(t.check(&format!("u{i}"), ip("192.0.2.7"), now), Ok(()));
        let locks = t.failure(&format!("u{i}"), false, ip("192.0.2.7"), now, 0);
        assert_eq!(locks.is_empty(), i < 19, "failure {i}");
        now += Duration::from_secs(1);
    }
    assert!(matches!(
        t.check("fresh", ip("192.0.2.7"), now),
        Err(Blocked::Ip { .. })
    ));
    assert_eq!(t.check("fresh", ip("192.0.2.8"), now), Ok(()));
    assert_eq!(t.check("fresh", None, now), Ok(()));
}

#[test]
fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
    let a = ip_key("2001:db8:1:2:aaaa::1".parse().unwrap());
    let b = ip_key("2001:db8:1:2:bbbb::9".parse().unwrap());
    let c = ip_key("2001:db8:1:3::1".parse().unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(
        ip_key("::ffff:10.1.2.3".parse().unwrap()),
        "10.1.2.3".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn a_full_table_evicts_the_least_recently_failed_and_keeps_tracking() {
    let mut t = Throttle::new(ThrottleConfig {
        account_max_failures: 2,
        ..cfg()
    });
    let now = Instant::now();
    t.failure("first", false, None, now, 0);
    for i in 0..MAX_TRACKED {
        t.failure(&format!("k{i}"), false, None, now, 0);
    }
    // Full: a new name is still tracked (the oldest, "first", made room).
    let later = now + Duration::from_secs(1);
    assert!(t.failure("late", false, None, later, 0).is_empty());
    assert_eq!(t.failure("late", false, None, later, 0).len(), 1);
    assert!(matches!(
        t.check("late", None, later),
        Err(Blocked::Account { .. })
    ));
    assert!(
        t.failure("first", false, None, later, 0).is_empty(),
        "evicted"
    );
}

#[test]
fn unknown_names_never_crowd_out_an_existing_account() {
    let mut t = Throttle::new(cfg());
    let mut now = Instant::now();
    for _ in 0..4 {
        assert!(t.failure("alice", true, None, now, 0).is_empty());
    }
    // The attack: more distinct names (or addresses) than the
    // tables hold, then guesses at the real account.
    for i in 0..MAX_TRACKED + 1000 {
        let from = Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32)));
        t.failure(&format!("x{i}"), false, from, now, 0);
    }
    now += Duration::from_secs(1);
    assert_eq!(t.failure("alice", true, None, now, 0).len(), 1);
    assert!(matches!(
        t.check("alice", ip("10.9.9.9"), now),
        Err(Blocked::Account { .. })
    ));
}

#[test]
fn an_address_that_logged_in_before_passes_the_name_lockout() {
    let mut t = Throttle::new(cfg());
    let now = Instant::now();
    t.success("alice", ip("198.51.100.7"));
    let (now, locks) = fail_n(&mut t, "alice", ip("203.0.113.9"), now, 5);
    assert_eq!(locks.len(), 1);
    assert!(matches!(
        t.check("alice", ip("203.0.113.9"), now),
        Err(Blocked::Account { .. })
    ));
    assert!(matches!(
        t.check("alice", None, now),
        Err(Blocked::Account { .. })
    ));
    // The owner's address is let through; only for that account.
    assert_eq!(t.check("alice", ip("198.51.100.7"), now), Ok(()));
    let (now, _) = fail_n(&mut t, "bob", ip("203.0.113.10"), now, 5);
    assert!(t.check("bob", ip("198.51.100.7"), now).is_err());
    // At most GOOD_ADDRS_PER_ACCOUNT addresses; the oldest goes first.
    for i in 0..GOOD_ADDRS_PER_ACCOUNT {
        t.success(
            "alice",
            Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, i as u8))),
        );
    }
    let (now, _) = fail_n(&mut t, "alice", ip("203.0.113.11"), now, 5);
    assert!(t.check("alice", ip("198.51.100.7"), now).is_err());
    assert_eq!(t.check("alice", ip("192.0.2.1"), now), Ok(()));
    // A deleted account's addresses are forgotten.
    t.forget_account("alice");
    let (now, _) = fail_n(&mut t, "alice", ip("203.0.113.12"), now, 5);
    assert!(t.check("alice", ip("192.0.2.1"), now).is_err());
}

#[test]
fn a_spike_of_failures_spends_the_global_budget_until_it_refills() {
    let mut t = Throttle::new(cfg());
    let now = Instant::now();
    assert!(!t.spiking(now));
    for i in 0..GLOBAL_FAILURE_BURST {
        assert!(!t.spiking(now), "spiking after {i}");
        t.failure(
            &format!("n{i}"),
            false,
            ip(&format!("10.1.{}.{}", i / 256, i % 256)),
            now,
            0,
        );
    }
    assert!(t.spiking(now));
    let secs = u64::from(GLOBAL_FAILURE_BURST / GLOBAL_FAILURE_RATE);
    assert!(t.spiking(now + Duration::from_millis(100)));
    assert!(!t.spiking(now + Duration::from_secs(secs)));
}

#[test]
fn absurd_durations_are_clamped_not_a_panic() {
    let mut t = Throttle::new(ThrottleConfig {
        lockout: Duration::MAX,
        lockout_cap: Duration::MAX,
        ..cfg()
    });
    let (_, locks) = fail_n(&mut t, "alice", None, Instant::now(), 5);
    assert_eq!(locks[0].retry_after, MAX_LOCKOUT);
}
