//! Every hostile name the path rules are tested against, in one table that
//! the docs cite. Each one must be refused by
//! [`RelPath::parse`](super::RelPath::parse) (and so by
//! every operation and by the client's checks).

/// One hostile name: `text` repeated `repeat` times, and why it is refused.
#[derive(Debug, Clone, Copy)]
pub struct Hostile {
    /// The text (repeated to build over-long names).
    pub text: &'static str,
    /// How many times `text` is repeated.
    pub repeat: usize,
    /// Appended after the repetitions.
    pub tail: &'static str,
    /// What an attacker would gain if it were accepted.
    pub why: &'static str,
}

const fn h(text: &'static str, why: &'static str) -> Hostile {
    Hostile {
        text,
        repeat: 1,
        tail: "",
        why,
    }
}

/// The hostile names, grouped by the rule that refuses them.
pub const HOSTILE_NAMES: &[Hostile] = &[
    h("", "empty: the root itself"),
    h("/etc/passwd", "absolute path (rsync CVE-2024-12087)"),
    h("/", "absolute root"),
    h("..", "parent directory"),
    h("../secret", "climb out of the user root (croc 2023, scp)"),
    h("a/../../b", "climb out through a subdirectory"),
    h("a/..", "dot-dot at the end"),
    h(".", "current directory"),
    h("./a", "dot component"),
    h("a/./b", "dot component in the middle"),
    h("a//b", "empty component (two names for one file)"),
    h("a/", "trailing slash"),
    h("..\\evil", "backslash: `..` on Windows"),
    h("a\\..\\..\\b", "backslash traversal on a Windows client"),
    h("C:\\Windows\\win.ini", "Windows absolute path"),
    h("C:evil", "Windows drive-relative path"),
    h("file.txt:stream", "NTFS alternate data stream"),
    h("a\0b", "NUL truncates C strings"),
    h("evil\nname", "newline forges log lines and listings"),
    h(
        "\x1b[2Jcleared",
        "ANSI escape rewrites the terminal (croc CVE-2023-43621)",
    ),
    h("bell\x07", "BEL control character"),
    h("tab\tname", "tab control character"),
    h("del\x7f", "DEL control character"),
    h("\u{0085}nextline", "C1 control (NEL)"),
    h("\u{009b}31mred", "C1 CSI escape"),
    h(
        "invoice\u{202e}fdp.exe",
        "right-to-left override disguises the extension",
    ),
    h("a\u{2066}b", "bidi isolate"),
    h("CON", "Windows console device"),
    h("con.txt", "Windows device with an extension"),
    h("Aux.tar.gz", "Windows device, any case"),
    h("NUL", "Windows null device"),
    h(
        "nul .txt",
        "Windows device with trailing space before the dot",
    ),
    h("PRN", "Windows printer device"),
    h("COM1", "Windows serial device"),
    h("lpt9.log", "Windows parallel device"),
    h("COM\u{00b9}", "Windows device with a superscript digit"),
    h("CONIN$", "Windows console input"),
    h(
        "trailing.",
        "Windows strips trailing dots: two names, one file",
    ),
    h("trailing ", "Windows strips trailing spaces"),
    h("dir./file", "trailing dot on a directory"),
    h(".sockit", "sockit's reserved prefix"),
    h(".SOCKIT-staging", "sockit's reserved prefix, any case"),
    h("a/.sockit.meta", "reserved name below the root"),
    h("what?", "Windows wildcard"),
    h("a*b", "Windows wildcard"),
    h("pipe|x", "Windows pipe character"),
    h("<x>", "Windows redirection characters"),
    h("\"q\"", "Windows quote"),
    h(
        "e\u{0301}t\u{0301}e\u{0301}",
        "decomposed (NFD) name looks like a different file",
    ),
    Hostile {
        text: "a",
        repeat: 256,
        tail: "",
        why: "name over 255 bytes",
    },
    Hostile {
        text: "\u{00e9}",
        repeat: 128,
        tail: "",
        why: "name over 255 bytes though 128 characters",
    },
    Hostile {
        text: "abcdefg/",
        repeat: 512,
        tail: "x",
        why: "path over 4096 bytes",
    },
    Hostile {
        text: "d/",
        repeat: 64,
        tail: "d",
        why: "deeper than 64 levels",
    },
];

/// Raw byte names that are not UTF-8, refused by
/// [`RelPath::parse_bytes`](super::RelPath::parse_bytes).
pub const HOSTILE_BYTES: &[&[u8]] = &[b"\xff\xfe", b"caf\xe9", b"a/\xc0\xaf/b"];

impl Hostile {
    /// The name itself.
    pub fn name(&self) -> String {
        self.text.repeat(self.repeat) + self.tail
    }
}
