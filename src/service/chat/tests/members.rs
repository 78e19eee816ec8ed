//! Names, presence and listings.

use super::*;

#[tokio::test]
async fn guest_names_are_marked_unique_and_never_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let registry = |name: &str| name.eq_ignore_ascii_case("root");
    let hub = LocalHub::open(dir.path(), unlimited(), Arc::new(registry)).unwrap();
    let connect = |who: Identity| Session::open(dyn_hub(&hub), who, DoorKind::Line);
    let (ann, _i1) = connect(Identity::Guest("Zoë".into())).await.unwrap();
    assert_eq!(&**ann.name(), "~Zoë");
    let taken = connect(Identity::Guest("~ZOE\u{308}".into()))
        .await
        .unwrap_err();
    assert_eq!(taken, ChatError::NameTaken("~ZOË".into()));
    let e = connect(Identity::Guest("Root".into())).await.unwrap_err();
    // Told as a name in use, not as an account: guests learn no accounts.
    assert_eq!(e.code(), crate::wire::ErrorCode::NameTaken);
    assert_eq!(e.to_string(), "the name ~Root is taken; pick another");
    let (root, _i2) = connect(Identity::Registered("root".into())).await.unwrap();
    assert_eq!(&**root.name(), "root");
    assert!(connect(Identity::Registered("~root".into())).await.is_err());
    // A name comes free when its guest leaves.
    drop(ann);
    let (again, _i3) = connect(Identity::Guest("zoë".into())).await.unwrap();
    assert_eq!(&**again.name(), "~zoë");
}

#[tokio::test]
async fn nick_follows_the_same_rules_and_tells_the_room() {
    let dir = tempfile::tempdir().unwrap();
    let registry = |name: &str| name == "admin";
    let hub = LocalHub::open(dir.path(), unlimited(), Arc::new(registry)).unwrap();
    let (_ann, mut ann_inbox) = guest_in(&hub, "ann", "lobby").await;
    let (mut bob, _bob_inbox) = guest_in(&hub, "bob", "lobby").await;
    next_presence(&mut ann_inbox).await; // ann joined
    next_presence(&mut ann_inbox).await; // bob joined
    let nick = |n: &str| Identity::Guest(n.into());
    assert!(matches!(
        bob.rename(nick("ANN")).await,
        Err(ChatError::NameTaken(_))
    ));
    assert!(matches!(
        bob.rename(nick("admin")).await,
        Err(ChatError::NameRegistered(_))
    ));
    assert!(matches!(
        bob.rename(nick("a b")).await,
        Err(ChatError::BadName { .. })
    ));
    assert_eq!(&*bob.rename(nick("robert")).await.unwrap(), "~robert");
    let p = next_presence(&mut ann_inbox).await;
    assert_eq!(p.notice(), "~bob is now known as ~robert");
    // The old name is free again; the new one is held.
    let (_carol, _c) = guest_in(&hub, "bob", "lobby").await;
    let who = Session::open(dyn_hub(&hub), nick("Robert"), DoorKind::Web).await;
    assert!(matches!(who, Err(ChatError::NameTaken(_))));
    // Logging in turns the guest into the account.
    assert_eq!(
        &*bob
            .rename(Identity::Registered("admin".into()))
            .await
            .unwrap(),
        "admin"
    );
    let m = bob.publish("lobby", "hi").await.unwrap();
    assert!(!m.guest);
    assert_eq!(&*m.name, "admin");
}

#[tokio::test]
async fn presence_who_and_rooms_span_every_door() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, mut ann_inbox) = guest_in(&hub, "ann", "lobby").await;
    let p = next_presence(&mut ann_inbox).await;
    assert_eq!(p.notice(), "~ann joined lobby");
    let who = Identity::Registered("root".into());
    let (root, _root_inbox) = Session::open(dyn_hub(&hub), who, DoorKind::Datagram)
        .await
        .unwrap();
    root.join("#Lobby").await.unwrap();
    let p = next_presence(&mut ann_inbox).await;
    assert_eq!(
        (p.change.clone(), &*p.name, p.door, p.guest),
        (Change::Joined, "root", DoorKind::Datagram, false)
    );
    let list = hub.who("lobby").await.unwrap();
    let list: Vec<(&str, DoorKind, bool)> =
        list.iter().map(|m| (&*m.name, m.door, m.guest)).collect();
    assert_eq!(
        list,
        [
            ("root", DoorKind::Datagram, false),
            ("~ann", DoorKind::Line, true)
        ]
    );
    ann.join("dev").await.unwrap();
    let p = next_presence(&mut ann_inbox).await;
    assert_eq!(p.notice(), "~ann joined dev");
    let rooms = hub.rooms().await.unwrap();
    let rooms: Vec<(&str, usize)> = rooms.iter().map(|r| (&*r.name, r.members)).collect();
    assert_eq!(rooms, [("dev", 1), ("lobby", 2)]);
    root.leave("lobby").await.unwrap();
    let p = next_presence(&mut ann_inbox).await;
    assert_eq!(p.notice(), "root left lobby");
    assert_eq!(
        root.leave("lobby").await,
        Err(ChatError::NotInRoom("lobby".into()))
    );
    drop(root);
    // An empty room without history is forgotten.
    drop(ann);
    assert!(hub.rooms().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_room_names_and_room_limit() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, _i) = guest_in(&hub, "ann", "lobby").await;
    assert_eq!(
        ann.join("no way").await.unwrap_err().code(),
        crate::wire::ErrorCode::BadRoom
    );
    assert!(matches!(
        ann.publish("elsewhere", "hi").await,
        Err(ChatError::NotInRoom(_))
    ));
    for i in 1..MAX_ROOMS_PER_MEMBER {
        ann.join(&format!("r{i}")).await.unwrap();
    }
    assert_eq!(
        ann.join("one-more").await,
        Err(ChatError::TooManyRooms(MAX_ROOMS_PER_MEMBER))
    );
    // Joining a room one is in already is fine.
    ann.join("lobby").await.unwrap();
}
