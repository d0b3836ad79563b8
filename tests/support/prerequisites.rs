//! What the test suite needs beyond the Rust toolchain, found or set up: a PostgreSQL
//! server with a `test` database, a Python venv with the interop clients' packages, the
//! npm packages of the Node client and the browser harness, Debian's Chromium and
//! PgBouncer, and a PgBouncer recent enough for transaction pooling.
//!
//! `cargo xtask test` calls each of these before it runs the suite and says what it
//! found or set up; the tests call the venv and npm ones themselves too, so a plain
//! `cargo test --workspace` works on a machine that has the tools. Each function
//! answers what it did ([`Ready`]) or, when it cannot set the thing up here, why and
//! what a person can do about it ([`Unavailable`]); none of them panics.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The PostgreSQL server the tests use when `GRANTLOG_TEST_POSTGRES_URL` names none.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Where Debian's `chromium` package puts the browser.
pub const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

/// Where Debian's `pgbouncer` package puts PgBouncer.
pub const DEBIAN_PGBOUNCER: &str = "/usr/sbin/pgbouncer";
/// How long a PostgreSQL cluster may take to accept connections once started.
const POSTGRES_START_WAIT: Duration = Duration::from_secs(30);

/// A prerequisite that is in place, and whether this call put it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// It was there already: what was found.
    Found(String),
    /// This call set it up: what it did.
    SetUp(String),
}

/// A prerequisite that cannot be had here, with what a person can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// What is missing, and why it could not be set up.
    pub reason: String,
    /// What to do instead.
    pub remedy: String,
}

impl Unavailable {
    fn new(reason: impl Into<String>, remedy: impl Into<String>) -> Self {
        Self { reason: reason.into(), remedy: remedy.into() }
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.reason, self.remedy)
    }
}

/// What a prerequisite came to: where it is (a URL, a path) and how it got there.
pub type Outcome<T> = Result<(Ready, T), Unavailable>;

/// The repository's top folder.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace")
}

