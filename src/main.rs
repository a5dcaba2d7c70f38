//! pbxd: the PBX daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use pbx::config::daemon::DaemonConfig;

/// The pbx daemon: SIP registrar and B2BUA, media, call applications, APIs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Configuration file.
    #[arg(long, short, default_value = "/etc/pbx/pbxd.toml", env = "PBXD_CONFIG")]
    config: PathBuf,
    /// Check the configuration and exit: 0 when valid, 1 with every problem otherwise.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match DaemonConfig::load(&args.config) {
        Ok(config) => config,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("pbxd: {} problem(s) in {}; nothing started", problems.len(), args.config.display());
            return ExitCode::FAILURE;
        }
    };
    if args.check_config {
        println!("{}: ok", args.config.display());
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_level))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pbxd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(pbx::daemon::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("pbxd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
