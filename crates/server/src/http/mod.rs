//! The HTTP edge: the route table, the application's state and start, and the health
//! and metrics endpoints. Each surface is a module; errors become responses in one
//! place (`error.rs`). Handlers stay thin: gather the request, call one use case, shape
//! the answer.

use std::net::{SocketAddr, TcpListener};

use anyhow::Context as _;

use actix_web::dev::{Server, Service as _};
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use grantlog_oauth1::uri::signed_url;
use opentelemetry::trace::TraceContextExt as _;
use tracing::Span;
use tracing_actix_web::TracingLogger;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use grantlog_store::sessions::Session;

use crate::background::Signing;
use crate::metrics;
use crate::operators::OperatorTokens;
use crate::services::Services;
use crate::services::oauth::Checks;
use crate::telemetry::RequestSpan;
use client_address::TrustedProxies;

mod account;
mod audit;
mod auditor;
pub mod client_address;
mod consent;
mod error;
mod lifecycle;
mod login;
mod oauth;
mod openapi;
mod operator;
mod page;
mod resources;

pub use error::ApiError;

/// Largest request body accepted: OAuth forms are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "grantlog";

/// Everything a handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Services,
    /// The scheme, host and port clients reach us by (they sign URLs with it).
    pub public_url: String,
    /// Timestamp window and other checks.
    pub checks: Checks,
    /// Who may call the admin and auditor APIs.
    pub operators: OperatorTokens,
    /// The proxies whose forwarding headers name the client's address.
    pub trusted_proxies: TrustedProxies,
}

impl AppState {
    /// The absolute URL the client signed: our public URL and the request target.
    fn signed_url(&self, request: &HttpRequest) -> String {
        signed_url(&self.public_url, request.uri().path_and_query().map_or("/", |target| target.as_str()))
    }

    /// Where the request comes from, for throttling: see [`TrustedProxies`].
    fn client_address(&self, request: &HttpRequest) -> std::net::IpAddr {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all(self.trusted_proxies.header().name())
            .filter_map(|value| value.to_str().ok())
            .collect();
        let peer = request.peer_addr().map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |peer| peer.ip());
        self.trusted_proxies.client_address(peer, &forwarded)
    }
}

/// A bound, not yet running server, and what it runs beside it.
pub struct Application {
    server: Server,
    address: SocketAddr,
    services: Services,
    checks: Checks,
    signing: Option<Signing>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `listener` and builds the server; port 0 lets the OS choose (tests).
    /// `public_url` defaults to `http://` and the bound address. Long because it holds
    /// the route table, which reads best whole.
    pub fn build(
        listener: TcpListener,
        services: Services,
        public_url: Option<String>,
        checks: Checks,
        operators: OperatorTokens,
        trusted_proxies: TrustedProxies,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let public_url = public_url.unwrap_or_else(|| format!("http://{address}"));
        let checks = Checks { plaintext_allowed: public_url.starts_with("https://"), ..checks };
        let state = AppState { services: services.clone(), public_url, checks, operators, trusted_proxies };
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(|request, service| {
                    let started = std::time::Instant::now();
                    let method = request.method().to_string();
                    let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                    let answered = service.call(request);
                    async move {
                        let response = answered.await;
                        let status = match &response {
                            Ok(response) => response.status(),
                            Err(error) => error.as_response_error().status_code(),
                        };
                        metrics::request_answered(&method, &route, status.as_u16(), started.elapsed().as_secs_f64());
                        response
                    }
                })
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(web::Data::new(state.clone()))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/metrics", web::get().to(metrics_page))
                .route("/openapi.json", web::get().to(openapi::openapi_json))
                .route("/oauth/initiate", web::post().to(oauth::initiate))
                .route("/oauth/token", web::post().to(oauth::token))
                .route("/oauth/verify", web::post().to(oauth::verify))
                .route("/oauth/revoke", web::post().to(oauth::revoke))
                .route("/oauth/token_info", web::get().to(oauth::token_info))
                .route("/oauth/authorize", web::get().to(consent::authorize_page))
                .route("/oauth/authorize", web::post().to(consent::authorize_decision))
                .route("/login", web::get().to(account::login_form))
                .route("/login", web::post().to(login::login))
                .route("/logout", web::post().to(account::logout))
                .route(GRANTS_PAGE, web::get().to(account::grants))
                .route("/account/grants/{id}", web::get().to(account::grant))
                .route("/account/grants/{id}/receipt", web::get().to(account::receipt))
                .route("/account/grants/{id}/revoke", web::post().to(account::revoke))
                .route("/account/clients/{id}/revoke", web::post().to(account::disconnect))
                .route("/account/clients/{id}/forget", web::post().to(account::forget))
                .route("/admin/clients", web::post().to(operator::register_client))
                .route("/admin/clients", web::get().to(lifecycle::list_clients))
                .route("/admin/clients/{key}", web::get().to(lifecycle::show_client))
                .route("/admin/clients/{key}", web::patch().to(lifecycle::update_client))
                .route("/admin/clients/{key}/rotate-secret", web::post().to(lifecycle::rotate_secret))
                .route("/admin/clients/{key}/suspend", web::post().to(lifecycle::suspend_client))
                .route("/admin/clients/{key}/resume", web::post().to(lifecycle::resume_client))
                .route("/admin/clients/{key}/deliveries", web::get().to(lifecycle::deliveries))
                .route("/admin/grants/{id}/revoke", web::post().to(lifecycle::revoke_grant))
                .route("/admin/owners/erase", web::post().to(operator::erase_owner))
                .service(
                    // What auditors read is no one else's to keep: not the browser's
                    // cache, not a proxy's, whether asked by token or by the page's cookie.
                    web::scope("/audit")
                        .wrap(
                            DefaultHeaders::new()
                                .add((header::CACHE_CONTROL, "no-store"))
                                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                                .add((header::VARY, "Authorization, Cookie")),
                        )
                        .route("", web::get().to(auditor::page))
                        .route("/login", web::post().to(auditor::login))
                        .route("/logout", web::post().to(auditor::logout))
                        .route("/events", web::get().to(audit::events))
                        .route("/export", web::get().to(audit::export))
                        .route("/verify", web::get().to(audit::verify))
                        .route("/replay", web::get().to(audit::replay))
                        .route("/checkpoint", web::get().to(audit::checkpoint))
                        .route("/proof/inclusion", web::get().to(audit::inclusion))
                        .route("/proof/consistency", web::get().to(audit::consistency))
                        .route("/receipts/{grant_id}", web::get().to(audit::receipt)),
                )
                .route("/static/grantlog.css", web::get().to(page::stylesheet))
                .route("/api/photos", web::get().to(resources::photos))
                .route("/api/photos/{id}", web::get().to(resources::photo))
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .run();
        Ok(Self { server, address, services, checks, signing: None })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Signs checkpoints with `signing` while it runs.
    #[must_use]
    pub fn signing_checkpoints(self, signing: Signing) -> Self {
        Self { signing: Some(signing), ..self }
    }

    /// What stops it from another thread (the in-process tests' servers).
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT or SIGTERM), with the background tasks
    /// ([`crate::background::Background`]) running beside it; once stopped, stops them and writes the use
    /// counts still held.
    pub async fn run(self) -> anyhow::Result<()> {
        let background = self.services.start_background(self.checks, self.signing);
        let served = self.server.await.context("The server stopped with an error");
        background.stop().await?;
        served
    }
}

