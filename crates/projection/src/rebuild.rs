//! Rebuilding the read models from position 0, and catching them up from their
//! checkpoint.

use std::collections::BTreeSet;

use grantlog_domain::{ClientId, GrantId, OwnerId};
use grantlog_store::{AnyConnection, EventStore};
use sqlx::Row;

use crate::command::Projected;
use crate::error::ProjectionError;
use crate::fold::{Horizon, Projection};
use crate::record::{ClientRecord, GrantRecord, OwnerRecord, Record};
use crate::tables::{CHECKPOINT, insert_all};

/// Events read per page.
const PAGE: u32 = 10_000;

/// Folds the log from position 0 up to `horizon`, never past the recorded head, and not
/// at all when rows lie past it ([`EventStore::sealed_head`]). Reading the next page
/// overlaps with folding the current one: reading and decoding rows costs several times
/// what the fold does, and the two run on different cores.
pub async fn fold(store: &EventStore, horizon: Horizon) -> Result<Projection, ProjectionError> {
    let end = match horizon {
        Horizon::Position(position) => position.min(store.sealed_head().await?.position),
        Horizon::Everything | Horizon::Time(_) => store.sealed_head().await?.position,
    };
    let (pages, mut received) = tokio::sync::mpsc::channel(2);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut after = 0;
            loop {
                let page = store.read_up_to(after, end, PAGE).await;
                let last = page.as_ref().ok().and_then(|page| page.last().map(|event| event.position));
                let done = match last {
                    None => true,
                    Some(last) => {
                        after = last;
                        last >= end
                    }
                };
                if pages.send(page).await.is_err() || done {
                    break;
                }
            }
        })
    };
    let mut projection = Projection::default();
    while let Some(page) = received.recv().await {
        for event in page?.iter().filter(|event| horizon.includes(event)) {
            projection.apply(event)?;
        }
    }
    reader.await.map_err(|error| ProjectionError::Store(grantlog_store::StoreError::inline(error)))?;
    Ok(projection)
}

/// What a rebuild or catch-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    /// Events read.
    pub events: u64,
    /// Rows written.
    pub rows: u64,
    /// The position the read models now stand at.
    pub position: u64,
}

/// Replaces every read-model row with what folding the whole log gives, in one
/// transaction that holds the append lock (appends wait; readers see the old rows until
/// it commits).
pub async fn rebuild(store: &EventStore) -> Result<Refreshed, ProjectionError> {
    let mut tx = store.lock_appends().await?;
    let projection = fold(store, Horizon::Everything).await?;
    for table in ["grants", "clients", "owners"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
    }
    // The tables were just emptied: plain multi-row INSERTs, several rows a statement.
    let tables = projection.tables();
    insert_all(&mut tx, &tables.clients).await?;
    insert_all(&mut tx, &tables.owners).await?;
    insert_all(&mut tx, &tables.grants).await?;
    let rows = (tables.clients.len() + tables.owners.len() + tables.grants.len()) as u64;
    set_checkpoint(&mut tx, projection.position()).await?;
    tx.commit().await?;
    Ok(Refreshed { events: projection.events(), rows, position: projection.position() })
}

/// Brings the read models up to the head from their checkpoint: every stream with
/// events past the checkpoint is re-folded and its row rewritten. Needed after events
/// were appended without the read models (a new read model, an older binary, a bulk
/// import); a no-op otherwise.
pub async fn catch_up(store: &EventStore) -> Result<Refreshed, ProjectionError> {
    let mut tx = store.lock_appends().await?;
    let checkpoint = checkpoint(&mut tx).await?;
    let head = store.sealed_head().await?;
    let mut streams = BTreeSet::new();
    let (mut after, mut events) = (checkpoint, 0);
    while after < head.position {
        let page = store.read_from(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        events += page.len() as u64;
        streams.extend(page.into_iter().map(|event| event.stream_id));
    }
    let mut rows = 0;
    for stream in &streams {
        let history = store.read_stream(stream).await?;
        rows += if GrantId::from_stream_id(stream).is_some() {
            write(&mut tx, &GrantRecord::fold(&history)?).await?
        } else if ClientId::from_stream_id(stream).is_some() {
            write(&mut tx, &ClientRecord::fold(&history)?).await?
        } else if OwnerId::from_stream_id(stream).is_some() {
            write(&mut tx, &OwnerRecord::fold(&history)?).await?
        } else {
            0
        };
    }
    set_checkpoint(&mut tx, after).await?;
    tx.commit().await?;
    Ok(Refreshed { events, rows, position: after })
}

/// The position the read models stand at.
pub async fn checkpoint(connection: &mut AnyConnection) -> Result<u64, ProjectionError> {
    let row = sqlx::query("SELECT position FROM projection_checkpoints WHERE name = $1")
        .bind(CHECKPOINT)
        .fetch_one(connection)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("position")?).unwrap_or(0))
}

async fn set_checkpoint(connection: &mut AnyConnection, position: u64) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE projection_checkpoints SET position = $1 WHERE name = $2")
        .bind(i64::try_from(position).expect("positions stay below 2^63"))
        .bind(CHECKPOINT)
        .execute(connection)
        .await?;
    Ok(())
}

async fn write<R: Projected>(connection: &mut AnyConnection, record: &R) -> Result<u64, ProjectionError> {
    record.write(connection).await?;
    Ok(1)
}
