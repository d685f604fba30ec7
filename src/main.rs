//! The `iamgate` command line: parse arguments, call into the library, map
//! results to exit codes. No logic lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "iamgate",
    version,
    about = "Enforce cloud IAM in front of mock cloud APIs"
)]
struct Cli {
    /// Gateway configuration file.
    #[arg(long, global = true, default_value = "iamgate.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Run the bundled mock cloud upstream on its own.
    Mock {
        /// Address to listen on; port 0 picks a free port and prints it.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// Folder of route files that define the mock's collections.
        #[arg(long, default_value = "routes")]
        routes: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IAMGATE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("iamgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(iamgate::serve::serve(&cli.config)),
        Command::Mock { listen, routes } => {
            runtime.block_on(iamgate::mock::run_standalone(&listen, &routes))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("iamgate: {message}");
            ExitCode::FAILURE
        }
    }
}
