//! An HTTP load driver for a running `grantlog serve --demo`: requests per second and
//! latency for `/healthz`, a freshly signed `GET /api/photos`, and Jane's grants page;
//! or a mixed scenario (`--mixed`), or whole flows per second (`--flows`).
//!
//! Run: `cargo run --release -p grantlog-server --example load -- --base-url http://127.0.0.1:8080`
//! (`--seconds`, `--concurrency`; `--signed-with` for another server, such as
//! oauthlib's in benches/python). docs/benchmarks.md records its figures.
//!
//! Setup, not measured: `grantlog demo`'s own walk through the pages — Beppa gets a
//! request token, Jane logs in through the forms and approves both photos for one hour
//! (so a run must end within the hour), Beppa exchanges the verifier for token
//! credentials. Then each scenario runs for `--seconds` from `--concurrency` threads,
//! each with its own keep-alive connection. Any answer other than 200 fails the run.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use grantlog_oauth1::Signer;
use grantlog_server::demo;
use grantlog_server::demo::{Approved, Browser, agent, approve_in, approve_through_the_pages, signed_header};
use secrecy::ExposeSecret as _;

/// Load a running `grantlog serve --demo` and report throughput and latency.
#[derive(Debug, Parser)]
struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:8080; repeated for several nodes of
    /// one database, which the client threads are spread over in turn (setup runs on
    /// the first).
    #[arg(long, required = true)]
    base_url: Vec<String>,
    /// How long each scenario runs, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Client threads, each with its own keep-alive connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: u64,
    /// Skip the setup and sign with these token credentials,
    /// `CLIENT_KEY:CLIENT_SECRET:TOKEN:TOKEN_SECRET`; measures `/healthz` and the signed
    /// request only. For another server with the same two routes
    /// (benches/python/oauthlib_server.py).
    #[arg(long)]
    signed_with: Option<String>,
    /// Only run the setup against a `grantlog serve --demo` and print the token
    /// credentials it got as `CLIENT_KEY:CLIENT_SECRET:TOKEN:TOKEN_SECRET`, for another
    /// load generator to sign with (benches/compare).
    #[arg(long, conflicts_with = "signed_with")]
    print_credentials: bool,
    /// Run one mixed scenario instead (the soak's): mostly signed requests, Jane's
    /// grants page every 20th request, and a whole new grant through the pages every
    /// 500th; with `--windows`, what each 10 s saw is written there.
    #[arg(long, conflicts_with = "signed_with")]
    mixed: bool,
    /// Run whole flows instead, back to back: each is the demo's steps 1 to 4 by a Jane
    /// logged in already (a request token, the consent page, her approval, the token
    /// exchange: four HTTP requests), counted as one.
    #[arg(long, conflicts_with_all = ["signed_with", "mixed"])]
    flows: bool,
    /// A CSV file for the mixed scenario's 10-second windows: `seconds,requests,
    /// not_200,flows,p50_ms,p95_ms,p99_ms`.
    #[arg(long, requires = "mixed")]
    windows: Option<std::path::PathBuf>,
}

/// What setup leaves for the measured requests.
struct Credentials {
    /// Beppa signing with the access token and its secret.
    access: Signer,
    /// The `Cookie` header of Jane's logged-in browser, when setup logged her in.
    cookies: Option<String>,
}

/// The requests measured, one kind at a time.
#[derive(Clone, Copy)]
enum Scenario {
    Healthz,
    Signed,
    Grants,
    Mixed,
    Flows,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Self::Healthz => "GET /healthz",
            Self::Signed => "GET /api/photos, signed (HMAC-SHA1)",
            Self::Grants => "GET /account/grants, with a session",
            Self::Mixed => "mixed: signed, grants page, new grants",
            Self::Flows => "whole flows: initiate, consent page, approve, token",
        }
    }
}

