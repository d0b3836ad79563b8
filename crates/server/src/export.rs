//! `grantlog audit export`: every event, in log order, with its whole envelope — the
//! fields the hash chain covers and the hash itself — for auditors' own tools. JSON
//! Lines (one object per event) or CSV (the actor and the payload as JSON text). Read
//! and written a page at a time, so a long log needs no more memory than a short one.

use std::io::Write;

use anyhow::Context as _;
use grantlog_projection::tables::timestamp;
use grantlog_store::{EventStore, RecordedEvent};

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
pub async fn export(store: &EventStore, format: Format, out: impl Write) -> anyhow::Result<u64> {
    let mut sink = match format {
        Format::Jsonl => Sink::Jsonl(std::io::BufWriter::new(out)),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(COLUMNS)?;
            Sink::Csv(Box::new(writer))
        }
    };
    // Up to the recorded head only, and not at all when rows lie past it.
    let head = store.sealed_head().await.context("Failed to read the event log")?;
    let mut after = 0;
    while after < head.position {
        let page = store.read_up_to(after, head.position, PAGE).await.context("Failed to read the event log")?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            sink.write(event)?;
        }
    }
    sink.flush()?;
    Ok(after)
}

/// Where the events go, in their format.
enum Sink<W: Write> {
    Jsonl(std::io::BufWriter<W>),
    // Boxed: the CSV writer carries its own buffer, many times the JSON side's size.
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> Sink<W> {
    fn write(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        match self {
            Self::Jsonl(out) => {
                serde_json::to_writer(&mut *out, &event_json(event)?)?;
                out.write_all(b"\n")?;
            }
            Self::Csv(out) => out.write_record(row(event)?)?,
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Jsonl(out) => out.flush(),
            Self::Csv(out) => out.flush(),
        }
    }
}

/// One event as an object: its envelope, the actor and payload as JSON values.
pub fn event_json(event: &RecordedEvent) -> serde_json::Result<serde_json::Value> {
    Ok(serde_json::json!({
        "position": event.position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "occurred_at": timestamp(event.occurred_at),
        "actor": serde_json::to_value(event.actor)?,
        "trace_id": event.trace_id,
        "hash": event.hash.to_string(),
        "payload": event.payload,
    }))
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