/// A PostgreSQL server the tests may create databases on, as a URL.
///
/// `GRANTLOG_TEST_POSTGRES_URL` wins and is only checked. Otherwise the local server on
/// 127.0.0.1:5432: started with `pg_ctlcluster` when it is installed but down, and its
/// `test` database created when missing.
pub fn postgres() -> Outcome<String> {
    if let Ok(url) = std::env::var("GRANTLOG_TEST_POSTGRES_URL") {
        return match answers(Command::new("pg_isready").args(["-q", "-d", &url])) {
            Ok(true) | Err(_) => Ok((Ready::Found("the server GRANTLOG_TEST_POSTGRES_URL names".into()), url)),
            Ok(false) => Err(Unavailable::new(
                "the PostgreSQL server GRANTLOG_TEST_POSTGRES_URL names does not answer",
                "start it, or unset GRANTLOG_TEST_POSTGRES_URL to use the local one",
            )),
        };
    }
    let local_answers = || answers(Command::new("pg_isready").args(["-q", "-h", "127.0.0.1", "-p", "5432"]));
    let mut done = Vec::new();
    match local_answers() {
        Err(_) => {
            return Err(Unavailable::new(
                "no PostgreSQL here (pg_isready is not installed)",
                "install it (apt-get install postgresql) or set GRANTLOG_TEST_POSTGRES_URL; \
                 until then the PostgreSQL half of the suite is skipped",
            ));
        }
        Ok(true) => {}
        Ok(false) => {
            let cluster = installed_cluster().ok_or_else(|| {
                Unavailable::new(
                    "no PostgreSQL server answers on 127.0.0.1:5432 and none is installed here",
                    "install one (apt-get install postgresql) or set GRANTLOG_TEST_POSTGRES_URL; \
                     until then the PostgreSQL half of the suite is skipped",
                )
            })?;
            succeeds(Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &cluster, "main", "start"]))
                .map_err(|e| {
                    Unavailable::new(
                        format!("PostgreSQL {cluster}/main would not start: {e}"),
                        "start it by hand (as root or postgres)",
                    )
                })?;
            let started = Instant::now();
            while !local_answers().unwrap_or(false) {
                if started.elapsed() > POSTGRES_START_WAIT {
                    return Err(Unavailable::new(
                        format!("PostgreSQL {cluster}/main started but does not answer on 127.0.0.1:5432"),
                        "see its log under /var/log/postgresql",
                    ));
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            done.push(format!("started PostgreSQL {cluster}/main"));
        }
    }
    let psql = |sql: &str| {
        succeeds(Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc", sql]))
            .map_err(|e| {
                Unavailable::new(
                    format!("psql as postgres on 127.0.0.1 failed: {e}"),
                    "set GRANTLOG_TEST_POSTGRES_URL to a server and user that may create databases",
                )
            })
    };
    if psql("SELECT 1 FROM pg_database WHERE datname = 'test'")?.trim() != "1" {
        psql("CREATE DATABASE test")?;
        done.push("created its database test".into());
    }
    let ready = if done.is_empty() {
        Ready::Found("on 127.0.0.1:5432, database test".into())
    } else {
        Ready::SetUp(done.join("; "))
    };
    Ok((ready, DEFAULT_POSTGRES_URL.into()))
}

/// The newest cluster version under /etc/postgresql (Debian's layout), if any.
fn installed_cluster() -> Option<String> {
    let versions = std::fs::read_dir("/etc/postgresql").ok()?;
    versions
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|version| Path::new("/etc/postgresql").join(version).join("main").is_dir())
        .max_by_key(|version| version.split('.').map(|part| part.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>())
}

/// A Python interpreter with `tests/clients/python/requirements.txt` installed.
///
/// `GRANTLOG_TEST_PYTHON` names one. Otherwise a venv under `target/test-venv`, made
/// once from those requirements and made again when they change (a stamp file holds
/// the requirements it was made from); a file lock keeps concurrent callers from
/// making it twice.
pub fn python_venv() -> Outcome<PathBuf> {
    if let Some(python) = std::env::var_os("GRANTLOG_TEST_PYTHON") {
        let python = PathBuf::from(python);
        return Ok((Ready::Found(format!("{} (GRANTLOG_TEST_PYTHON)", python.display())), python));
    }
    let requirements_path = workspace_root().join("tests/clients/python/requirements.txt");
    let requirements = std::fs::read_to_string(&requirements_path).map_err(|e| {
        Unavailable::new(format!("reading {}: {e}", requirements_path.display()), "restore it from git")
    })?;
    let _lock = lock_in_target("test-venv.lock")?;
    let venv = workspace_root().join("target/test-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.stamp");
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
        return Ok((Ready::Found("target/test-venv".into()), python));
    }
    succeeds(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv)).map_err(|e| {
        Unavailable::new(
            format!("could not make a Python venv: {e}"),
            "install Python 3 with venv (apt-get install python3-venv), or set GRANTLOG_TEST_PYTHON",
        )
    })?;
    succeeds(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements_path),
    )
    .map_err(|e| {
        Unavailable::new(
            format!("pip could not install the test clients' packages: {e}"),
            "check that PyPI is reachable",
        )
    })?;
    std::fs::write(&stamp, &requirements)
        .map_err(|e| Unavailable::new(format!("writing {}: {e}", stamp.display()), "check that target/ is writable"))?;
    Ok((Ready::SetUp("made target/test-venv from tests/clients/python/requirements.txt".into()), python))
}

/// `folder` (relative to the workspace) with its npm packages installed by `npm ci`,
/// which runs when `node_modules` is missing or older than `package-lock.json` (npm
/// records each install in `node_modules/.package-lock.json`), under a file lock.
pub fn npm_packages(folder: &str) -> Outcome<PathBuf> {
    let path = workspace_root().join(folder);
    let _lock = lock_in_target("npm-ci.lock")?;
    let modified = |file: PathBuf| std::fs::metadata(file).and_then(|meta| meta.modified()).ok();
    let installed = modified(path.join("node_modules/.package-lock.json"));
    if installed.is_some() && installed >= modified(path.join("package-lock.json")) {
        return Ok((Ready::Found(format!("{folder}/node_modules")), path));
    }
    succeeds(Command::new("npm").args(["ci", "--silent", "--no-audit", "--no-fund"]).current_dir(&path)).map_err(
        |e| {
            Unavailable::new(
                format!("npm ci in {folder} failed: {e}"),
                "install Node.js 20 or later with npm (apt-get install nodejs npm) and check that the npm registry is reachable",
            )
        },
    )?;
    Ok((Ready::SetUp(format!("npm ci in {folder}")), path))
}

