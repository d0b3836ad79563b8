//! A PostgreSQL of a test's own: `initdb` into a temporary directory, its own port,
//! started and stopped with `pg_ctl`, so a test can take the database away from its
//! nodes without touching any other test's. Run as the `postgres` user when the tests
//! run as root (PostgreSQL refuses to run as root).

use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL server in a temporary directory, stopped (immediately) when dropped.
pub struct OwnPostgres {
    folder: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    /// A new cluster, started: `fsync` off (a test's data need not survive a power cut).
    pub fn start() -> Self {
        let folder = folder_for_postgres();
        let data = folder.path().join("data");
        run(Command::new(bin("initdb"))
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync"])
            .arg("-D")
            .arg(&data));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let own = Self { folder, port };
        own.start_again();
        own
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it the way an operator's restart does (`-m fast`: clients are disconnected,
    /// open transactions rolled back), and waits until it is down.
    pub fn stop(&self) {
        run(self.pg_ctl().args(["-m", "fast", "-w", "stop"]));
    }

    /// Starts it (again) and waits until it takes connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.folder.path().display()
        );
        let log = self.folder.path().join("postgres.log");
        run(self.pg_ctl().args(["-w", "-o", &options, "-l"]).arg(&log).arg("start"));
    }

    fn pg_ctl(&self) -> Command {
        let mut command = Command::new(bin("pg_ctl"));
        command.arg("-D").arg(self.folder.path().join("data"));
        command
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(self.pg_ctl().args(["-m", "immediate", "-w", "stop"])).output();
    }
}

/// A PostgreSQL program: from `pg_config --bindir` if it is on the path, else the newest
/// Debian installation's.
fn bin(name: &str) -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| versions.filter_map(|entry| entry.ok()).map(|entry| entry.path().join("bin")).max());
    from_pg_config.into_iter().chain(debian).map(|folder| folder.join(name)).find(|path| path.is_file()).unwrap_or_else(
        || panic!("{name} not found: install PostgreSQL's server programs (apt-get install postgresql)"),
    )
}

/// A temporary directory the `postgres` user may write (ours, when we are not root).
pub(crate) fn folder_for_postgres() -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("a temporary directory");
    if as_root() {
        let (uid, gid) = user_ids("postgres");
        std::os::unix::fs::chown(folder.path(), Some(uid), Some(gid)).expect("giving the directory to postgres");
    }
    folder
}

fn as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// `user`'s uid and gid.
fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| {
        let output = Command::new("id").args([flag, user]).output().expect("running id");
        String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or_else(|_| panic!("no user {user}"))
    };
    (id("-u"), id("-g"))
}

/// `command` as the `postgres` user when we are root, else as it is.
fn as_postgres(command: &mut Command) -> Command {
    if !as_root() {
        let mut same = Command::new(command.get_program());
        same.args(command.get_args());
        return same;
    }
    let mut wrapped = Command::new("runuser");
    wrapped.args(["-u", "postgres", "--"]).arg(command.get_program()).args(command.get_args());
    wrapped
}

/// Runs `command` (as `postgres` if need be), failing the test with its output.
pub(crate) fn run(command: &mut Command) {
    let output = as_postgres(command).output().expect("running a PostgreSQL program");
    assert!(
        output.status.success(),
        "{:?} failed: {}{}",
        command,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A `postgres://USER@HOST:PORT/DATABASE` URL's user, `HOST:PORT` and database.
pub fn url_parts(database_url: &str) -> (&str, &str, &str) {
    let rest = database_url.split_once("://").map_or(database_url, |(_, rest)| rest);
    let (user, rest) = rest.split_once('@').expect("a user in the PostgreSQL URL");
    let (address, database) = rest.split_once('/').expect("a database in the PostgreSQL URL");
    (user.split(':').next().unwrap_or(user), address, database.split('?').next().unwrap_or(database))
}

/// `database_url` reached through `127.0.0.1:port` instead (a pooler, a proxy).
pub fn url_through(database_url: &str, port: u16) -> String {
    let (user, _, database) = url_parts(database_url);
    format!("postgres://{user}@127.0.0.1:{port}/{database}")
}
