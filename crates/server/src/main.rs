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
            // One line: what failed and the root cause. (The whole chain repeats itself:
            // sqlx's errors print their source too.)
            let root = error.root_cause().to_string();
            if error.chain().count() > 1 && !error.to_string().contains(&root) {
                eprintln!("grantlog: {error}: {root}");
            } else {
                eprintln!("grantlog: {error}");
            }
            ExitCode::FAILURE
        }
    }
}
