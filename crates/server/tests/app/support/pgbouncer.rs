//! PgBouncer of a test's own in front of the tests' PostgreSQL: a configuration in a
//! temporary directory, its own port, the pool mode the test asks for. Run as the
//! `postgres` user when the tests run as root (PgBouncer refuses to run as root).

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::postgres::{folder_for_postgres, run, url_parts, url_through};

/// A running PgBouncer, stopped when dropped.
pub struct OwnPgBouncer {
    folder: tempfile::TempDir,
    port: u16,
}

impl OwnPgBouncer {
    /// The PgBouncer at `binary` in `pool_mode` (`session` or `transaction`) with `settings` added
    /// (`key = value` lines), in front of the server `database_url` names, trusting
    /// its user as that server does. Its pool (60) holds three nodes' 8 connections
    /// each and the commands beside them: in session pooling a node's idle connections
    /// keep their server connections, and a client beyond the pool waits.
    pub fn start(binary: &Path, database_url: &str, pool_mode: &str, settings: &[&str]) -> Self {
        let (user, upstream, _) = url_parts(database_url);
        let folder = folder_for_postgres();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (host, upstream_port) = upstream.rsplit_once(':').unwrap_or((upstream, "5432"));
        let path = |name: &str| folder.path().join(name).display().to_string();
        let configuration = format!(
            "[databases]\n* = host={host} port={upstream_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {}\npool_mode = {pool_mode}\n\
             default_pool_size = 60\nmax_client_conn = 500\nignore_startup_parameters = extra_float_digits\n\
             logfile = {}\npidfile = {}\n{}\n",
            path("users.txt"),
            path("pgbouncer.log"),
            path("pgbouncer.pid"),
            settings.join("\n"),
        );
        std::fs::write(path("users.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        std::fs::write(path("pgbouncer.ini"), configuration).unwrap();
        // Run from the folder given to the postgres user: one built under target/ may
        // sit in a checkout that user cannot enter.
        std::fs::copy(binary, path("pgbouncer")).expect("copying PgBouncer beside its configuration");
        run(Command::new(path("pgbouncer")).arg("-d").arg(path("pgbouncer.ini")));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "PgBouncer did not listen: {}", Self::log_of(&folder));
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { folder, port }
    }

    /// `database_url` with PgBouncer in place of the server.
    pub fn url_for(&self, database_url: &str) -> String {
        url_through(database_url, self.port)
    }

    /// What PgBouncer logged.
    pub fn log(&self) -> String {
        Self::log_of(&self.folder)
    }

    fn log_of(folder: &tempfile::TempDir) -> String {
        std::fs::read_to_string(folder.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// The version of the PgBouncer at `binary`, as `(major, minor)`.
    pub fn version(binary: &Path) -> (u32, u32) {
        let output = Command::new(binary).arg("--version").output().expect("pgbouncer --version");
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text.split_whitespace().find(|word| word.starts_with(|c: char| c.is_ascii_digit()));
        let mut numbers = version.expect("a version number").split('.').map(|part| part.parse().unwrap_or(0));
        (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
    }
}

impl Drop for OwnPgBouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.folder.path().join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}
