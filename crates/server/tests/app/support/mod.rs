//! grantlog serving on a loopback port of its own choosing: in this process (as
//! zero2prod's `spawn_app`), or as the real `grantlog serve` process where the process
//! boundary is the point (two nodes, signals, per-process metrics, environment).

// Each test module uses part of this module; the rest would read as dead code there.
#![allow(dead_code)]

pub mod browser;
pub mod pgbouncer;
pub mod postgres;
pub mod proxy;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use clap::Parser as _;
use grantlog_server::cli::Cli;

/// A running server, stopped when dropped.
pub struct Server {
    running: Running,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The database it serves.
    pub database_url: String,
    key_file: Arc<tempfile::TempPath>,
}

enum Running {
    /// `grantlog serve`'s own code on a thread of this process, with its own runtime.
    InProcess { stop: actix_web::dev::ServerHandle, thread: Option<std::thread::JoinHandle<()>> },
    /// A `grantlog serve` process.
    Process(Child),
}

impl Server {
    /// Serves `database_url` in this process on `127.0.0.1:0`, with a fresh secrets key.
    pub fn start(database_url: &str) -> Self {
        Self::start_with(database_url, &[])
    }

    /// Like [`Server::start`], with more `serve` arguments (`--demo`), parsed as the
    /// binary parses them.
    pub fn start_with(database_url: &str, serve_args: &[&str]) -> Self {
        Self::in_process(database_url, serve_args, Arc::new(new_key_file()))
    }

    /// A `grantlog serve` process on `database_url`, with more `serve` arguments.
    pub fn process(database_url: &str, serve_args: &[&str]) -> Self {
        Self::process_with_env(database_url, serve_args, &[])
    }

    /// Like [`Server::process`], with more environment variables.
    pub fn process_with_env(database_url: &str, serve_args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(database_url, serve_args, env, Arc::new(new_key_file()))
    }

    /// Like [`Server::process`], with the secrets key in `key_file` (which `grantlog`
    /// creates when missing).
    pub fn process_with_key(database_url: &str, serve_args: &[&str], key_file: tempfile::TempPath) -> Self {
        Self::spawn(database_url, serve_args, &[], Arc::new(key_file))
    }

    /// The secrets key file it was started with.
    pub fn key_file(&self) -> &std::path::Path {
        &self.key_file
    }

    /// A second process serving the same database with the same secrets key, as a
    /// second node behind a load balancer would.
    pub fn beside(&self) -> Self {
        self.beside_with(&[])
    }

    /// Like [`Server::beside`], both nodes answering to this one's public URL, as behind
    /// one load balancer: a request signed for one verifies on the other.
    pub fn beside_at_the_same_address(&self) -> Self {
        self.beside_with(&["--public-url", &self.base_url])
    }

    /// Like [`Server::beside`], with more `serve` arguments.
    pub fn beside_with(&self, serve_args: &[&str]) -> Self {
        Self::spawn(&self.database_url, serve_args, &[], self.key_file.clone())
    }

    /// A `grantlog serve` process with this one's secrets key on `database_url` (the same
    /// database, reached another way).
    pub fn beside_on(&self, database_url: &str, serve_args: &[&str]) -> Self {
        Self::spawn(database_url, serve_args, &[], self.key_file.clone())
    }