/// What one thread saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    /// Answers other than 200, by status; 0 counts requests without an answer (a
    /// transport or signing error, which also ends the thread).
    failures: BTreeMap<u16, u64>,
    /// The first failure's detail, to print.
    first_failure: Option<String>,
}

/// A scenario's figures.
struct Report {
    label: &'static str,
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    failures: BTreeMap<u16, u64>,
    first_failure: Option<String>,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let bases: Vec<String> = args.base_url.iter().map(|base| base.trim_end_matches('/').to_owned()).collect();
    let base = &bases[0];
    if args.print_credentials {
        let approved = approve_through_the_pages(base, &mut |_| {}).context("Setup failed")?;
        let (token, secret) = &approved.token_credentials;
        println!("{}:{}:{token}:{}", demo::CLIENT_KEY, demo::CLIENT_SECRET, secret.expose_secret());
        return Ok(ExitCode::SUCCESS);
    }
    let credentials = match &args.signed_with {
        Some(given) => given_credentials(given)?,
        None => set_up(base).context("Setup failed (is `grantlog serve --demo` running there?)")?,
    };
    let scenarios = match credentials.cookies {
        Some(_) if args.mixed => vec![Scenario::Mixed],
        Some(_) if args.flows => vec![Scenario::Flows],
        Some(_) => vec![Scenario::Healthz, Scenario::Signed, Scenario::Grants],
        None => vec![Scenario::Healthz, Scenario::Signed],
    };
    // Only the soak's windows pay for a shared tally; the other figures do not.
    let window = args.windows.as_ref().map(|_| Window::default());

    let duration = Duration::from_secs(args.seconds);
    let reports: Vec<Report> = scenarios
        .into_iter()
        .map(|scenario| {
            std::thread::scope(|scope| {
                if let (Some(file), Some(window)) = (&args.windows, &window) {
                    scope.spawn(move || {
                        if let Err(error) = window.report_until(file, Instant::now() + duration) {
                            eprintln!("writing the windows failed: {error:#}");
                        }
                    });
                }
                measure(&bases, &credentials, scenario, duration, args.concurrency, window.as_ref())
            })
        })
        .collect::<anyhow::Result<_>>()?;

    println!("{}: {} s per scenario, {} client threads, keep-alive", bases.join(", "), args.seconds, args.concurrency);
    println!();
    println!("| request | requests | requests/s | p50 | p99 | not 200 |");
    println!("|---|---|---|---|---|---|");
    for report in &reports {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} |",
            report.label,
            report.requests,
            report.per_second,
            millis(report.p50),
            millis(report.p99),
            failures(&report.failures)
        );
    }
    if let [healthz, signed, ..] = reports.as_slice() {
        println!();
        println!("signed / healthz throughput: {:.1}%", 100.0 * signed.per_second / healthz.per_second);
    }

    let mut failed = false;
    for report in &reports {
        if let Some(detail) = &report.first_failure {
            eprintln!("{}: first failure: {detail}", report.label);
            failed = true;
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Runs `scenario` from `concurrency` threads for `duration`, thread `n` on `bases[n % len]`.
fn measure(
    bases: &[String],
    credentials: &Credentials,
    scenario: Scenario,
    duration: Duration,
    concurrency: u64,
    window: Option<&Window>,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let deadline = started + duration;
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..concurrency)
            .map(|n| {
                let base = &bases[usize::try_from(n).unwrap_or(0) % bases.len()];
                scope.spawn(move || drive(base, credentials, scenario, deadline, window))
            })
            .collect();
        // A panicking thread is a bug in this driver, not a figure: let it end the run.
        threads.into_iter().map(|thread| thread.join().expect("a load thread panicked")).collect()
    });
    // Requests in flight at the deadline still finish; count the time they took.
    let elapsed = started.elapsed();

    let mut latencies = Vec::new();
    let mut failures = BTreeMap::new();
    let mut first_failure = None;
    for tally in tallies {
        latencies.extend(tally.latencies);
        for (status, count) in tally.failures {
            *failures.entry(status).or_insert(0) += count;
        }
        first_failure = first_failure.or(tally.first_failure);
    }
    latencies.sort_unstable();
    Ok(Report {
        label: scenario.label(),
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
        failures,
        first_failure,
    })
}

