//! Helpers shared by the end-to-end and interoperability tests.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The repository's top folder.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace")
}

/// The Python interpreter that has `tests/clients/python/requirements.txt` installed.
///
/// `GRANTLOG_TEST_PYTHON` names one (`.ci/run` sets it to its venv). Without it, a venv
/// is made once under `target/test-venv` from the same requirements, so a plain
/// `cargo test --workspace` runs the interop tests too; a stamp file holding the
/// requirements redoes it when they change, and a file lock keeps concurrent test
/// binaries from building it twice.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| match std::env::var_os("GRANTLOG_TEST_PYTHON") {
        Some(python) => PathBuf::from(python),
        None => ensure_venv(),
    })
}

fn ensure_venv() -> PathBuf {
    let requirements_path = workspace_root().join("tests/clients/python/requirements.txt");
    let requirements = std::fs::read_to_string(&requirements_path).expect("reading requirements.txt");
    let target = workspace_root().join("target");
    std::fs::create_dir_all(&target).expect("creating target/");
    let lock = std::fs::File::create(target.join("test-venv.lock")).expect("creating the venv lock");
    lock.lock().expect("locking the venv");

    let venv = target.join("test-venv");
    let stamp = venv.join("requirements.stamp");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(requirements.as_str()) {
        run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements_path));
        std::fs::write(&stamp, &requirements).expect("writing the venv stamp");
    }
    venv.join("bin/python")
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// Runs a script under `tests/clients/python/` with `args`, feeding `stdin`, and returns
/// its standard output. Fails the test, with the script's stderr, if it exits non-zero.
pub fn run_python_client(script: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
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
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The folder of the Node client (`tests/clients/node`), its packages installed (see
/// [`npm_installed`]).
pub fn node_client() -> &'static Path {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY.get_or_init(|| npm_installed("tests/clients/node"))
}

/// The folder of the browser tests (`tests/browser`), its packages (`playwright-core`,
/// `axe-core`, `oauth-1.0a`) installed the same way. It uses the system's Chromium,
/// never a downloaded one.
pub fn browser_harness() -> &'static Path {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY.get_or_init(|| npm_installed("tests/browser"))
}

/// `folder` (relative to the workspace) after `npm ci` there, run when its
/// `node_modules` is missing or older than its `package-lock.json` (npm records each
/// install in `node_modules/.package-lock.json`), under a file lock so concurrent test
/// binaries do not install twice.
fn npm_installed(folder: &str) -> PathBuf {
    let folder = workspace_root().join(folder);
    let target = workspace_root().join("target");
    std::fs::create_dir_all(&target).expect("creating target/");
    let lock = std::fs::File::create(target.join("npm-ci.lock")).expect("creating the npm lock");
    lock.lock().expect("locking npm");
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
    let installed = modified(folder.join("node_modules/.package-lock.json"));
    let locked = modified(folder.join("package-lock.json"));
    if installed.is_none() || installed < locked {
        run(Command::new("npm").args(["ci", "--silent", "--no-audit", "--no-fund"]).current_dir(&folder));
    }
    folder
}

/// Runs a program to completion and returns its output, failing the test with its
/// output when it exits non-zero.
pub fn run_client(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed ({}):\n{text}", output.status);
    text
}
