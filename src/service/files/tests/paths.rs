//! The path rules: every hostile name refused by the validator and by every
//! operation; the client's checks and escaping.

use super::*;

#[test]
fn every_hostile_name_is_refused_by_the_validator() {
    for h in HOSTILE_NAMES {
        let name = h.name();
        assert!(
            RelPath::parse(&name).is_err(),
            "accepted {:?} ({})",
            escape_name(&name),
            h.why
        );
    }
    for b in HOSTILE_BYTES {
        assert_eq!(RelPath::parse_bytes(b), Err(PathError::NotUtf8));
    }
}

#[test]
fn every_hostile_name_is_refused_by_every_operation() {
    let (_dir, s) = store();
    put_new(&s, ALICE, "ok", b"x");
    for h in HOSTILE_NAMES {
        let name = h.name();
        let codes = [
            s.begin_upload(ALICE, &req(&name, 1)).map(drop).err(),
            s.download(ALICE, &name, 0).map(drop).err(),
            s.stat(ALICE, &name).map(drop).err(),
            s.remove(ALICE, &name, true).map(drop).err(),
            // "" lists the root: the one name `list` accepts.
            if name.is_empty() {
                None
            } else {
                s.list(ALICE, &name).map(drop).err()
            },
        ];
        for c in codes.into_iter().flatten() {
            assert_eq!(
                c.code(),
                crate::wire::ErrorCode::BadPath,
                "{:?}: {c}",
                h.why
            );
        }
        assert!(check_received(&RelPath::parse("ok").unwrap(), &name).is_err());
        assert!(check_entry_name(&name).is_err(), "{}", h.why);
    }
    assert_eq!(
        s.list(ALICE, "").unwrap().entries.len(),
        1,
        "nothing else appeared"
    );
}

#[test]
fn ordinary_names_are_accepted() {
    for ok in [
        "a",
        "report.pdf",
        "dir/sub/file.tar.gz",
        ".hidden",
        "..foo",
        "a..b",
        "café/naïve résumé.txt",
        "日本語/ファイル",
        "emoji 😀.png",
        "CONSOLE.txt",
        "com10",
        "with space",
        &"a".repeat(255),
        &["d"; 64].join("/"),
    ] {
        let p = RelPath::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(p.as_str(), ok);
    }
}

#[test]
fn reasons_name_the_rule() {
    assert_eq!(RelPath::parse("../x"), Err(PathError::DotComponent));
    assert_eq!(RelPath::parse("/x"), Err(PathError::Absolute));
    assert_eq!(RelPath::parse("a\\b"), Err(PathError::Backslash));
    assert_eq!(RelPath::parse("a\0"), Err(PathError::Control('\0')));
    assert_eq!(
        RelPath::parse("x/CON.txt"),
        Err(PathError::Reserved("CON.txt".into()))
    );
    assert_eq!(RelPath::parse("x."), Err(PathError::TrailingDotOrSpace));
    assert_eq!(
        RelPath::parse(&format!("{}d", "d/".repeat(64))),
        Err(PathError::TooDeep(65))
    );
}

#[test]
fn client_checks_what_it_receives() {
    let asked = RelPath::parse("photos/a.jpg").unwrap();
    assert!(check_received(&asked, "photos/a.jpg").is_ok());
    let e = check_received(&asked, "photos/b.jpg").unwrap_err();
    assert!(matches!(e, PathError::Unexpected { .. }), "{e}");
    assert!(check_received(&asked, "../photos/a.jpg").is_err());

    let dir = RelPath::parse("photos").unwrap();
    assert!(check_received_below(&dir, "photos/2024/a.jpg").is_ok());
    for bad in [
        "photos",
        "photosx/a.jpg",
        "other/a.jpg",
        "photos/../x",
        "/photos/a",
    ] {
        assert!(check_received_below(&dir, bad).is_err(), "{bad}");
    }
    assert!(check_entry_name("a.jpg").is_ok());
    assert!(check_entry_name("sub/a.jpg").is_err());
    assert_eq!(
        dir.join("a.jpg")
            .unwrap()
            .to_local(std::path::Path::new("/dest")),
        std::path::PathBuf::from("/dest/photos/a.jpg")
    );
}

#[test]
fn names_print_escaped() {
    assert!(matches!(
        escape_name("plain é.txt"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(escape_name("a\x1b[2Jb\n"), "a\\x1b[2Jb\\n");
    assert_eq!(escape_name("x\u{202e}y\\z"), "x\\u{202e}y\\\\z");
    assert_eq!(escape_name("\u{0085}"), "\\u{85}");
    assert_eq!(escape_bytes(b"caf\xe9\x07"), "caf\\xe9\\x07");
    let e = s_err("evil\x1b]0;pwned\x07");
    assert!(!e.contains('\x1b') && !e.contains('\x07'), "{e}");
}

/// The message a hostile path produces, which must itself be printable.
fn s_err(name: &str) -> String {
    let (_dir, s) = store();
    s.download(ALICE, name, 0).unwrap_err().to_string()
}

/// Issue 17 item 11: PROTOCOL.md lists the refused names exactly, so a
/// client written from it alone refuses what the server refuses: every
/// device name, every forbidden character, the reserved prefix and the
/// limits appear in its file-family section.
#[test]
fn protocol_md_lists_every_refused_name() {
    let doc = include_str!("../../../../docs/PROTOCOL.md");
    let start = doc
        .find("**Refused paths**")
        .expect("the refused-paths list");
    let section = &doc[start..start + doc[start..].find("HOSTILE_NAMES").unwrap()];
    for d in super::super::paths::WINDOWS_DEVICES {
        let listed = section.contains(&format!("`{d}`"))
            || d.strip_prefix("COM")
                .or_else(|| d.strip_prefix("LPT"))
                .is_some_and(|n| {
                    n.len() == 1 && section.contains(&format!("`{}1`–`{}9`", &d[..3], &d[..3]))
                });
        assert!(listed, "{d} missing from PROTOCOL.md");
    }
    for c in super::super::paths::WINDOWS_FORBIDDEN {
        assert!(section.contains(&format!("`{c}`")), "{c} missing");
    }
    for needle in [
        RESERVED_PREFIX,
        &MAX_PATH_BYTES.to_string(),
        &MAX_COMPONENT_BYTES.to_string(),
        &MAX_DEPTH.to_string(),
        "U+202A–U+202E",
        "U+2066–U+2069",
        "NFC",
        "`\\`",
    ] {
        assert!(section.contains(needle), "{needle} missing");
    }
}
