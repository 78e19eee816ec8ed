//! Memory stays bounded whatever the file size: an 8 GiB sparse file is
//! opened, listed and read through the download reader chunk by chunk, and
//! the process's resident memory grows by about one chunk, not by what was
//! read. Alone in its own test binary so no other test moves the RSS.
#![allow(clippy::unwrap_used)]

use sockit::service::files::{FILES_DIR, FileStore, FilesConfig, USERS_DIR};

/// Apparent size of the sparse file.
const HUGE: u64 = 8 << 30;
/// One frame body of the wire protocol: what a door reads per chunk.
const CHUNK: usize = 8 << 20;
/// Chunks read: 1 GiB in all, far more than the allowed growth.
const CHUNKS: usize = 128;
/// Allowed RSS growth: the chunk buffer plus allocator slack.
const MAX_GROWTH: u64 = 32 << 20;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn reading_a_huge_sparse_file_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = FileStore::open(dir.path(), FilesConfig::default()).unwrap();
    let home = dir.path().join(FILES_DIR).join(USERS_DIR).join("7");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::File::create(home.join("huge.img"))
        .unwrap()
        .set_len(HUGE)
        .unwrap();

    let listing = store.list(7, "").unwrap();
    assert_eq!(listing.entries[0].size, HUGE);

    let before = rss_bytes();
    let mut dl = store.download(7, "huge.img", 0).unwrap();
    assert_eq!(dl.size(), HUGE);
    let mut buf = vec![0u8; CHUNK];
    for i in 0..CHUNKS {
        let n = dl.read_chunk(&mut buf).unwrap();
        assert_eq!(n, CHUNK, "chunk {i}");
        // Holes read as zeros; sampling keeps the debug build quick.
        assert!(buf.iter().step_by(4096).all(|&b| b == 0));
    }
    assert_eq!(dl.offset(), (CHUNK * CHUNKS) as u64);
    assert_eq!(dl.remaining(), HUGE - (CHUNK * CHUNKS) as u64);
    let growth = rss_bytes().saturating_sub(before);
    assert!(
        growth < MAX_GROWTH,
        "RSS grew by {growth} bytes reading 1 GiB"
    );

    // Resuming near the end reads exactly what is left.
    let mut tail = store.download(7, "huge.img", HUGE - 10).unwrap();
    assert_eq!(tail.read_chunk(&mut buf).unwrap(), 10);
    assert_eq!(tail.read_chunk(&mut buf).unwrap(), 0);
}
