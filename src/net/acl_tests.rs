//! Unit tests of CIDR parsing and matching.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn acl(allow: &[&str], deny: &[&str]) -> Acl {
    let p = |v: &[&str]| v.iter().map(|s| s.parse().unwrap()).collect::<Vec<Cidr>>();
    Acl::new(p(allow), p(deny))
}

#[test]
fn v4_networks_and_bare_addresses() {
    let c: Cidr = "10.1.2.3/8".parse().unwrap();
    assert_eq!(c.to_string(), "10.0.0.0/8");
    assert!(c.contains(ip("10.255.0.1")));
    assert!(!c.contains(ip("11.0.0.1")));
    let one: Cidr = "192.168.1.7".parse().unwrap();
    assert_eq!(one.to_string(), "192.168.1.7/32");
    assert!(one.contains(ip("192.168.1.7")));
    assert!(!one.contains(ip("192.168.1.8")));
    let all: Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("203.0.113.9")));
    assert!(
        !all.contains(ip("::1")),
        "a v4 rule never matches a real v6 peer"
    );
}

#[test]
fn v6_networks() {
    let c: Cidr = "2001:db8:1:2::/64".parse().unwrap();
    assert!(c.contains(ip("2001:db8:1:2:ffff::1")));
    assert!(!c.contains(ip("2001:db8:1:3::1")));
    let one: Cidr = "[::1]".parse().unwrap();
    assert_eq!(one.to_string(), "::1/128");
    assert!(one.contains(ip("::1")));
}

#[test]
fn mapped_peers_match_v4_rules() {
    let a = acl(&[], &["127.0.0.1"]);
    assert!(!a.permits(ip("::ffff:127.0.0.1")));
    assert!(a.permits(ip("::ffff:127.0.0.2")));
    // A rule written as a mapped address is an IPv4 rule.
    let m: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
    assert_eq!(m.to_string(), "10.0.0.0/8");
    assert!(m.contains(ip("10.9.9.9")));
}

#[test]
fn deny_wins_and_allow_lists_exclude_the_rest() {
    let a = acl(&["10.0.0.0/8"], &["10.0.0.66"]);
    assert!(a.permits(ip("10.0.0.1")));
    assert!(!a.permits(ip("10.0.0.66")), "deny beats allow");
    assert!(
        !a.permits(ip("192.168.0.1")),
        "an allow list excludes the rest"
    );
    let open = acl(&[], &[]);
    assert!(open.permits(ip("192.168.0.1")));
    assert!(open.permits(ip("::1")));
    let v6 = acl(&["fd00::/8"], &[]);
    assert!(v6.permits(ip("fd12::1")));
    assert!(!v6.permits(ip("127.0.0.1")));
}

#[test]
fn bad_rules_say_why() {
    assert!(matches!(
        "10.0.0.0/33".parse::<Cidr>(),
        Err(AclError::BadPrefix { max: 32, .. })
    ));
    assert!(matches!(
        "::/129".parse::<Cidr>(),
        Err(AclError::BadPrefix { max: 128, .. })
    ));
    for bad in [
        "",
        "10.0.0",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "host.example",
        "10.0.0.0/8/8",
    ] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
    }
}

#[test]
fn rule_files_skip_comments_and_name_bad_lines() {
    let rules = parse_rules("# office\n10.0.0.0/8  # lan\n\n  ::1\n").unwrap();
    assert_eq!(rules.len(), 2);
    let err = parse_rules("10.0.0.0/8\n\nbogus\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3: \"bogus\" is not an IP address or CIDR network (e.g. 10.0.0.0/8, 2001:db8::/32)"
    );
}

#[test]
fn duplicates_count_once() {
    let a = acl(&["10.0.0.0/8", "10.1.0.0/8"], &[]);
    assert_eq!(a.allow_len(), 1);
}