/// One client thread: requests back to back on one connection until `deadline`.
fn drive(
    base: &str,
    credentials: &Credentials,
    scenario: Scenario,
    deadline: Instant,
    window: Option<&Window>,
) -> Tally {
    // Statuses are data here, not errors; the agent keeps its connection alive.
    let agent = agent();
    let healthz = format!("{base}/healthz");
    let photos = format!("{base}/api/photos");
    let grants = format!("{base}/account/grants");
    let mut tally = Tally { latencies: Vec::with_capacity(100_000), ..Tally::default() };
    // The flows share the session setup logged Jane in with; the mixed scenario's new
    // grants each log her in afresh.
    let mut jane = Browser::with_cookies(credentials.cookies.as_deref().unwrap_or(""));
    for n in 0_u64.. {
        if Instant::now() >= deadline {
            break;
        }
        let new_grant = match scenario {
            Scenario::Flows => true,
            Scenario::Mixed => n % 500 == 499,
            _ => false,
        };
        if new_grant {
            let flow_started = Instant::now();
            let approved = match scenario {
                Scenario::Flows => approve_in(&mut jane, base, &mut |_| {}),
                _ => approve_through_the_pages(base, &mut |_| {}),
            };
            if let Err(error) = approved {
                tally.fail(0, format!("a new grant failed: {error:#}"));
                break;
            }
            // A flow is the measured unit of its own scenario; in the mixed one it is
            // counted in the windows beside the requests.
            if let Scenario::Flows = scenario {
                tally.latencies.push(flow_started.elapsed());
            } else if let Some(window) = window {
                window.flows.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let scenario = match scenario {
            Scenario::Mixed if n % 20 == 19 => Scenario::Grants,
            Scenario::Mixed => Scenario::Signed,
            other => other,
        };
        let request_started = Instant::now();
        // Signing happens inside the timed span, as it would in a real client; it costs
        // ~4 µs (see "Verifying a signed request" in docs/benchmarks.md).
        let answer = match scenario {
            Scenario::Healthz => agent.get(&healthz).call(),
            Scenario::Signed => match signed_header(&credentials.access, "GET", &photos, &[]) {
                Ok(header) => agent.get(&photos).header("Authorization", header).call(),
                Err(error) => {
                    tally.fail(0, format!("signing failed: {error}"));
                    break;
                }
            },
            Scenario::Grants | Scenario::Mixed | Scenario::Flows => {
                agent.get(&grants).header("Cookie", credentials.cookies.as_deref().unwrap_or("")).call()
            }
        };
        // The body is read to its end so the connection can carry the next request.
        let outcome = answer.and_then(|mut response| {
            let status = response.status().as_u16();
            response.body_mut().read_to_vec().map(|body| (status, body))
        });
        let latency = request_started.elapsed();
        if let Some(window) = window {
            window.saw(latency, matches!(outcome, Ok((200, _))));
        }
        match outcome {
            Ok((200, _)) => tally.latencies.push(latency),
            Ok((status, body)) => {
                tally.latencies.push(latency);
                let body = String::from_utf8_lossy(&body);
                tally.fail(status, format!("{status}: {}", body.chars().take(200).collect::<String>()));
            }
            // The connection is gone (the server stopped?): the run has failed, and
            // retrying in a tight loop would only burn the cores the server shares.
            Err(error) => {
                tally.fail(0, format!("transport error: {error}"));
                break;
            }
        }
    }
    tally
}

/// What all threads saw since the last report, for the mixed scenario's windows.
#[derive(Default)]
struct Window {
    latencies: Mutex<Vec<Duration>>,
    not_200: AtomicU64,
    flows: AtomicU64,
}

impl Window {
    fn saw(&self, latency: Duration, ok: bool) {
        self.latencies.lock().unwrap().push(latency);
        if !ok {
            self.not_200.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes a line to `file` every 10 s until `deadline`.
    fn report_until(&self, file: &std::path::Path, deadline: Instant) -> anyhow::Result<()> {
        let mut out = std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?;
        writeln!(out, "seconds,requests,not_200,flows,p50_ms,p95_ms,p99_ms")?;
        let started = Instant::now();
        while Instant::now() + Duration::from_secs(10) <= deadline + Duration::from_secs(1) {
            std::thread::sleep(Duration::from_secs(10));
            let mut latencies = std::mem::take(&mut *self.latencies.lock().unwrap());
            latencies.sort_unstable();
            let ms = |percent| percentile(&latencies, percent).as_secs_f64() * 1000.0;
            writeln!(
                out,
                "{},{},{},{},{:.2},{:.2},{:.2}",
                started.elapsed().as_secs(),
                latencies.len(),
                self.not_200.swap(0, Ordering::Relaxed),
                self.flows.swap(0, Ordering::Relaxed),
                ms(50),
                ms(95),
                ms(99)
            )?;
            out.flush()?;
        }
        Ok(())
    }
}

impl Tally {
    fn fail(&mut self, status: u16, detail: String) {
        *self.failures.entry(status).or_insert(0) += 1;
        self.first_failure.get_or_insert(detail);
    }
}

/// Beppa's token credentials and Jane's session, through the demo's own walk through
/// the pages (`grantlog demo`'s steps 1 to 4), then one request of each kind, so a
/// wrong setup fails here with its reason rather than as thousands of failures.
fn set_up(base: &str) -> anyhow::Result<Credentials> {
    let Approved { access, cookies, .. } = approve_through_the_pages(base, &mut |_| {})?;
    let agent = agent();
    let photos = format!("{base}/api/photos");
    let mut listing =
        agent.get(&photos).header("Authorization", signed_header(&access, "GET", &photos, &[])?).call()?;
    let listing = (listing.status().as_u16(), listing.body_mut().read_to_string()?);
    if listing.0 != 200 || !listing.1.contains("islay-harbour") {
        bail!("the photo list answered {}: {}", listing.0, listing.1);
    }
    let mut grants = agent.get(format!("{base}/account/grants")).header("Cookie", &cookies).call()?;
    if grants.status() != 200 {
        bail!("the grants page answered {}", grants.status());
    }
    grants.body_mut().read_to_vec()?;
    Ok(Credentials { access, cookies: Some(cookies) })
}

/// `--signed-with`'s four parts.
fn given_credentials(given: &str) -> anyhow::Result<Credentials> {
    let parts: Vec<&str> = given.split(':').collect();
    let [key, secret, token, token_secret] = parts.as_slice() else {
        bail!("--signed-with takes CLIENT_KEY:CLIENT_SECRET:TOKEN:TOKEN_SECRET");
    };
    let access =
        Signer::new(*key, *secret, grantlog_oauth1::SignatureMethod::HmacSha1).with_token(*token, *token_secret);
    Ok(Credentials { access, cookies: None })
}

/// The nearest-rank percentile of sorted `latencies` (zero when there are none).
fn percentile(latencies: &[Duration], percent: usize) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    let rank = (latencies.len() * percent).div_ceil(100).max(1);
    latencies[rank - 1]
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn failures(failures: &BTreeMap<u16, u64>) -> String {
    if failures.is_empty() {
        return "none".to_owned();
    }
    let each: Vec<String> = failures
        .iter()
        .map(
            |(status, count)| {
                if *status == 0 { format!("{count} without an answer") } else { format!("{count} × {status}") }
            },
        )
        .collect();
    each.join(", ")
}
