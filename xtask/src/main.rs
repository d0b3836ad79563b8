//! `cargo xtask test [CARGO TEST ARGS] [-- TEST ARGS]`: the README's test command.
//!
//! It finds or sets up what the suite needs beyond the Rust toolchain, saying in one
//! line each what it found or did, then runs `cargo test --workspace --no-fail-fast`
//! with the arguments given and closes with the totals. What cannot be set up here is
//! said plainly with what to do, and the tests that need it are left out by name —
//! except under `CI`, where anything missing fails the run before a test starts.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, ExitCode, Stdio};

use grantlog_tests::prerequisites::{self, Outcome, Ready, Unavailable};

const USAGE: &str = "usage: cargo xtask test [CARGO TEST ARGS] [-- TEST ARGS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((task, rest)) if task == "test" => test(rest),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// One thing the suite needs, and the tests to leave out when it cannot be had.
struct Prerequisite {
    name: &'static str,
    /// Test-name filters for `--skip`; empty where the tests skip themselves (the
    /// PostgreSQL half of the suite does, outside CI).
    needed_by: &'static [&'static str],
    outcome: Result<Ready, Unavailable>,
}

impl Prerequisite {
    /// Records what became of it and says so at once, one line.
    fn report<T>(name: &'static str, needed_by: &'static [&'static str], outcome: Outcome<T>) -> (Self, Option<T>) {
        let (outcome, found) = match outcome {
            Ok((ready, found)) => (Ok(ready), Some(found)),
            Err(missing) => (Err(missing), None),
        };
        let prerequisite = Self { name, needed_by, outcome };
        println!("{}", prerequisite.line());
        (prerequisite, found)
    }

    fn line(&self) -> String {
        match &self.outcome {
            Ok(Ready::Found(what)) => format!("xtask: {:<14} found: {what}", self.name),
            Ok(Ready::SetUp(what)) => format!("xtask: {:<14} set up: {what}", self.name),
            Err(missing) => format!("xtask: {:<14} MISSING: {}; to fix: {}", self.name, missing.reason, missing.remedy),
        }
    }
}

// The tests each prerequisite serves, by name (crates/server/tests/app/story.rs,
// checkpoints.rs, receipts.rs, erasure.rs, openapi.rs, browser.rs and tests/oauthlib_interop.rs).
const PYTHON_TESTS: &[&str] = &[
    "oauthlib",
    "python_verifier",
    "receipt_that_verifies_offline",
    "still_proves_everything",
    "openapi_document_says",
];
const NODE_TESTS: &[&str] = &["node_oauth_1_0a_runs_the_story"];
const BROWSER_TESTS: &[&str] = &["in_chromium"];
const PGBOUNCER_TESTS: &[&str] = &["through_debian_pgbouncer"];
const CURRENT_PGBOUNCER_TESTS: &[&str] = &["through_current_pgbouncer"];

fn test(args: &[String]) -> ExitCode {
    let under_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
    let mut command = cargo();

    let (postgres, url) = Prerequisite::report("PostgreSQL", &[], prerequisites::postgres());
    let (python, venv) = Prerequisite::report("Python venv", PYTHON_TESTS, prerequisites::python_venv());
    let (node, _) = Prerequisite::report("Node client", NODE_TESTS, prerequisites::npm_packages("tests/clients/node"));
    let (harness, _) =
        Prerequisite::report("browser tests", BROWSER_TESTS, prerequisites::npm_packages("tests/browser"));
    let (chromium, browser) = Prerequisite::report("Chromium", BROWSER_TESTS, prerequisites::chromium());
    let (pooler, pgbouncer) = Prerequisite::report("PgBouncer", PGBOUNCER_TESTS, prerequisites::pgbouncer());
    let (current_pooler, current_pgbouncer) =
        Prerequisite::report("PgBouncer 1.24", CURRENT_PGBOUNCER_TESTS, prerequisites::current_pgbouncer());
    let all = [postgres, python, node, harness, chromium, pooler, current_pooler];
    if let Some(url) = url {
        command.env("GRANTLOG_TEST_POSTGRES_URL", url);
    }
    if let Some(venv) = venv {
        command.env("GRANTLOG_TEST_PYTHON", venv);
    }
    if let Some(browser) = browser {
        command.env("GRANTLOG_TEST_CHROMIUM", browser);
    }
    if let Some(pgbouncer) = pgbouncer {
        command.env("GRANTLOG_TEST_PGBOUNCER", pgbouncer);
    }
    if let Some(pgbouncer) = current_pgbouncer {
        command.env("GRANTLOG_TEST_CURRENT_PGBOUNCER", pgbouncer);
    }

    let missing: Vec<&Prerequisite> = all.iter().filter(|p| p.outcome.is_err()).collect();
    if under_ci && !missing.is_empty() {
        eprintln!(
            "xtask: CI is set, and {} of what the tests need is missing (above): not running a partial suite",
            missing.len()
        );
        return ExitCode::FAILURE;
    }
    let skips: Vec<&str> = missing.iter().flat_map(|p| p.needed_by.iter().copied()).collect();
    command.args(test_arguments(args, &skips));
    println!("xtask: running {}", shown(&command));
    let status = match run_counting(&mut command) {
        Ok((status, totals)) => {
            println!("\n{totals}");
            status
        }
        Err(e) => {
            eprintln!("xtask: could not run cargo test: {e}");
            return ExitCode::FAILURE;
        }
    };
    for prerequisite in missing {
        println!("not run here: {} needs {}", what_it_serves(prerequisite), prerequisite.name);
    }
    if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// A `cargo` command without the variables `cargo run` set for this program: build
/// scripts that read one of them (ring's reads `CARGO_PKG_NAME`) would otherwise see it
/// changed and rebuild everything after them.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if SET_BY_CARGO_RUN.iter().any(|set| name == *set || (set.ends_with('_') && name.starts_with(set))) {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// What `cargo run` adds to a program's environment (a trailing `_`: every name so begun).
const SET_BY_CARGO_RUN: &[&str] =
    &["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE"];

fn what_it_serves(prerequisite: &Prerequisite) -> String {
    if prerequisite.needed_by.is_empty() {
        "the PostgreSQL half of the suite (skipped by the tests themselves)".into()
    } else {
        format!("tests named *{}*", prerequisite.needed_by.join("*, *"))
    }
}

/// `cargo test`'s arguments: the workspace, every test binary even after a failure, the
/// caller's cargo arguments, then `--skip` for each left-out test before the caller's
/// test arguments.
fn test_arguments(args: &[String], skips: &[&str]) -> Vec<String> {
    let (cargo_args, test_args) = match args.iter().position(|arg| arg == "--") {
        Some(split) => (&args[..split], &args[split + 1..]),
        None => (args, &[][..]),
    };
    let mut all: Vec<String> = ["test", "--workspace", "--no-fail-fast"].map(String::from).into();
    all.extend(cargo_args.iter().cloned());
    if !skips.is_empty() || !test_args.is_empty() {
        all.push("--".into());
        for skip in skips {
            all.extend(["--skip".into(), (*skip).into()]);
        }
        all.extend(test_args.iter().cloned());
    }
    all
}

fn shown(command: &Command) -> String {
    let words = std::iter::once(command.get_program()).chain(command.get_args());
    words.map(|word| word.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}

/// The passed, failed and ignored tests over every `test result:` line cargo printed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds a line like `test result: ok. 12 passed; 0 failed; 1 ignored; …`.
    fn add(&mut self, line: &str) {
        let Some(counts) = line.strip_prefix("test result: ") else { return };
        for part in counts.split(';') {
            let mut words = part.split_whitespace().skip_while(|word| word.ends_with('.'));
            let (Some(number), Some(label)) = (words.next(), words.next()) else { continue };
            let Ok(number) = number.parse::<u64>() else { continue };
            match label {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tests: {} passed, {} failed, {} skipped", self.passed, self.failed, self.ignored)
    }
}

/// Runs `command`, passing its output through as it comes, and counts the results.
fn run_counting(command: &mut Command) -> std::io::Result<(std::process::ExitStatus, Totals)> {
    let mut child = command.stdout(Stdio::piped()).spawn()?;
    let mut totals = Totals::default();
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        writeln!(out, "{line}")?;
        totals.add(&line);
    }
    Ok((child.wait()?, totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_string()).collect()
    }

    #[test]
    fn the_whole_workspace_runs_with_the_callers_arguments() {
        assert_eq!(test_arguments(&[], &[]), strings(&["test", "--workspace", "--no-fail-fast"]));
        assert_eq!(
            test_arguments(&strings(&["--locked", "--", "--nocapture"]), &[]),
            strings(&["test", "--workspace", "--no-fail-fast", "--locked", "--", "--nocapture"])
        );
    }

    #[test]
    fn left_out_tests_go_before_the_callers_test_arguments() {
        assert_eq!(
            test_arguments(&strings(&["-p", "grantlog-server", "--", "story"]), &["in_chromium", "oauthlib"]),
            strings(&[
                "test",
                "--workspace",
                "--no-fail-fast",
                "-p",
                "grantlog-server",
                "--",
                "--skip",
                "in_chromium",
                "--skip",
                "oauthlib",
                "story"
            ])
        );
    }

    #[test]
    fn totals_add_up_every_result_line_and_nothing_else() {
        let mut totals = Totals::default();
        for line in [
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 3 filtered out; finished in 0.5s",
            "test sqlite::x ... ok",
            "running 2 tests",
            "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 9.1s",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.0s",
        ] {
            totals.add(line);
        }
        assert_eq!(totals, Totals { passed: 13, failed: 1, ignored: 1 });
        assert_eq!(totals.to_string(), "tests: 13 passed, 1 failed, 1 skipped");
    }

    #[test]
    fn a_missing_prerequisite_says_what_to_do() {
        let (missing, found) = Prerequisite::report::<()>(
            "Chromium",
            BROWSER_TESTS,
            Err(Unavailable { reason: "no Chromium at /usr/bin/chromium".into(), remedy: "install it".into() }),
        );
        assert_eq!(found, None);
        assert_eq!(
            missing.line(),
            "xtask: Chromium       MISSING: no Chromium at /usr/bin/chromium; to fix: install it"
        );
        assert_eq!(what_it_serves(&missing), "tests named *in_chromium*");
    }
}
