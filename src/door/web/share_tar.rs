//! The tar layout of a folder share's "download all": POSIX ustar headers,
//! with a pax extended header before any file whose name passes 100 bytes
//! or whose size passes ustar's 8 GiB. Pure: the archive is a function of
//! the snapshot, so its length (and any byte's place) is known before a
//! byte is sent, which is what lets `/s/ID/archive` carry a
//! `Content-Length` and answer `Range` (a browser resumes it).
//!
//! Why tar and not zip: a tar member is its header then its bytes, with no
//! checksum of the content and no central directory at the end, so it
//! streams from the owner's files a step at a time with nothing held but
//! one step, and resumes at any offset; zip would need each file's CRC-32
//! before (or a data descriptor after) its bytes, and its index at the end.

/// Tar's block: every header and every member's padded content.
pub const BLOCK: u64 = 512;

/// The end of an archive: two zero blocks.
pub const TRAILER: u64 = 2 * BLOCK;

/// Largest size a ustar header holds: 11 octal digits.
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;

/// Bytes of padding after `size` bytes of content.
pub fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn needs_pax(name: &str, size: u64) -> bool {
    name.len() > 100 || size > USTAR_MAX_SIZE
}

/// One pax record, `LEN key=value\n`, whose LEN counts itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

/// The pax records for `name` of `size` bytes, when ustar cannot hold them.
fn pax(name: &str, size: u64) -> Option<String> {
    needs_pax(name, size).then(|| {
        let mut r = pax_record("path", name);
        if size > USTAR_MAX_SIZE {
            r.push_str(&pax_record("size", &size.to_string()));
        }
        r
    })
}

/// Bytes of the header(s) before a member `name` of `size` bytes.
pub fn header_len(name: &str, size: u64) -> u64 {
    match pax(name, size) {
        Some(p) => 2 * BLOCK + p.len() as u64 + padding(p.len() as u64),
        None => BLOCK,
    }
}

/// Bytes a member takes: header(s), content, padding.
pub fn member_len(name: &str, size: u64) -> u64 {
    header_len(name, size) + size + padding(size)
}

/// One ustar block: `typeflag` `0` (a file) or `x` (pax records).
fn block(name: &str, size: u64, mtime: u64, typeflag: u8) -> [u8; 512] {
    let mut b = [0u8; 512];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dst) = b.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    };
    let n = name.as_bytes();
    put(0, n.get(..100).unwrap_or(n));
    put(100, b"0000644\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    let size = if size > USTAR_MAX_SIZE { 0 } else { size };
    put(124, format!("{size:011o}\0").as_bytes());
    put(
        136,
        format!("{:011o}\0", mtime.min(USTAR_MAX_SIZE)).as_bytes(),
    );
    put(148, b"        ");
    put(156, &[typeflag]);
    put(257, b"ustar\0");
    put(263, b"00");
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dst) = b.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    };
    put(148, format!("{sum:06o}\0 ").as_bytes());
    b
}

/// The header(s) of a member `name` of `size` bytes: [`header_len`] bytes.
pub fn header(name: &str, size: u64, mtime: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    if let Some(p) = pax(name, size) {
        out.extend_from_slice(&block("././@PaxHeader", p.len() as u64, mtime, b'x'));
        out.extend_from_slice(p.as_bytes());
        out.resize(out.len() + padding(p.len() as u64) as usize, 0);
    }
    out.extend_from_slice(&block(name, size, mtime, b'0'));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_archive_that_tar_reads() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("photos/{}/b.txt", "x".repeat(120));
        let files: [(&str, &[u8]); 3] = [
            ("photos/a.txt", b"hello"),
            (&long, b""),
            ("photos/sub/c.bin", &[7u8; 1000]),
        ];
        let mut tar = Vec::new();
        for (name, body) in files {
            let h = header(name, body.len() as u64, 1_700_000_000);
            assert_eq!(h.len() as u64, header_len(name, body.len() as u64));
            tar.extend_from_slice(&h);
            tar.extend_from_slice(body);
            tar.resize(tar.len() + padding(body.len() as u64) as usize, 0);
        }
        tar.resize(tar.len() + TRAILER as usize, 0);
        let expected: u64 = files
            .iter()
            .map(|(n, b)| member_len(n, b.len() as u64))
            .sum::<u64>()
            + TRAILER;
        assert_eq!(tar.len() as u64, expected);
        let path = dir.path().join("a.tar");
        std::fs::write(&path, &tar).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&path)
            .arg("-C")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        for (name, body) in files {
            assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), body);
        }
    }

    #[test]
    fn pax_lengths_count_themselves() {
        assert_eq!(pax_record("path", "abc"), "12 path=abc\n");
        let r = pax_record("path", &"y".repeat(93));
        assert_eq!(r.len().to_string(), r.split(' ').next().unwrap());
        assert!(header_len("a", USTAR_MAX_SIZE + 1) > BLOCK);
    }
}
