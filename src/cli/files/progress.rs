//! The progress bar: bytes, rate and ETA on a terminal (stderr), nothing
//! on a pipe or with --json.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sockit::client::transfer::Progress;
use sockit::wire::path::escape_name;

/// A bar per file, or nothing; either way it counts the bytes moved.
pub struct Bar {
    bar: Option<ProgressBar>,
    /// Bytes written to the connection so far, over every file: what
    /// `put --json` reports as `bytes_sent`, also after a transfer broke
    /// off. A resume's prefix is not counted: it was not sent again.
    wrote: AtomicU64,
}

impl Bar {
    /// A bar when stderr is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Self {
        let show = !quiet && std::io::stderr().is_terminal();
        Bar {
            bar: show.then(|| {
                let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{msg:30!} {bar:25} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                b.set_style(style);
                b
            }),
            wrote: AtomicU64::new(0),
        }
    }

    /// Bytes written so far (see the field).
    pub fn bytes_written(&self) -> u64 {
        self.wrote.load(Ordering::Relaxed)
    }
}

impl Progress for Bar {
    fn begin(&self, name: &str, total: u64, done: u64) {
        if let Some(b) = &self.bar {
            b.reset();
            // Names are escaped: a hostile name cannot drive the terminal.
            b.set_message(escape_name(name).into_owned());
            b.set_length(total);
            b.set_position(done);
            // What a resumed transfer already had (checked by re-hashing,
            // not sent) is no speed: rate and ETA count from here.
            b.reset_eta();
        }
    }

    fn wrote(&self, n: u64) {
        self.wrote.fetch_add(n, Ordering::Relaxed);
    }

    fn advance(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    fn end(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Bar {
    /// Clears a bar left mid-way by a failure.
    pub fn end_quietly(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
