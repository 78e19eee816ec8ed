//! Pressure: a member that never reads, and a thousand members at once.

use tokio::io::AsyncWriteExt;

use crate::clients::{Line, server};

#[tokio::test]
async fn a_line_member_that_never_reads_is_cut_off_and_the_room_goes_on() {
    let srv = server(&[
        "--chat-rate",
        "1000000",
        "--chat-burst",
        "1000000",
        "--chat-queue",
        "256",
    ]);
    let mut watcher = Line::join(&srv, "watcher").await;
    // Connected, named, then never read from again.
    let mut slow = Line::join_small_buffer(&srv, "slow").await;
    watcher.until(|l| l == "* ~slow joined lobby").await;
    let talker = Line::join(&srv, "talker").await;
    watcher.until(|l| l == "* ~talker joined lobby").await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    // The talker stays at most 100 messages ahead of the watcher: a reader
    // that keeps up is never cut off (one that falls 256 behind would be).
    let window = std::sync::Arc::new(tokio::sync::Semaphore::new(100));
    let credit = window.clone();
    let mut talker_w = talker.w;
    let pump = tokio::spawn(async move {
        let text = "z".repeat(4000);
        let mut sent = 0u32;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) && sent < 50_000 {
            credit.acquire().await.unwrap().forget();
            talker_w
                .write_all(format!("{sent} {text}\n").as_bytes())
                .await
                .unwrap();
            sent += 1;
        }
        (talker_w, sent)
    });
    // The watcher reads everything, and sees the slow one go.
    let mut seen = 0;
    let cut = loop {
        let l = watcher.line().await;
        assert!(!l.is_empty());
        if l.starts_with("<~talker>") {
            seen += 1;
            window.add_permits(1);
        } else if l.contains("~slow") {
            break l;
        }
    };
    assert_eq!(cut, "* ~slow was cut off from lobby (too slow)");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    window.add_permits(1_000);
    let (mut talker_w, sent) = pump.await.unwrap();
    assert!(seen > 0 && sent > 256, "seen {seen}, sent {sent}");
    talker_w.write_all(b"after the cut\n").await.unwrap();
    watcher.until(|l| l == "<~talker> after the cut").await;
    // Reading at last, the slow one finds what the kernel had buffered,
    // then the cut-off notice, then the end.
    slow.w.shutdown().await.unwrap();
    let mut last = String::new();
    loop {
        let l = slow.line().await;
        if l.is_empty() {
            break;
        }
        last = l;
    }
    assert_eq!(
        last,
        "* you were cut off: you fell too far behind the room; reconnect"
    );
}

#[tokio::test]
async fn a_thousand_line_members_all_receive_one_message() {
    sockit::net::raise_fd_limit();
    const MEMBERS: usize = 1000;
    const WAVE: usize = 100;
    // A thousand members and a sender, all from loopback: past the
    // default per-address cap of 1,000.
    let srv = server(&["--max-conns-per-ip", "0"]);
    let addr = srv.sock("chat-lines", "tcp://");
    let mut tasks = tokio::task::JoinSet::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(MEMBERS);
    let mut ready = 0;
    for i in 0..MEMBERS {
        // In waves: each join is a notice to everyone already in, and a
        // wave stays below the 256-event queue of a member whose reader
        // the test machine has not scheduled yet.
        if i % WAVE == 0 {
            while ready < i {
                ready_rx.recv().await.unwrap();
                ready += 1;
            }
        }
        let (addr, ready_tx) = (addr.clone(), ready_tx.clone());
        tasks.spawn(async move {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (r, w) = s.into_split();
            let mut l = Line::from_parts(Box::new(r), Box::new(w)).await;
            l.send(&format!("m{i}")).await;
            l.until(|s| s.starts_with("* you are")).await;
            ready_tx.send(()).await.unwrap();
            let mut last = String::new();
            let mut n = 0;
            loop {
                let s = l.line().await;
                n += 1;
                assert!(!s.is_empty(), "m{i} closed after {n} lines, last {last:?}");
                if s.starts_with('<') {
                    // Kept open until all have it: a thousand leaves at
                    // once would flood the others' queues (and the host's).
                    return (s, l);
                }
                last = s;
            }
        });
    }
    while ready < MEMBERS {
        ready_rx.recv().await.unwrap();
        ready += 1;
    }
    let mut host = Line::join(&srv, "host").await;
    host.send("hello, all of you").await;
    let mut open = Vec::with_capacity(MEMBERS);
    while let Some(r) = tasks.join_next().await {
        let (line, conn) = r.unwrap();
        assert_eq!(line, "<~host> hello, all of you");
        open.push(conn);
    }
    assert_eq!(open.len(), MEMBERS);
}

#[tokio::test]
async fn a_reader_that_falls_behind_and_catches_up_misses_nothing() {
    let srv = server(&["--chat-rate", "1000000", "--chat-burst", "1000000"]);
    // No reading until everything is said: the member's queue holds the
    // backlog, drained in batches later.
    let mut late = Line::join_small_buffer(&srv, "late").await;
    let mut talker = Line::join(&srv, "talker").await;
    const N: usize = 2_000;
    let mut burst = String::new();
    for i in 0..N {
        burst.push_str(&format!("{i} {}\n", "y".repeat(150)));
    }
    talker.send_bytes(burst.as_bytes()).await;
    // /history waits for the talker's lines to be committed (and so queued
    // for every member) before it answers.
    talker.send("/history 1").await;
    talker
        .until(|l| l.starts_with(&format!("<~talker> {}", N - 1)))
        .await;
    let mut next = 0;
    while next < N {
        let l = late.line().await;
        if let Some(text) = l.strip_prefix("<~talker> ") {
            assert!(
                text.starts_with(&format!("{next} ")),
                "expected message {next}, got {l:?}"
            );
            next += 1;
        }
    }
}