/// The Chromium the browser tests drive, and who named it: `GRANTLOG_TEST_CHROMIUM`, or
/// Debian's package by default.
pub fn chromium_path() -> (PathBuf, &'static str) {
    match std::env::var_os("GRANTLOG_TEST_CHROMIUM") {
        Some(path) => (PathBuf::from(path), "GRANTLOG_TEST_CHROMIUM"),
        None => (PathBuf::from(DEBIAN_CHROMIUM), "the default"),
    }
}

/// The Chromium of [`chromium_path`], installed from Debian (`chromium`,
/// `chromium-driver`) when it is the default one and missing and this process may run
/// apt-get. A browser of another origin is never downloaded.
pub fn chromium() -> Outcome<PathBuf> {
    let (path, named_by) = chromium_path();
    if path.is_file() {
        return Ok((Ready::Found(path.display().to_string()), path));
    }
    if path != Path::new(DEBIAN_CHROMIUM) {
        return Err(Unavailable::new(
            format!("no Chromium at {} ({named_by})", path.display()),
            "point GRANTLOG_TEST_CHROMIUM at a Chromium binary, or unset it to use Debian's",
        ));
    }
    let remedy = "install it: sudo apt-get install chromium chromium-driver; until then the browser tests are skipped";
    debian_packages(&path, &["chromium", "chromium-driver"], remedy)
}

/// Debian's PgBouncer, which the pooler tests start in front of PostgreSQL
/// (`GRANTLOG_TEST_PGBOUNCER` names another), installed from Debian when missing and
/// this process may run apt-get.
pub fn pgbouncer() -> Outcome<PathBuf> {
    if let Some(path) = std::env::var_os("GRANTLOG_TEST_PGBOUNCER") {
        let path = PathBuf::from(path);
        return Ok((Ready::Found(format!("{} (GRANTLOG_TEST_PGBOUNCER)", path.display())), path));
    }
    let path = PathBuf::from(DEBIAN_PGBOUNCER);
    if path.is_file() {
        return Ok((Ready::Found(path.display().to_string()), path));
    }
    debian_packages(
        &path,
        &["pgbouncer"],
        "install it: sudo apt-get install pgbouncer; until then the pooler tests are skipped",
    )
}

/// The PgBouncer release the transaction-pooling tests build: 1.21 was the first to
/// track named prepared statements (`max_prepared_statements`), which sqlx uses, and
/// Debian 12 ships 1.18. Its source is Debian 13's upstream tarball, checked against the
/// SHA-256 Debian's source index lists for it.
pub const CURRENT_PGBOUNCER: &str = "1.24.1";
const CURRENT_PGBOUNCER_SOURCE: &str =
    "http://deb.debian.org/debian/pool/main/p/pgbouncer/pgbouncer_1.24.1.orig.tar.gz";
const CURRENT_PGBOUNCER_SHA256: &str = "da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0";

