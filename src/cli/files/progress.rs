//! The progress bar: bytes, rate and ETA on a terminal (stderr), nothing
//! on a pipe or with --json.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sockit::service::files::escape_name;
use sockit::tools::transfer::Progress;

/// A bar per file, or nothing.
pub struct Bar {
    bar: Option<ProgressBar>,
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
        }
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
        }
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
