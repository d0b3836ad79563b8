//! `grantlog audit export`: every event, in log order, with its whole envelope — the
//! fields the hash chain covers and the hash itself — for auditors' own tools. JSON
//! Lines (one object per event) or CSV (the actor and the payload as JSON text). Read
//! and written a page at a time, so a long log needs no more memory than a short one.

use std::io::Write;

use anyhow::Context as _;
use grantlog_domain::Actor;
use grantlog_projection::tables::timestamp;
use grantlog_store::{EventStore, Head, RecordedEvent, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// How many events are read per query.
const PAGE: u32 = 1_000;

/// The export's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// The columns, in order (CSV's header; JSON's keys).
pub const COLUMNS: [&str; 10] = [
    "position",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "occurred_at",
    "actor",
    "trace_id",
    "hash",
    "payload",
];

/// Writes every event to `out`; returns how many.
pub async fn export(store: &EventStore, format: Format, mut out: impl Write) -> anyhow::Result<u64> {
    let mut export = Export::start(store.clone(), format).await.context("Failed to read the event log")?;
    while let Some(chunk) = export.next_chunk().await? {
        out.write_all(&chunk)?;
    }
    out.flush()?;
    Ok(export.exported())
}

/// The export a page at a time, each page as bytes in its format: what the command
/// line writes to a file and `GET /audit/export` streams.
#[derive(Debug)]
pub struct Export {
    store: EventStore,
    format: Format,
    head: Head,
    after: u64,
    header_due: bool,
}

impl Export {
    /// An export up to the recorded head; refused ([`StoreError::Tampered`]) for a log
    /// with rows past it.
    pub async fn start(store: EventStore, format: Format) -> Result<Self, StoreError> {
        let head = store.sealed_head().await?;
        Ok(Self { store, format, head, after: 0, header_due: format == Format::Csv })
    }

    /// The next page's bytes (the CSV header comes with the first), or `None` when
    /// every event up to the head is out.
    pub async fn next_chunk(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        let page = if self.after < self.head.position {
            self.store.read_up_to(self.after, self.head.position, PAGE).await.context("Failed to read the event log")?
        } else {
            Vec::new()
        };
        if page.is_empty() && !self.header_due {
            return Ok(None);
        }
        let chunk = match self.format {
            Format::Jsonl => {
                let mut out = Vec::new();
                for event in &page {
                    serde_json::to_writer(&mut out, &ExportedEvent::from(event))?;
                    out.push(b'\n');
                }
                out
            }
            Format::Csv => {
                let mut out = csv::Writer::from_writer(Vec::new());
                if std::mem::take(&mut self.header_due) {
                    out.write_record(COLUMNS)?;
                }
                for event in &page {
                    out.write_record(row(event)?)?;
                }
                out.into_inner().map_err(|error| error.into_error())?
            }
        };
        self.after = page.last().map_or(self.head.position, |event| event.position);
        Ok(Some(chunk))
    }

    /// The head the export ends at: its last event's position and hash.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// How many events are out so far.
    pub fn exported(&self) -> u64 {
        self.after
    }
}

/// One event as an object: its envelope, the actor and payload as JSON values.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedEvent<'a> {
    /// Its position in the log, from 1.
    pub position: u64,
    /// The stream (aggregate) it belongs to.
    pub stream_id: &'a str,
    /// Its version within the stream, from 1.
    pub stream_version: u64,
    /// What happened (`grant.approved`, …; docs/events.md lists them).
    pub event_type: &'a str,
    /// The version of its payload's schema.
    pub schema_version: u32,
    /// When it happened.
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// Who caused it.
    pub actor: Actor,
    /// The W3C trace id of the request that caused it.
    #[schema(required = true)]
    pub trace_id: Option<&'a str>,
    /// Its chain hash (hex): SHA-256 over the previous hash and this envelope.
    pub hash: String,
    /// What happened, in the event type's own fields.
    #[schema(value_type = Object)]
    pub payload: &'a serde_json::Value,
}

impl<'a> From<&'a RecordedEvent> for ExportedEvent<'a> {
    fn from(event: &'a RecordedEvent) -> Self {
        Self {
            position: event.position,
            stream_id: &event.stream_id,
            stream_version: event.stream_version,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            occurred_at: timestamp(event.occurred_at),
            actor: event.actor,
            trace_id: event.trace_id.as_deref(),
            hash: event.hash.to_string(),
            payload: &event.payload,
        }
    }
}

fn row(event: &RecordedEvent) -> anyhow::Result<[String; 10]> {
    Ok([
        event.position.to_string(),
        event.stream_id.clone(),
        event.stream_version.to_string(),
        event.event_type.clone(),
        event.schema_version.to_string(),
        timestamp(event.occurred_at),
        serde_json::to_string(&event.actor)?,
        event.trace_id.clone().unwrap_or_default(),
        event.hash.to_string(),
        serde_json::to_string(&event.payload)?,
    ])
}
