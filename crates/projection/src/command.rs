//! Running a command: load the stream, fold its record, let the domain decide, append
//! the events with their envelope — and, in the same transaction, write the record's
//! read-model row, so the read models are never behind the log.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_core::future::BoxFuture;
use grantlog_domain::{Actor, Aggregate, Event};
use grantlog_store::{AnyConnection, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError};

use crate::error::ProjectionError;
use crate::record::{ClientRecord, GrantRecord, OwnerRecord, Record};
use crate::tables::{self, CHECKPOINT, ClientRow, GrantRow, OwnerRow, SqlRow};

/// How often a command is retried when its stream moved under it.
const ATTEMPTS: usize = 3;

/// The envelope of the events a command causes: when (the command's `now`, which the
/// domain also used), who, and which request.
#[derive(Debug, Clone)]
pub struct Context {
    /// When; also the `now` inside the command.
    pub now: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// The request's trace id.
    pub trace_id: Option<String>,
}

/// A record with a read-model row.
pub trait Projected: Record {
    /// Writes the record's row, if it has one yet.
    fn write<'c>(&'c self, connection: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), sqlx::Error>>;
}

impl Projected for ClientRecord {
    fn write<'c>(&'c self, connection: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(upsert_row(connection, ClientRow::of(self)))
    }
}

impl Projected for OwnerRecord {
    fn write<'c>(&'c self, connection: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(upsert_row(connection, OwnerRow::of(self)))
    }
}

impl Projected for GrantRecord {
    fn write<'c>(&'c self, connection: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(upsert_row(connection, GrantRow::of(self)))
    }
}

/// Writes `row`, when the record has one yet.
async fn upsert_row<R: SqlRow>(connection: &mut AnyConnection, row: Option<R>) -> Result<(), sqlx::Error> {
    match row {
        Some(row) => tables::upsert(connection, &row).await,
        None => Ok(()),
    }
}

impl Context {
    /// `event` in its envelope: stored as of this context's time, actor and trace.
    pub fn envelope(&self, event: &Event) -> NewEvent {
        NewEvent {
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            payload: event.payload(),
            occurred_at: self.now,
            actor: self.actor,
            trace_id: self.trace_id.clone(),
        }
    }
}

/// Runs `command` against the stream `stream_id`, whose record type is `R`: returns the
/// record after the command and the events recorded (none when the command changed
/// nothing). The read-model row is written in the append's transaction. Retried when
/// another writer got to the stream first.
pub async fn execute<R: Projected>(
    store: &EventStore,
    stream_id: &str,
    command: &<R::State as Aggregate>::Command,
    context: &Context,
) -> Result<(R, Vec<RecordedEvent>), ProjectionError> {
    execute_with(store, stream_id, command, context, Arc::new(|_| Box::pin(async { Ok(()) }))).await
}

/// Writes that belong to a command's transaction besides its events and rows: a new
/// client's sealed secret, a new owner's profile. Called once per attempt.
pub type AlsoWrite = Arc<dyn for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, Result<(), StoreError>> + Send + Sync>;

/// Like [`execute`], and runs `also` in the same transaction, so that data kept apart
/// from the events (secrets, personal data) is written exactly when the events are.
pub async fn execute_with<R: Projected>(
    store: &EventStore,
    stream_id: &str,
    command: &<R::State as Aggregate>::Command,
    context: &Context,
    also: AlsoWrite,
) -> Result<(R, Vec<RecordedEvent>), ProjectionError> {
    for _ in 0..ATTEMPTS {
        let history = store.read_stream(stream_id).await?;
        let record = R::fold(&history)?;
        let (_, events) = record.state().execute(command)?;
        if events.is_empty() {
            return Ok((record, Vec::new()));
        }
        let new_events: Vec<NewEvent> = events.iter().map(|event| context.envelope(event)).collect();
        let expected = ExpectedVersion::Exactly(history.len() as u64);
        let before = record.clone();
        let decided = events.clone();
        let also = Arc::clone(&also);
        let inline: grantlog_store::InlineHook<'_> = Box::new(move |connection, recorded| {
            Box::pin(async move {
                let after = applied(before, recorded, &decided);
                after.write(connection).await?;
                advance_checkpoint(connection, recorded).await?;
                also(connection).await
            })
        });
        match store.append_with(stream_id, expected, &new_events, inline).await {
            Ok(recorded) => return Ok((applied(record, &recorded, &events), recorded)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::Database(error)) if is_consumer_key_taken(&error) => {
                return Err(ProjectionError::ConsumerKeyTaken);
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ProjectionError::Busy(stream_id.to_owned()))
}

fn applied<R: Record>(mut record: R, recorded: &[RecordedEvent], events: &[Event]) -> R {
    for (stored, event) in recorded.iter().zip(events) {
        record.apply(stored, event);
    }
    record
}

/// Moves the tables' checkpoint past `recorded` — only if it stood right before them.
/// Otherwise events were appended without the read models (by a tool using the bare
/// store), and [`crate::catch_up`] must see them first.
async fn advance_checkpoint(connection: &mut AnyConnection, recorded: &[RecordedEvent]) -> Result<(), sqlx::Error> {
    let (Some(first), Some(last)) = (recorded.first(), recorded.last()) else {
        return Ok(());
    };
    sqlx::query("UPDATE projection_checkpoints SET position = $1 WHERE name = $2 AND position = $3")
        .bind(i64::try_from(last.position).expect("positions stay below 2^63"))
        .bind(CHECKPOINT)
        .bind(i64::try_from(first.position - 1).expect("positions stay below 2^63"))
        .execute(connection)
        .await?;
    Ok(())
}

/// The `clients.consumer_key` unique constraint: consumer keys span streams, so the
/// read model, written in the same transaction, is what keeps them unique.
fn is_consumer_key_taken(error: &sqlx::Error) -> bool {
    grantlog_store::is_unique_violation(error)
        && error.as_database_error().is_some_and(|db| {
            db.constraint() == Some("clients_consumer_key_key") || db.message().contains("clients.consumer_key")
        })
}
