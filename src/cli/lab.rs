//! `sockit lab`: small experiments that show how sockets behave.

use std::process::ExitCode;

use sockit::client::sticky::{self, ReaderReport, StickyOpts};

/// Arguments of `sockit lab`.
#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// The experiment to run.
    #[command(subcommand)]
    lab: Lab,
}

/// The experiments.
#[derive(Debug, clap::Subcommand)]
enum Lab {
    /// Sticky packets: a burst of messages read naively with recv(1024) and
    /// with the frame reader, over real loopback TCP.
    #[command(after_help = "Examples:
  sockit lab sticky
  sockit lab sticky --count 1000 --big-every 0      only small messages: watch them merge
  sockit lab sticky --json")]
    Sticky {
        /// Messages in the burst, each sent with its own send() call.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Make every Nth message large (0: none) so splitting shows too.
        #[arg(long, default_value_t = 10)]
        big_every: usize,
        /// Size of the large messages, in bytes.
        #[arg(long, default_value_t = 3000)]
        big_size: usize,
        /// The naive reader's recv() size.
        #[arg(long, default_value_t = 1024)]
        recv_size: usize,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
}

fn row(name: &str, r: &ReaderReport) -> String {
    format!(
        "{name:<34} {:>6} {:>9} {:>7} {:>7} {:>6}",
        r.reads, r.messages_seen, r.intact, r.merged_reads, r.split_messages
    )
}

/// Runs `sockit lab`.
pub async fn run(a: LabArgs) -> anyhow::Result<ExitCode> {
    let Lab::Sticky {
        count,
        big_every,
        big_size,
        recv_size,
        json,
    } = a.lab;
    let opts = StickyOpts {
        count,
        big_every,
        big_size,
        recv_size,
    };
    let report = sticky::run(&opts).await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} messages sent over loopback TCP, one send() each{}.",
        report.sent,
        if big_every > 0 {
            format!("; every {big_every}th is {big_size} bytes")
        } else {
            String::new()
        }
    );
    println!(
        "{:<34} {:>6} {:>9} {:>7} {:>7} {:>6}",
        "reader", "reads", "messages", "intact", "merged", "split"
    );
    println!(
        "{}",
        row(&format!("naive recv({recv_size})"), &report.naive)
    );
    println!(
        "{}",
        row("framed (length + JSON header + body)", &report.framed)
    );
    println!(
        "\nTCP is a byte stream: the naive reader took {} reads for {} messages. \
         Framing recovered all {}.",
        report.naive.reads, report.sent, report.framed.intact
    );
    Ok(ExitCode::SUCCESS)
}
