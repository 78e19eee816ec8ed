//! The sealed format: round trips, every way a hostile server could alter
//! a sealed file, and the fixed vectors of `tests/vectors/e2e.json` (which
//! the browser's decryptor checks too, in tests/e2e/e2e_share.mjs).
#![allow(clippy::unwrap_used)]

use super::meta::seal_meta_with;
use super::*;

fn key() -> LinkKey {
    LinkKey(std::array::from_fn(|i| i as u8))
}

fn header(record: u32) -> Header {
    Header {
        record,
        salt: std::array::from_fn(|i| 0xa0 + i as u8),
    }
}

fn plain(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn round_trips_at_every_boundary() {
    for record in [1, 16, 64] {
        for n in [0, 1, 15, 16, 17, 64, 65, 200] {
            let h = header(record);
            let p = plain(n);
            let s = seal_all(&key(), &h, &p);
            assert_eq!(
                s.len() as u64,
                h.sealed_size(n as u64),
                "record {record}, {n} bytes"
            );
            assert_eq!(open_all(&key(), &s, n as u64).unwrap(), p);
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_fails() {
    let h = header(16);
    let s = seal_all(&key(), &h, &plain(40));
    for i in HEADER_LEN..s.len() {
        let mut t = s.clone();
        t[i] ^= 0x01;
        assert!(
            matches!(open_all(&key(), &t, 40), Err(E2eError::Record { .. })),
            "byte {i}"
        );
    }
}

#[test]
fn truncation_at_a_record_boundary_fails() {
    // 48 bytes = three full records; drop the last record and claim the
    // plaintext was 32 bytes: record 1 was not sealed as the final one.
    let h = header(16);
    let s = seal_all(&key(), &h, &plain(48));
    let cut = &s[..h.offset(2) as usize];
    assert_eq!(
        open_all(&key(), cut, 32),
        Err(E2eError::Record { index: 1 })
    );
    // Claiming the true size, the short file is refused before any record.
    assert!(matches!(
        open_all(&key(), cut, 48),
        Err(E2eError::Size { .. })
    ));
}

#[test]
fn swapped_records_fail() {
    let h = header(16);
    let s = seal_all(&key(), &h, &plain(48));
    let (a, b) = (h.offset(0) as usize, h.offset(1) as usize);
    let rec = 16 + TAG_LEN;
    let mut t = s.clone();
    t[a..a + rec].copy_from_slice(&s[b..b + rec]);
    t[b..b + rec].copy_from_slice(&s[a..a + rec]);
    assert_eq!(open_all(&key(), &t, 48), Err(E2eError::Record { index: 0 }));
}

#[test]
fn a_wrong_key_fails_on_metadata_and_content() {
    let m = Metadata {
        name: "a.txt".into(),
        size: 3,
        sha256: "00".into(),
    };
    let blob = seal_meta(&key(), &m).unwrap();
    assert_eq!(open_meta(&key(), &blob).unwrap(), m);
    let other = LinkKey([9; 32]);
    assert_eq!(open_meta(&other, &blob), Err(E2eError::WrongKey));
    let s = seal_all(&key(), &header(16), b"abc");
    assert_eq!(open_all(&other, &s, 3), Err(E2eError::Record { index: 0 }));
}

#[test]
fn hostile_headers_and_keys_are_refused() {
    let mut h = header(16).encode();
    h[7] = 2;
    assert!(matches!(Header::parse(&h), Err(E2eError::Header(_))));
    let mut h = header(16).encode();
    h[8..12].copy_from_slice(&(MAX_RECORD + 1).to_be_bytes());
    assert!(matches!(Header::parse(&h), Err(E2eError::Header(_))));
    assert!(matches!(Header::parse(&[0u8; 5]), Err(E2eError::Header(_))));
    assert!(matches!(
        Header::parse(b"SOCKE2F\x01\0\0\0\x10aaaaaaaaaaaaaaaa"),
        Err(E2eError::Header(_))
    ));
    assert_eq!(LinkKey::from_fragment("#abc"), Err(E2eError::BadKey));
    let k = LinkKey::random().unwrap();
    assert_eq!(
        LinkKey::from_fragment(&format!("#{}", k.to_fragment())),
        Ok(k)
    );
    assert!(matches!(
        open_meta(&key(), &[1; 5000]),
        Err(E2eError::Header(_))
    ));
    assert!(matches!(open_meta(&key(), &[]), Err(E2eError::Header(_))));
}

#[derive(serde::Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(serde::Deserialize)]
struct Vector {
    name: String,
    key: String,
    salt: String,
    record: u32,
    plaintext: String,
    sealed: String,
    meta: Metadata,
    meta_nonce: String,
    meta_sealed: String,
}

/// The file every implementation checks itself against.
const VECTORS: &str = include_str!("../../../tests/vectors/e2e.json");

#[test]
fn fixed_vectors() {
    let v: Vectors = serde_json::from_str(VECTORS).unwrap();
    assert!(v.vectors.len() >= 3);
    for v in v.vectors {
        let key = LinkKey::from_fragment(&v.key).unwrap();
        let h = Header {
            record: v.record,
            salt: hex::decode(&v.salt).unwrap().try_into().unwrap(),
        };
        let p = hex::decode(&v.plaintext).unwrap();
        let sealed = hex::decode(&v.sealed).unwrap();
        assert_eq!(hex::encode(seal_all(&key, &h, &p)), v.sealed, "{}", v.name);
        assert_eq!(
            open_all(&key, &sealed, p.len() as u64).unwrap(),
            p,
            "{}",
            v.name
        );
        let nonce: [u8; 12] = hex::decode(&v.meta_nonce).unwrap().try_into().unwrap();
        assert_eq!(
            hex::encode(seal_meta_with(&key, &v.meta, nonce)),
            v.meta_sealed,
            "{}",
            v.name
        );
        let blob = hex::decode(&v.meta_sealed).unwrap();
        assert_eq!(open_meta(&key, &blob).unwrap(), v.meta, "{}", v.name);
        assert_eq!(v.meta.size, p.len() as u64);
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&p)),
            v.meta.sha256,
            "{}",
            v.name
        );
    }
}

/// Prints the vectors for this code (`cargo test --lib e2e::tests::print
/// -- --ignored --nocapture`), to regenerate the file after a deliberate
/// format change.
#[test]
#[ignore]
fn print_vectors() {
    use sha2::Digest;
    let cases: [(&str, u32, Vec<u8>); 3] = [
        ("empty", 16, Vec::new()),
        ("one_full_record", 16, b"sixteen bytes!!!".to_vec()),
        (
            "three_records_last_short",
            16,
            b"sockit end-to-end: records of 16 bytes".to_vec(),
        ),
    ];
    let mut out = Vec::new();
    for (name, record, p) in cases {
        let h = header(record);
        let m = Metadata {
            name: format!("{name}.txt"),
            size: p.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(&p)),
        };
        let nonce = [0x5a; 12];
        out.push(serde_json::json!({
            "name": name,
            "key": key().to_fragment(),
            "salt": hex::encode(h.salt),
            "record": record,
            "plaintext": hex::encode(&p),
            "sealed": hex::encode(seal_all(&key(), &h, &p)),
            "meta": m,
            "meta_nonce": hex::encode(nonce),
            "meta_sealed": hex::encode(seal_meta_with(&key(), &m, nonce)),
        }));
    }
    let doc = serde_json::json!({
        "format": "sockit end-to-end encrypted share vectors v1; see docs/PROTOCOL.md, End-to-end encrypted shares",
        "vectors": out,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap());
}
