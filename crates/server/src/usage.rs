//! Use counts, gathered in memory and written in one transaction at a time: every
//! second while serving, when the server stops, and before an owner's page reads them.
//! Writing one row per request cost a signed request about a fifth of its throughput
//! on SQLite (docs/benchmarks.md). The price: a page served by another process may lag
//! by up to a second, and a crash loses at most the last second's counts.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use grantlog_store::SideTables;
use grantlog_store::StoreError;
use grantlog_store::usage::{Uses, record_uses};

/// How often a serving process writes what it counted.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Uses counted in this process and not yet written.
#[derive(Debug, Default)]
pub struct UsageCounter {
    pending: Mutex<HashMap<String, Uses>>,
    /// Held from taking the counts until they are written, so a flush waits for one
    /// under way: without it, an owner's page could flush while the periodic flush
    /// held her counts in hand, find nothing to write, and read the old numbers.
    /// Inside, the batch being written or whose write failed: it is retried as it
    /// was, under its id.
    writing: tokio::sync::Mutex<Option<Batch>>,
}

/// Counts taken together and written once, whatever the retries.
#[derive(Debug)]
struct Batch {
    id: uuid::Uuid,
    uses: Vec<Uses>,
}

impl UsageCounter {
    /// Counts one use of `grant_id` at `at`.
    pub fn count(&self, grant_id: &str, at: DateTime<Utc>) {
        self.add(Uses { grant_id: grant_id.to_owned(), count: 1, first: at, last: at });
    }

    /// Writes what was counted; when it returns, every use counted before the call is
    /// in the database. Counts taken for writing stay in `writing` until their commit
    /// is acknowledged, so a failed write, or a flush whose caller went away mid-write,
    /// leaves them for the next flush (their batch id keeps them from counting twice).
    pub async fn flush(&self, pool: &SideTables) -> Result<(), StoreError> {
        let mut unwritten = self.writing.lock().await;
        if let Some(batch) = unwritten.as_ref() {
            record_uses(pool, batch.id, &batch.uses, Utc::now()).await?;
            *unwritten = None;
        }
        let uses: Vec<Uses> = self.pending().drain().map(|(_, uses)| uses).collect();
        if uses.is_empty() {
            return Ok(());
        }
        let batch = unwritten.insert(Batch { id: uuid::Uuid::new_v4(), uses });
        record_uses(pool, batch.id, &batch.uses, Utc::now()).await?;
        *unwritten = None;
        Ok(())
    }

    fn add(&self, uses: Uses) {
        match self.pending().entry(uses.grant_id.clone()) {
            Entry::Occupied(mut entry) => {
                let pending = entry.get_mut();
                pending.count += uses.count;
                pending.first = pending.first.min(uses.first);
                pending.last = pending.last.max(uses.last);
            }
            Entry::Vacant(entry) => {
                entry.insert(uses);
            }
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Uses>> {
        // Counting never panics while holding the lock; a poisoned one is still sound.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use grantlog_store::testing::TestDatabase;
    use grantlog_store::usage::usage_of;

    use super::*;

    grantlog_store::backend_tests!(
        a_flush_returns_only_once_what_another_flush_took_is_written,
        what_a_failed_flush_held_is_written_by_the_next,
        what_an_abandoned_flush_held_is_written_by_the_next
    );

    /// Another writer's open transaction that has added one use of grant `g`: a flush
    /// of `g` waits on it until it commits.
    async fn holding_the_row_of_g(pool: &grantlog_store::AnyPool) -> sqlx::Transaction<'static, sqlx::Any> {
        let mut other_writer = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO grant_usage VALUES ('g', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
            .execute(&mut *other_writer)
            .await
            .unwrap();
        other_writer
    }

    async fn what_an_abandoned_flush_held_is_written_by_the_next(database: TestDatabase) {
        let store = database.store().await;
        let (pool, tables) = (store.reader().clone(), store.side_tables().clone());
        let counter = UsageCounter::default();
        counter.count("g", Utc::now());
        // Stalled behind another writer, the flush is dropped mid-write, as actix drops a
        // page's handler when its visitor goes away.
        let other_writer = holding_the_row_of_g(&pool).await;
        let abandoned = tokio::time::timeout(std::time::Duration::from_millis(200), counter.flush(&tables)).await;
        assert!(abandoned.is_err(), "the flush was still waiting");
        other_writer.commit().await.unwrap();
        counter.flush(&tables).await.unwrap();
        assert_eq!(usage_of(&tables, &["g".to_owned()]).await.unwrap()["g"].count, 2);
    }

    async fn what_a_failed_flush_held_is_written_by_the_next(database: TestDatabase) {
        let store = database.store().await;
        let closed = database.store().await;
        closed.close().await;
        let counter = UsageCounter::default();
        counter.count("g", Utc::now());
        assert!(counter.flush(closed.side_tables()).await.is_err());
        counter.count("g", Utc::now());
        counter.flush(store.side_tables()).await.unwrap();
        assert_eq!(usage_of(store.side_tables(), &["g".to_owned()]).await.unwrap()["g"].count, 2);
        counter.flush(store.side_tables()).await.unwrap();
        assert_eq!(usage_of(store.side_tables(), &["g".to_owned()]).await.unwrap()["g"].count, 2, "written once");
    }

    async fn a_flush_returns_only_once_what_another_flush_took_is_written(database: TestDatabase) {
        let store = database.store().await;
        let (pool, tables) = (store.reader().clone(), store.side_tables().clone());
        let counter = Arc::new(UsageCounter::default());
        counter.count("g", Utc::now());
        // Another writer's open transaction on the same row stalls the first flush
        // with the count taken out of memory but not yet written.
        let other_writer = holding_the_row_of_g(&pool).await;
        let first = tokio::spawn({
            let (counter, tables) = (counter.clone(), tables.clone());
            async move { counter.flush(&tables).await }
        });
        while !counter.pending().is_empty() {
            tokio::task::yield_now().await;
        }

        let second = counter.flush(&tables);
        tokio::pin!(second);
        tokio::select! {
            biased;
            _ = &mut second => panic!("the second flush returned while the first still held the count"),
            () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
        }
        other_writer.commit().await.unwrap();
        second.await.unwrap();
        assert_eq!(usage_of(&tables, &["g".to_owned()]).await.unwrap()["g"].count, 2);
        first.await.unwrap().unwrap();
    }

    #[test]
    fn uses_of_a_grant_add_up_with_their_first_and_last() {
        let counter = UsageCounter::default();
        let at = |second| DateTime::<Utc>::from_timestamp(second, 0).unwrap();
        counter.count("a", at(5));
        counter.count("a", at(3));
        counter.count("b", at(4));
        counter.add(Uses { grant_id: "a".to_owned(), count: 2, first: at(4), last: at(9) });
        let mut pending: Vec<Uses> = counter.pending().values().cloned().collect();
        pending.sort_by(|x, y| x.grant_id.cmp(&y.grant_id));
        assert_eq!(
            pending,
            [
                Uses { grant_id: "a".to_owned(), count: 4, first: at(3), last: at(9) },
                Uses { grant_id: "b".to_owned(), count: 1, first: at(4), last: at(4) },
            ]
        );
    }
}
