//! Unit tests of the ping tracker, with made-up instants.

use super::*;

fn probe(seq: u64, size: usize) -> Vec<u8> {
    let mut b = vec![0; size];
    probe::fill(seq, &mut b);
    b
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn reply_duplicate_out_of_order_late_lost() {
    let t0 = Instant::now();
    let mut ev = Vec::new();
    let mut t = Tracker::new(16, 100 * MS, 8, t0);
    for _ in 0..3 {
        t.send(t0, &mut ev);
    }
    assert!(matches!(
        t.reply(&probe(1, 16), t0 + MS),
        Event::Reply {
            seq: 1,
            out_of_order: false,
            ..
        }
    ));
    assert!(matches!(
        t.reply(&probe(0, 16), t0 + MS),
        Event::Reply {
            seq: 0,
            out_of_order: true,
            ..
        }
    ));
    assert!(matches!(
        t.reply(&probe(0, 16), t0 + MS),
        Event::Duplicate { seq: 0, .. }
    ));
    assert_eq!(t.next_deadline(), Some(t0 + 100 * MS));
    t.expire(Some(t0 + 50 * MS), &mut ev);
    assert!(ev.is_empty());
    t.expire(Some(t0 + 100 * MS), &mut ev);
    assert_eq!(ev, vec![Event::Lost { seq: 2 }]);
    assert!(!t.pending());
    let late = t.reply(&probe(2, 16), t0 + 150 * MS);
    assert_eq!(
        late,
        Event::Late {
            seq: 2,
            rtt: Some(150 * MS)
        }
    );
    let c = t.counts;
    assert_eq!(
        (c.sent, c.received, c.duplicates, c.out_of_order, c.late),
        (3, 2, 1, 1, 1)
    );
    assert_eq!(t.lost(), 1);
}

#[test]
fn a_reply_past_the_timeout_is_late_even_before_expiry_runs() {
    let t0 = Instant::now();
    let mut t = Tracker::new(8, 10 * MS, 4, t0);
    t.send(t0, &mut Vec::new());
    assert!(matches!(
        t.reply(&probe(0, 8), t0 + 11 * MS),
        Event::Late { .. }
    ));
    assert_eq!(t.counts.received, 0);
}

#[test]
fn corrupt_unknown_and_short_replies_are_mismatches() {
    let t0 = Instant::now();
    let mut t = Tracker::new(16, MS, 4, t0);
    t.send(t0, &mut Vec::new());
    let mut bad = probe(0, 16);
    bad[10] = b'!';
    assert!(matches!(
        t.reply(&bad, t0),
        Event::Mismatch { seq: Some(0), .. }
    ));
    assert!(matches!(
        t.reply(&probe(5, 16), t0),
        Event::Mismatch { seq: None, .. }
    ));
    assert!(matches!(
        t.reply(b"hi", t0),
        Event::Mismatch {
            seq: None,
            bytes: 2
        }
    ));
    assert!(matches!(t.reply(&probe(0, 15), t0), Event::Mismatch { .. }));
    assert_eq!(t.counts.mismatched, 4);
    assert!(t.pending());
}

#[test]
fn a_full_window_declares_the_oldest_lost_and_forgets_it() {
    let t0 = Instant::now();
    let mut ev = Vec::new();
    let mut t = Tracker::new(8, Duration::from_secs(10), 2, t0);
    for _ in 0..3 {
        t.send(t0, &mut ev);
    }
    assert_eq!(ev, vec![Event::Lost { seq: 0 }]);
    assert_eq!(t.reply(&probe(0, 8), t0), Event::Late { seq: 0, rtt: None });
    t.expire(None, &mut ev);
    assert_eq!(ev.len(), 3);
    assert_eq!(t.lost(), 3);
}
