//! Running `sockit serve`: resolve the flags, open the services, bind,
//! print the addresses, serve until a signal (or a test's token), drain.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::ArgMatches;
use sockit::net::{Endpoint, Gate};
use sockit::server;
use tokio_util::sync::CancellationToken;

use super::listeners::{dropped_defaults, is_stateless};
use super::opts::open_services;
use super::{CONFIG_HEADER, command, config, reload, resolve, shares_opts};

/// Runs `sockit serve` until SIGINT or SIGTERM. `cli` is the `serve`
/// command line as parsed: the flags given there are laid over the config
/// file it names (see [`resolve`]).
pub async fn run(cli: ArgMatches) -> anyhow::Result<ExitCode> {
    run_until(cli, CancellationToken::new()).await
}

/// [`run`], which also stops when `shutdown` is cancelled (as a test does).
pub async fn run_until(cli: ArgMatches, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let (a, matches, rules) = {
        let cli = cli.clone();
        // Reads the config and rule files.
        tokio::task::spawn_blocking(move || {
            let (a, m) = resolve(&cli)?;
            let rules = if a.print_config {
                None
            } else {
                Some(a.gate_rules()?)
            };
            anyhow::Ok((a, m, rules))
        })
        .await??
    };
    let Some(rules) = rules else {
        print!("{CONFIG_HEADER}{}", config::to_toml(&command(), &matches));
        return Ok(ExitCode::SUCCESS);
    };
    let gate = Arc::new(Gate::new(rules, a.limits.max_datagram()?));
    let opts = a.server_opts(gate.clone())?;
    let specs = a.listeners();
    let stateless = is_stateless(&specs);
    let (services, users, _data_lock) = if stateless {
        // Echo and upper keep nothing: no directory to create or lock, so
        // a second such server runs beside a full one in the same place.
        let none = sockit::service::Services {
            accounts: None,
            chat: None,
            files: None,
            shares: None,
        };
        (none, None, None)
    } else {
        open_services(&a).await?
    };

    // Bind everything before serving anything: a taken port fails the start.
    let listeners = server::bind_all(&specs).await?;
    for l in &listeners {
        println!("{} listening on {}", l.service.name(), l.local_endpoint()?);
    }
    shares_opts::link_base(&a.shares, services.shares.as_ref(), &listeners)?;
    let tls_hosts: Vec<String> = specs
        .iter()
        .filter_map(|(_, ep)| match ep {
            Endpoint::Tls(hp) => Some(hp.host.clone()),
            _ => None,
        })
        .collect();
    let mut opts = opts;
    if !tls_hosts.is_empty() {
        opts.tls = Some(a.tls.identity(&a.data, &tls_hosts).await?);
    }
    // Registered before `ready`: SIGHUP's default action would kill us.
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("watching for SIGHUP")?;
    tokio::spawn(reload::watch(hangups, cli, matches, gate));
    // Handlers in place before `ready`: an early SIGTERM must stop us
    // gracefully, not kill us by its default action.
    let signalled = sockit::net::serve::stop_signal().context("watching for SIGINT/SIGTERM")?;
    if stateless {
        println!("no data directory (echo and upper keep no state)");
    } else {
        println!("data directory {}", a.data.display());
    }
    if users == Some(0) {
        println!(
            "no accounts yet: create one with `sockit user add NAME --data {}`",
            a.data.display()
        );
    }
    if let Some(hint) = dropped_defaults(&specs) {
        println!("{hint}");
    }
    let _ops = a
        .ops
        .start(opts.gate.clone(), shutdown.clone(), &services)
        .await?;
    println!("ready (pid {}); Ctrl-C stops", std::process::id());

    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = signalled => {
                tracing::info!("stop signal: no new connections; finishing open ones");
                stop.cancel();
            }
            () = stop.cancelled() => {}
        }
    });
    // Ends sessions revoked by `sockit user` and removes deleted accounts' files.
    let keeper = services.clone();
    let (data, stop) = (a.data.clone(), shutdown.clone());
    tokio::spawn(async move { keeper.keep_accounts(data, stop).await });
    let summary = server::run(listeners, opts, services, shutdown).await;
    if summary.cut_off > 0 {
        tracing::warn!(
            connections = summary.cut_off,
            "grace period over; closing the rest"
        );
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `serve` matches of `sockit serve ARGS...`, as main parses them.
    fn serve_line(args: &[&str]) -> ArgMatches {
        use clap::CommandFactory;
        let argv = ["sockit", "serve"].iter().chain(args);
        let m = crate::cli::Cli::command()
            .try_get_matches_from(argv)
            .unwrap();
        m.subcommand_matches("serve").unwrap().clone()
    }

    #[tokio::test]
    async fn run_serves_its_command_line_until_told_to_stop() {
        let shutdown = CancellationToken::new();
        let line = serve_line(&["--echo", "tcp://127.0.0.1:0", "--grace", "0"]);
        let server = tokio::spawn(run_until(line, shutdown.clone()));
        shutdown.cancel();
        let code = tokio::time::timeout(std::time::Duration::from_secs(20), server)
            .await
            .expect("serve stops when told")
            .unwrap()
            .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
    }

    #[tokio::test]
    async fn run_refuses_a_bad_flag_value_before_binding() {
        let line = serve_line(&["--echo", "tcp://127.0.0.1:0", "--grace=-1"]);
        let e = run_until(line, CancellationToken::new()).await.unwrap_err();
        assert!(e.to_string().contains("--grace -1"), "{e}");
    }
}
