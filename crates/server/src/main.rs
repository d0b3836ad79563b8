use std::process::ExitCode;

use clap::Parser;
use grantlog_server::cli::{Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("grantlog: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::FAILURE,
        Err(error) => {
            // One line: the reason and its causes, never a backtrace.
            eprintln!("grantlog: {error:#}");
            ExitCode::FAILURE
        }
    }
}