    fn in_process(database_url: &str, serve_args: &[&str], key_file: Arc<tempfile::TempPath>) -> Self {
        let key_path = key_file.to_str().expect("a UTF-8 temporary path").to_owned();
        let arguments = ["grantlog", "--database-url", database_url, "--secrets-key-file", &key_path, "serve"]
            .into_iter()
            .chain(["--bind", "127.0.0.1:0"])
            .chain(serve_args.iter().copied());
        let cli = Cli::try_parse_from(arguments).expect("serve arguments");
        let (started, built) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            runtime.block_on(async move {
                let application = match cli.application().await {
                    Ok(application) => application,
                    Err(error) => return started.send(Err(format!("{error:#}"))).unwrap(),
                };
                started.send(Ok((application.address(), application.stop_handle()))).unwrap();
                application.run().await.expect("the server stops cleanly");
            });
        });
        let (address, stop) =
            built.recv().expect("the server thread answers").unwrap_or_else(|error| panic!("{error}"));
        Self {
            running: Running::InProcess { stop, thread: Some(thread) },
            base_url: format!("http://{address}"),
            database_url: database_url.to_owned(),
            key_file,
        }
    }

    fn spawn(database_url: &str, serve_args: &[&str], env: &[(&str, &str)], key_file: Arc<tempfile::TempPath>) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_grantlog"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(serve_args)
            .env("GRANTLOG_DATABASE_URL", database_url)
            .env("GRANTLOG_SECRETS_KEY_FILE", key_file.as_os_str())
            .env("GRANTLOG_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("starting grantlog serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading its first line");
        let base_url = line
            .trim()
            .strip_prefix("grantlog listening on ")
            .unwrap_or_else(|| panic!("unexpected: {line}"))
            .to_owned();
        Self { running: Running::Process(child), base_url, database_url: database_url.to_owned(), key_file }
    }

    /// Runs another `grantlog` command against the same database and key.
    pub fn grantlog(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_grantlog"))
            .args(args)
            .env("GRANTLOG_DATABASE_URL", &self.database_url)
            .env("GRANTLOG_SECRETS_KEY_FILE", self.key_file.as_os_str())
            .output()
            .expect("running grantlog")
    }

    /// `grantlog audit verify-export` of `export` against `checkpoint` with `verifier`.
    pub fn verify_export(&self, export: &Path, checkpoint: &Path, verifier: &str) -> std::process::Output {
        let [export, checkpoint] = [export, checkpoint].map(|path| path.to_str().expect("a UTF-8 path"));
        self.grantlog(&["audit", "verify-export", "--export", export, "--checkpoint", checkpoint, "--key", verifier])
    }

    /// Registers an owner through the command line (the password on stdin).
    pub fn add_owner(&self, username: &str, password: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_grantlog"))
            .args(["owner", "add", "--username", username])
            .env("GRANTLOG_DATABASE_URL", &self.database_url)
            .env("GRANTLOG_SECRETS_KEY_FILE", self.key_file.as_os_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("running grantlog owner add");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(format!("{password}\n").as_bytes()).expect("writing the password");
        drop(stdin);
        assert!(child.wait().expect("waiting for grantlog").success(), "grantlog owner add {username} failed");
    }

    /// Registers "Beppa Prints" through the command line; returns (key, secret).
    pub fn add_client(&self, callback: &str) -> (String, String) {
        self.add_client_named("Beppa Prints", callback)
    }

    /// Registers a client named `name` through the command line; returns (key, secret).
    pub fn add_client_named(&self, name: &str, callback: &str) -> (String, String) {
        let output = self.grantlog(&["client", "add", "--name", name, "--callback", callback, "--json"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("client add --json");
        (printed["client_key"].as_str().unwrap().to_owned(), printed["client_secret"].as_str().unwrap().to_owned())
    }

    /// Stops a `grantlog serve` process as an operator would (SIGTERM) and waits for it
    /// to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let Running::Process(child) = &mut self.running else { panic!("only a process can be sent a signal") };
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        child.wait().expect("waiting for grantlog to exit")
    }

    /// Kills a `grantlog serve` process with SIGKILL, as a crash or the OOM killer
    /// would, then starts it again on the same database and key (on a new port), with
    /// `serve_args`.
    pub fn kill_and_restart(&mut self, serve_args: &[&str]) {
        let Running::Process(child) = &mut self.running else { panic!("only a process can be killed") };
        child.kill().expect("sending SIGKILL");
        child.wait().expect("waiting for the killed process");
        *self = Self::spawn(&self.database_url, serve_args, &[], self.key_file.clone());
    }

    /// `base_url` joined with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// A key file name, not yet a file: grantlog creates the key.
fn new_key_file() -> tempfile::TempPath {
    let key_file = tempfile::NamedTempFile::new().expect("a key file name").into_temp_path();
    std::fs::remove_file(&key_file).expect("grantlog creates the key itself");
    key_file
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.running {
            Running::InProcess { stop, thread } => {
                // The command is sent at the call; the returned future only waits for it.
                drop(stop.stop(false));
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
            Running::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A response reduced to what the tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The body's form parameters.
    pub fn form(&self) -> Vec<(String, String)> {
        grantlog_oauth1::encoding::parse_form(&self.body).expect("a form-encoded body")
    }

    /// One form parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// POSTs `body` (a form, if not empty) with an optional Authorization header.
pub fn post(url: &str, authorization: Option<&str>, body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = authorization.map(|value| ("Authorization", value)).into_iter().collect();
    post_with(url, &headers, body)
}

/// POSTs `body` (a form, if not empty) with `headers`.
pub fn post_with(url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut request = agent().post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if !body.is_empty() {
        request = request.header("Content-Type", "application/x-www-form-urlencoded");
    }
    reply(request.send(body).expect("the server answers"))
}

/// `method url` with `headers` and `body`, answered as it is.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(agent().run(request.body(body.to_owned()).expect("a well-formed request")).expect("the server answers"))
}

/// GETs `url` with an Authorization header.
pub fn get(url: &str, authorization: &str) -> Reply {
    reply(agent().get(url).header("Authorization", authorization).call().expect("the server answers"))
}

pub(crate) fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (www_authenticate, content_type, cache_control, retry_after) =
        (header("www-authenticate"), header("content-type"), header("cache-control"), header("retry-after"));
    let bytes = response.body_mut().read_to_vec().unwrap_or_default();
    Reply {
        status: response.status().as_u16(),
        www_authenticate,
        content_type,
        cache_control,
        retry_after,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// GETs `path` on `server` with a bearer token; the status and the body.
pub fn get_with_bearer(server: &Server, token: &str, path: &str) -> (u16, String) {
    let mut response = agent()
        .get(server.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("the server answers");
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
}

/// A new checkpoint signing key named `origin` in `folder`, made by `grantlog checkpoint
/// key generate`: the key file and the verifier key it printed.
pub fn checkpoint_key(folder: &std::path::Path, origin: &str) -> (String, String) {
    let key_file = folder.join("checkpoint.key");
    let output = Command::new(env!("CARGO_BIN_EXE_grantlog"))
        .args(["checkpoint", "key", "generate", "--origin", origin, "--out"])
        .arg(&key_file)
        .output()
        .expect("running grantlog checkpoint key generate");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let verifier = String::from_utf8(output.stdout).expect("a UTF-8 verifier key").trim().to_owned();
    assert!(verifier.starts_with(&format!("{origin}+")), "{verifier}");
    (key_file.to_str().expect("a UTF-8 temporary path").to_owned(), verifier)
}

/// Asks `attempt` every 100 ms until it answers; fails naming `what` after 20 s. For
/// what a background task does in its own time (a checkpoint signed, say).
pub fn eventually<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(answer) = attempt() {
            return answer;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{what} did not happen within 20 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A JSON request with an optional bearer token: the status, the `Cache-Control` (for a
/// 201) or `WWW-Authenticate` header, and the body (JSON if it parses, else its text).
pub fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Option<String>, serde_json::Value) {
    let reply = send_json(method, url, token, body.unwrap_or(""));
    let header = if reply.status == 201 { reply.cache_control } else { reply.www_authenticate };
    (reply.status, header, serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::String(reply.body)))
}

/// `method url` with a JSON `body` and an optional bearer token, answered as it is.
pub fn send_json(method: &str, url: &str, token: Option<&str>, body: &str) -> Reply {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(bearer.as_deref().map(|bearer| ("Authorization", bearer)));
    send(method, url, &headers, body)
}

/// A client that gives up after five seconds, as a load balancer's check or a patient
/// client would: a node that hangs shows as a transport error, not a stuck test.
pub fn patient_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(5)))
        .build()
        .into()
}
