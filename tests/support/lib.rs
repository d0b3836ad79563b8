//! Helpers shared by the end-to-end and interoperability tests.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub mod prerequisites;

pub use prerequisites::workspace_root;

/// The Python interpreter that has `tests/clients/python/requirements.txt` installed:
/// `GRANTLOG_TEST_PYTHON`, or a venv under `target/test-venv` made on first use
/// ([`prerequisites::python_venv`]), so a plain `cargo test --workspace` runs the
/// interop tests too.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| prepared(prerequisites::python_venv()))
}

fn prepared<T>(outcome: prerequisites::Outcome<T>) -> T {
    outcome.map(|(_, found)| found).unwrap_or_else(|missing| panic!("{missing}"))
}

/// Runs a script under `tests/clients/python/` with `args`, feeding `stdin`, and returns
/// its standard output. Fails the test, with the script's stderr, if it exits non-zero.
pub fn run_python_client(script: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let output = python_client_output(script, args, stdin);
    assert!(
        output.status.success(),
        "{script} {args:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs a script under `tests/clients/python/` with `args`, feeding `stdin`, and returns
/// how it ended, for a test that expects it to fail too.
pub fn python_client_output(script: &str, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let script = workspace_root().join("tests/clients/python").join(script);
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", script.display()));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().expect("waiting for the Python client");
    writer.join().expect("stdin writer").expect("writing to the Python client");
    output
}

/// Debian's PgBouncer for the pooler tests ([`prerequisites::pgbouncer`]).
pub fn pgbouncer() -> &'static Path {
    static PGBOUNCER: OnceLock<PathBuf> = OnceLock::new();
    PGBOUNCER.get_or_init(|| prepared(prerequisites::pgbouncer()))
}

/// A PgBouncer that tracks prepared statements, for the transaction-pooling tests
/// ([`prerequisites::current_pgbouncer`]).
pub fn current_pgbouncer() -> &'static Path {
    static PGBOUNCER: OnceLock<PathBuf> = OnceLock::new();
    PGBOUNCER.get_or_init(|| prepared(prerequisites::current_pgbouncer()))
}

/// The folder of the Node client (`tests/clients/node`), its packages installed
/// ([`prerequisites::npm_packages`]).
pub fn node_client() -> &'static Path {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY.get_or_init(|| prepared(prerequisites::npm_packages("tests/clients/node")))
}

/// The folder of the browser tests (`tests/browser`), its packages (`playwright-core`,
/// `axe-core`, `oauth-1.0a`) installed the same way. It uses the system's Chromium,
/// never a downloaded one.
pub fn browser_harness() -> &'static Path {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY.get_or_init(|| prepared(prerequisites::npm_packages("tests/browser")))
}

/// Runs a program to completion and returns its output, failing the test with its
/// output when it exits non-zero.
pub fn run_client(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed ({}):\n{text}", output.status);
    text
}
