//! The `sockit` binary: parse, set up logging, dispatch, map errors to exit codes.

#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod cli;

fn main() -> ExitCode {
    // The matches stay beside the typed arguments: `serve` merges its
    // config file under the flags the user actually gave.
    let matches = cli::Cli::command().get_matches();
    let args = match cli::Cli::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.format(&mut cli::Cli::command()).exit(),
    };
    init_logging(args.verbose, args.log.log_format);
    sockit::net::raise_fd_limit();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.worker_threads())
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sockit: error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(cli::dispatch(args, &matches));
    // Connection tasks still parked on sockets must not delay the exit.
    rt.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain on one line, each cause once: "connecting to
            // X: refused"; the status from the one table (`sockit --help`).
            eprintln!("sockit: error: {}", cli::exit::one_line(&e));
            ExitCode::from(cli::exit::status(&e))
        }
    }
}

/// A reader that went away (`sockit ... | head`) is not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr (stdout carries data and listener addresses);
/// `RUST_LOG` wins over `-v`; `--log-format json` writes JSON lines.
fn init_logging(verbose: u8, format: cli::ops_opts::LogFormat) {
    let default = match verbose {
        0 => "sockit=info",
        1 => "sockit=debug",
        _ => "sockit=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == cli::ops_opts::LogFormat::Json {
        logs.event_format(sockit::ops::log_json::JsonLines)
            .fmt_fields(sockit::ops::log_json::JsonFields)
            .init();
        return;
    }
    logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .compact()
        .init();
}
