//! Logs and traces. Log lines go to stderr, filtered by `GRANTLOG_LOG`. Every HTTP
//! request is one OpenTelemetry span (see [`RequestSpan`]) whose trace id is the
//! one its events record; a W3C `traceparent` from the caller continues its trace.
//! Spans are exported over OTLP/HTTP (protobuf) when `GRANTLOG_OTLP_ENDPOINT` is set.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::RootSpanBuilder;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::http::ApiError;
use crate::metrics;

/// The installed tracer; [`Telemetry::shutdown`] flushes spans not yet exported.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

/// Installs logging and tracing for this process. `otlp_endpoint` is the collector's
/// base URL (`http://collector:4318`); spans go to its `/v1/traces`.
pub fn init(otlp_endpoint: Option<&str>) -> anyhow::Result<Telemetry> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut provider =
        SdkTracerProvider::builder().with_resource(Resource::builder().with_service_name("grantlog").build());
    if let Some(endpoint) = otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(UreqClient::new())
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(endpoint))
            .build()
            .context("Failed to set up the OTLP exporter")?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    let logs = EnvFilter::try_from_env("GRANTLOG_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Spans are traced whatever the log level: a quiet log still yields every request's
    // span and trace id.
    let spans = tracing_subscriber::filter::Targets::new().with_target("grantlog_server", tracing::Level::INFO);
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(logs))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("grantlog")).with_filter(spans))
        .try_init()
        .context("Failed to install the tracing subscriber")?;
    Ok(Telemetry { provider })
}

impl Telemetry {
    /// Exports what is still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("grantlog: exporting the last spans failed: {error}");
        }
    }
}

fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") }
}

/// The exporter's transport: ureq, which the binary already has, instead of a second
/// HTTP client stack (reqwest and hyper) for one POST every few seconds. The batch
/// processor exports from its own thread, so a blocking call is in its place here.
#[derive(Debug)]
struct UreqClient {
    agent: ureq::Agent,
}

impl UreqClient {
    fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build();
        Self { agent: config.into() }
    }
}

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let response = self.agent.run(request.map(|body| body.to_vec()))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body.read_to_vec()?;
        Ok(Response::from_parts(parts, Bytes::from(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://collector:4318"), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://collector:4318/"), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://collector:4318/v1/traces"), "http://collector:4318/v1/traces");
    }
}

/// The span of one request: method, route, path, status and the OAuth outcome. Never
/// the query string (a signed query carries OAuth parameters), a header or a body.
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let span = tracing::info_span!(
            "HTTP request",
            otel.name = %format!("{} {route}", request.method()),
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = %request.method(),
            http.route = %route,
            url.path = %request.path(),
            http.response.status_code = Empty,
            oauth.outcome = Empty,
            oauth.problem = Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&RequestHeaders(request.headers()))
        });
        // Fails only when no tracer is installed; the span then has no trace to join.
        let _ = span.set_parent(parent);
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        // As i64: the OpenTelemetry layer turns unsigned integers into strings.
        span.record("http.response.status_code", i64::from(status.as_u16()));
        span.record("otel.status_code", if status.is_server_error() { "ERROR" } else { "OK" });
        match error.and_then(|error| error.as_error::<ApiError>()) {
            Some(ApiError::Protocol(problem)) => {
                span.record("oauth.outcome", "refused");
                span.record("oauth.problem", problem.problem());
                metrics::outcome("refused");
            }
            Some(ApiError::TooMany { .. }) => {
                span.record("oauth.outcome", "rate_limited");
                metrics::outcome("rate_limited");
            }
            Some(ApiError::Internal(_)) => {
                span.record("oauth.outcome", "failed");
                metrics::outcome("failed");
            }
            Some(ApiError::Unavailable(_)) => {
                span.record("oauth.outcome", "database_unavailable");
                metrics::outcome("database_unavailable");
            }
            // Their handlers recorded what happened.
            Some(ApiError::Page { .. } | ApiError::Operator { .. }) | None => {}
        }
    }
}

/// Request headers as the trace-context propagator reads them.
struct RequestHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl opentelemetry::propagation::Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
