//! `GET /metrics`: what an operator graphs and alerts on, in the OpenMetrics text format
//! (Prometheus reads it). Counted in this process: requests by method, route and status,
//! their durations, and what became of them (`oauth.outcome`, the same words as the
//! traces). Read from the database when scraped, so every process reports the same:
//! the log's head, clients, and grants by recorded status. Only aggregates: no id, token
//! or name ever becomes a label.

use std::sync::LazyLock;

use grantlog_domain::GrantStatus;
use grantlog_projection::ProjectionError;
use grantlog_projection::tables::counts;
use grantlog_store::EventStore;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The OpenMetrics text format's media type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A request's labels: the route pattern (never the path, which carries ids).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

/// This process's metrics.
#[derive(Debug)]
struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    outcomes: Family<OutcomeLabels, Counter>,
    head: Gauge,
    clients: Gauge,
    grants: Family<StatusLabels, Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("grantlog");
    let requests = Family::<RequestLabels, Counter>::default();
    registry.register("http_requests", "HTTP requests answered, by method, route and status", requests.clone());
    // 100 µs to ~3.3 s: a health check at the bottom, a slow database at the top.
    let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
        Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
    });
    registry.register("http_request_duration_seconds", "Time to answer, by method and route", durations.clone());
    let outcomes = Family::<OutcomeLabels, Counter>::default();
    registry.register("oauth_outcomes", "What became of requests (the traces' oauth.outcome)", outcomes.clone());
    let head = Gauge::default();
    registry.register("events_head_position", "Position of the last event in the log", head.clone());
    let clients = Gauge::default();
    registry.register("clients", "Registered clients", clients.clone());
    let grants = Family::<StatusLabels, Gauge>::default();
    registry.register("grants", "Grants by recorded status (expiry by the clock not applied)", grants.clone());
    Metrics { registry, requests, durations, outcomes, head, clients, grants }
});

/// Counts an answered request. `route` is a route pattern (or `unmatched`); a method
/// outside the standard ones counts as `other`, so no client can grow the label set.
pub fn request_answered(method: &str, route: &str, status: u16, seconds: f64) {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    let method = KNOWN.into_iter().find(|known| *known == method).unwrap_or("other").to_owned();
    let route = route.to_owned();
    METRICS.durations.get_or_create(&RouteLabels { method: method.clone(), route: route.clone() }).observe(seconds);
    METRICS.requests.get_or_create(&RequestLabels { method, route, status }).inc();
}

/// Counts what became of a request.
pub fn outcome(what: &'static str) {
    METRICS.outcomes.get_or_create(&OutcomeLabels { outcome: what }).inc();
}

/// The metrics as text, the database's figures read now.
pub async fn scrape(store: &EventStore) -> Result<String, ProjectionError> {
    let head = store.head().await?;
    let counts = counts(store.reader()).await?;
    METRICS.head.set(i64::try_from(head.position).unwrap_or(i64::MAX));
    METRICS.clients.set(counts.clients);
    for status in GrantStatus::ALL {
        let count = counts.grants_by_status.iter().find(|(recorded, _)| *recorded == status).map_or(0, |(_, n)| *n);
        METRICS.grants.get_or_create(&StatusLabels { status: status.as_str() }).set(count);
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &METRICS.registry).expect("writing to a String cannot fail");
    Ok(text)
}