/// A PgBouncer of [`CURRENT_PGBOUNCER`] for the transaction-pooling tests
/// (`GRANTLOG_TEST_CURRENT_PGBOUNCER` names another): built once under
/// `target/pgbouncer-1.24.1` from the checked source, without TLS, PAM or c-ares, after
/// installing Debian's `libevent-dev` when its headers are missing.
pub fn current_pgbouncer() -> Outcome<PathBuf> {
    if let Some(path) = std::env::var_os("GRANTLOG_TEST_CURRENT_PGBOUNCER") {
        let path = PathBuf::from(path);
        return Ok((Ready::Found(format!("{} (GRANTLOG_TEST_CURRENT_PGBOUNCER)", path.display())), path));
    }
    let target = workspace_root().join("target");
    let folder = target.join(format!("pgbouncer-{CURRENT_PGBOUNCER}"));
    let binary = folder.join("pgbouncer");
    let _lock = lock_in_target("pgbouncer-build.lock")?;
    if binary.is_file() {
        return Ok((Ready::Found(binary.display().to_string()), binary));
    }
    let remedy = "check that deb.debian.org is reachable and that a C compiler, make and pkg-config are installed, \
                  or set GRANTLOG_TEST_CURRENT_PGBOUNCER to a PgBouncer 1.21 or later; until then the transaction-pooling \
                  tests are skipped";
    let headers = Path::new("/usr/include/event2/event.h");
    let tools = ["curl", "make", "pkg-config", "cc"];
    let runs = |tool: &str| answers(Command::new(tool).arg("--version")).unwrap_or(false);
    if !headers.is_file() || !tools.into_iter().all(runs) {
        debian_packages(headers, &["libevent-dev", "pkg-config", "make", "curl", "gcc", "libc6-dev"], remedy)?;
    }
    let tarball = target.join(format!("pgbouncer_{CURRENT_PGBOUNCER}.orig.tar.gz"));
    let failed = |step: &str, e: String| {
        Unavailable::new(format!("building PgBouncer {CURRENT_PGBOUNCER}: {step}: {e}"), remedy)
    };
    succeeds(Command::new("curl").args(["-fsS", "-o"]).arg(&tarball).arg(CURRENT_PGBOUNCER_SOURCE))
        .map_err(|e| failed("download", e))?;
    let sum = succeeds(Command::new("sha256sum").arg(&tarball)).map_err(|e| failed("sha256sum", e))?;
    if sum.split_whitespace().next() != Some(CURRENT_PGBOUNCER_SHA256) {
        let _ = std::fs::remove_file(&tarball);
        return Err(failed("checksum", format!("{} is not the SHA-256 Debian lists", sum.trim())));
    }
    succeeds(Command::new("tar").arg("xzf").arg(&tarball).arg("-C").arg(&target)).map_err(|e| failed("unpack", e))?;
    succeeds(Command::new("./configure").args(["--without-openssl", "--without-cares"]).current_dir(&folder))
        .map_err(|e| failed("configure", e))?;
    succeeds(Command::new("make").arg("-j2").current_dir(&folder)).map_err(|e| failed("make", e))?;
    Ok((Ready::SetUp(format!("built PgBouncer {CURRENT_PGBOUNCER} in {}", folder.display())), binary))
}

/// `path`, after installing Debian's `packages`, which provide it; `remedy` says what to
/// do when that cannot be done here.
fn debian_packages(path: &Path, packages: &[&str], remedy: &str) -> Outcome<PathBuf> {
    let named = packages.join(" ");
    if !is_root() {
        return Err(Unavailable::new(format!("no {} (from {named}), and apt-get needs root", path.display()), remedy));
    }
    let install = || {
        succeeds(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    // A machine fresh from its image may have no package lists yet: update only then.
    install()
        .or_else(|_| succeeds(Command::new("apt-get").arg("update")).and_then(|_| install()))
        .map_err(|e| Unavailable::new(format!("apt-get could not install {named}: {e}"), remedy))?;
    if !path.is_file() {
        return Err(Unavailable::new(format!("apt-get installed {named}, yet {} is missing", path.display()), remedy));
    }
    Ok((Ready::SetUp(format!("installed Debian's {named}")), path.to_path_buf()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}

/// Holds an exclusive lock on a file under `target/` until dropped.
fn lock_in_target(name: &str) -> Result<std::fs::File, Unavailable> {
    let target = workspace_root().join("target");
    let cannot =
        |e: std::io::Error| Unavailable::new(format!("locking target/{name}: {e}"), "check that target/ is writable");
    std::fs::create_dir_all(&target).map_err(cannot)?;
    let lock = std::fs::File::create(target.join(name)).map_err(cannot)?;
    lock.lock().map_err(cannot)?;
    Ok(lock)
}

/// Whether a probe command succeeded; `Err` when it could not be started at all.
fn answers(command: &mut Command) -> std::io::Result<bool> {
    command.output().map(|output| output.status.success())
}

/// Runs `command` to completion, quietly: its standard output on success, or a
/// one-paragraph reason with the end of what it printed.
fn succeeds(command: &mut Command) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let Output { status, stdout, stderr } =
        command.output().map_err(|e| format!("{program} could not be started: {e}"))?;
    if status.success() {
        return Ok(String::from_utf8_lossy(&stdout).into_owned());
    }
    let said = String::from_utf8_lossy(&stderr);
    let tail: Vec<&str> = said.lines().rev().take(3).collect();
    Err(format!("{program} exited with {status}: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" / ")))
}
