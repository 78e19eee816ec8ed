//! The datagram door's own rules: renames, leases, the bound on members.

use std::time::Duration;

use serde_json::json;
use sockit::server::Service;

use crate::clients::{Line, Udp, server};
use crate::common::inproc::InProc;

#[tokio::test]
async fn udp_rename_and_lease_expiry() {
    // In process, so the test moves the server's clock instead of waiting.
    let srv = InProc::start(
        &[Service::ChatLines, Service::ChatUdp],
        |_| {},
        |o| o.chat.lease = Duration::from_secs(60),
    )
    .await;
    let mut ann = Line::join(&srv, "ann").await;
    let u = Udp::verified(&srv, "bob").await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    u.send(json!({"name": "bobby", "msg": "new name"})).await;
    ann.until(|l| l == "* ~bob is now known as ~bobby").await;
    assert_eq!(ann.line().await, "<~bobby> new name");
    // Nothing more from bobby: the lease runs out and the room is told.
    // (ann keeps talking, so only the datagram member's lease ends.)
    srv.skip(Duration::from_secs(61)).await;
    ann.until(|l| l == "* ~bobby left lobby").await;
}

#[tokio::test]
async fn new_udp_addresses_past_the_per_ip_bound_are_refused() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut members = Vec::new();
    // One host cycling source ports: 64 members from one IP at most.
    for i in 0..64 {
        members.push(Udp::verified(&srv, &format!("p{i}")).await);
    }
    ann.until(|l| l == "* ~p63 joined lobby").await;
    let extra = Udp::new(&srv).await;
    extra.send(json!({"name": "p64"})).await;
    let c = extra.recv().await;
    extra
        .send(json!({"name": "p64", "cookie": c["cookie"]}))
        .await;
    let e = extra.recv().await;
    assert_eq!(e["code"], "full", "{e}");
    // The members already in are not pushed out.
    members[0]
        .send(json!({"name": "p0", "msg": "still in"}))
        .await;
    assert_eq!(ann.until(|l| l.starts_with('<')).await, "<~p0> still in");
}