/// Any other path, or a method a path does not take: a 404 that says so.
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().content_type("text/plain").body("no such page (or not with this method)\n")
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when the database answers within a second: a node that cannot reach it is
/// taken out of rotation at once, not after the load balancer's own timeout.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let unready = HttpResponse::ServiceUnavailable().content_type("text/plain").body("database unavailable\n");
    match tokio::time::timeout(std::time::Duration::from_secs(1), state.services.ready()).await {
        Ok(Ok(_)) => HttpResponse::Ok().content_type("text/plain").body("ready\n"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            unready
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not answer within a second");
            unready
        }
    }
}

/// `GET /metrics`: OpenMetrics text for Prometheus.
async fn metrics_page(state: web::Data<AppState>) -> HttpResponse {
    match state.services.metrics().await {
        Ok(text) => HttpResponse::Ok().content_type(metrics::CONTENT_TYPE).body(text),
        Err(error) => {
            tracing::error!(%error, "reading the metrics failed");
            HttpResponse::InternalServerError().content_type("text/plain").body("internal error\n")
        }
    }
}

const SESSION_COOKIE: &str = "grantlog_session";
/// The owner's grants page.
const GRANTS_PAGE: &str = "/account/grants";
impl AppState {
    /// The owner's session, if the request carries a live one.
    async fn session(&self, request: &HttpRequest, now: chrono::DateTime<Utc>) -> Result<Option<Session>, ApiError> {
        match page::cookie(request, SESSION_COOKIE) {
            Some(value) => self.services.session(value, now).await.map_err(ApiError::from),
            None => Ok(None),
        }
    }

    /// A cookie: HttpOnly always, Secure when we are reached over https.
    fn cookie(&self, name: &str, value: &str, path: &str, same_site: &str) -> String {
        let secure = if self.public_url.starts_with("https://") { "; Secure" } else { "" };
        format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}")
    }
}

/// The request's W3C trace id, which every event it causes carries: its span's, which
/// continues the caller's `traceparent` when there is one. Without a tracer installed
/// (the in-process demo) the `traceparent`'s or a fresh one.
fn trace_id(request: &HttpRequest) -> String {
    let context = Span::current().context();
    let span = context.span();
    if span.span_context().is_valid() {
        return format!("{:032x}", span.span_context().trace_id());
    }
    let from_parent = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(|parent| parent.split('-').nth(1))
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .filter(|id| id.bytes().any(|b| b != b'0'));
    match from_parent {
        Some(id) => id.to_owned(),
        None => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).expect("the operating system's random source works");
            bytes.iter().map(|byte| format!("{byte:02x}")).collect()
        }
    }
}

/// Records what became of the request on its span, in words an operator searches for,
/// and counts it for `/metrics`.
fn outcome(what: &'static str) {
    Span::current().record("oauth.outcome", what);
    metrics::outcome(what);
}
