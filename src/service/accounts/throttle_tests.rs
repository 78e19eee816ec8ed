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
        all.extend(t.failure(name, from, now, 1000));
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
        assert!(t.failure("alice", None, now, 0).is_empty());
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
    t.success("alice");
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
        locks.extend(t.failure(&name, ip("10.0.0.1"), now, 0));
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
        let locks = t.failure(&format!("u{i}"), ip("192.0.2.7"), now, 0);
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
fn a_full_table_stops_tracking_new_keys_until_old_ones_expire() {
    let mut t = Throttle::new(ThrottleConfig {
        account_max_failures: 1,
        ..cfg()
    });
    let now = Instant::now();
    for i in 0..MAX_TRACKED {
        t.failure(&format!("k{i}"), None, now, 0);
    }
    assert!(
        t.failure("late", None, now, 0).is_empty(),
        "untracked while full"
    );
    assert_eq!(t.check("late", None, now), Ok(()));
    // Once the lockouts are over and forgiven, the sweep makes room.
    let later = now + MIN + 60 * MIN;
    assert_eq!(t.failure("late", None, later, 0).len(), 1);
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
