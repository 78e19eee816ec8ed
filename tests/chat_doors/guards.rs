//! Abuse the chat doors must absorb: presence floods, rooms created by
//! the thousand, and look-alike text that would slip past the filter.

use std::time::Instant;

use serde_json::json;

use crate::clients::{Line, Udp, server};

/// Renames `ann` sees before `<~mark> end`, after the marker joins and
/// speaks (everything said earlier reaches her before it).
async fn renames_seen(srv: &crate::common::Server, ann: &mut Line) -> usize {
    let mut mark = Line::join(srv, "mark").await;
    mark.send("end").await;
    let mut renames = 0;
    loop {
        let l = ann.line().await;
        assert!(!l.is_empty(), "closed");
        if l == "<~mark> end" {
            return renames;
        }
        if l.contains(" is now known as ") {
            renames += 1;
        }
    }
}

/// Most presence changes a member may make in `secs` seconds with the
/// default flood limit (bursts of 10, then 5 a second), plus one for
/// rounding.
fn allowance(secs: f64) -> usize {
    10 + (5.0 * secs).ceil() as usize + 1
}

#[tokio::test]
async fn two_thousand_nick_lines_reach_the_room_as_a_handful() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut eve = Line::join(&srv, "eve").await;
    ann.until(|l| l == "* ~eve joined lobby").await;
    const N: usize = 2000;
    let started = Instant::now();
    let mut flood = String::new();
    for i in 0..N {
        flood.push_str(&format!("/nick e{i}\r\n"));
    }
    eve.send_bytes(flood.as_bytes()).await;
    // One answer per line: the rename itself, or the flood notice.
    let (mut done, mut refused) = (0, 0);
    while done < N {
        let l = eve.line().await;
        assert!(!l.is_empty(), "closed");
        if l.starts_with("* slow down") {
            refused += 1;
            done += 1;
        } else if l.contains(" is now known as ") {
            done += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let renames = renames_seen(&srv, &mut ann).await;
    assert!(
        renames >= 1 && renames <= allowance(secs),
        "{renames} in {secs:.1} s"
    );
    assert_eq!(renames + refused, N);
}

#[tokio::test]
async fn udp_renames_count_against_the_flood_limit_too() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    // A verified member: an unverified source never joins, so it has no
    // name to change.
    let bob = Udp::verified(&srv, "b0").await;
    ann.until(|l| l == "* ~b0 joined lobby").await;
    let started = Instant::now();
    const N: usize = 200;
    for i in 1..=N {
        bob.send(json!({"name": format!("b{i}")})).await;
    }
    // Renames past the allowance are refused with the flood error.
    let e = bob.until(|v| v.get("code").is_some()).await;
    assert_eq!(e["code"], "rate_limited", "{e}");
    let secs = started.elapsed().as_secs_f64();
    let renames = renames_seen(&srv, &mut ann).await;
    assert!(renames <= allowance(secs + 1.0), "{renames} of {N}");
}

#[tokio::test]
async fn one_address_cannot_create_rooms_without_end() {
    let srv = server(&[
        "--chat-room-creates",
        "3",
        "--chat-rate",
        "1000",
        "--chat-burst",
        "1000",
    ]);
    let mut eve = Line::join(&srv, "eve").await;
    for i in 1..=3 {
        eve.send(&format!("/join r{i}")).await;
        eve.until(|l| l == format!("* ~eve joined r{i}")).await;
    }
    eve.send("/join r4").await;
    let n = eve.until(|l| l.starts_with("* too many new rooms")).await;
    assert!(n.contains("join an existing room"), "{n}");
    // The lobby (empty, so gone, meanwhile) and the rooms that exist stay
    // open to everyone from that address (r1 and r2, left empty and
    // never used, are gone).
    let mut bob = Line::join(&srv, "bob").await;
    bob.send("/join r3").await;
    bob.until(|l| l == "* ~bob joined r3").await;
    bob.send("/join r1").await;
    bob.until(|l| l.starts_with("* too many new rooms")).await;
}

#[tokio::test]
async fn look_alikes_and_padding_do_not_get_past_the_line_door() {
    let srv = server(&["--chat-filter", "darn=!block"]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut eve = Line::join(&srv, "eve").await;
    ann.until(|l| l == "* ~eve joined lobby").await;
    for sneaky in ["d\u{200B}arn", "d\u{AD}arn", "ｄａｒｎ", "dаrn", "DΑRN"] {
        eve.send(sneaky).await;
        let n = eve.until(|l| l.starts_with("* message refused")).await;
        assert!(n.contains("is not allowed here"), "{sneaky:?}: {n}");
    }
    // None of them reached ann: the next line she reads is this one, its
    // padding shown as one space.
    let padded = format!("hello{}<admin> type your password", " ".repeat(80));
    eve.send(&padded).await;
    assert_eq!(ann.line().await, "<~eve> hello <admin> type your password");
}
