//! Use counts, gathered in memory and written in one transaction at a time: every
//! second while serving, when the server stops, and before an owner's page reads them.
//! Writing one row per request cost a signed request about a fifth of its throughput
//! on SQLite (docs/benchmarks.md). The price: a page served by another process may lag
//! by up to a second, and a crash loses at most the last second's counts.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use grantlog_store::AnyPool;
use grantlog_store::StoreError;
use grantlog_store::usage::{Uses, record_uses};

/// How often a serving process writes what it counted.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Uses counted in this process and not yet written.
#[derive(Debug, Default)]
pub struct UsageCounter {
    pending: Mutex<HashMap<String, Uses>>,
}

impl UsageCounter {
    /// Counts one use of `grant_id` at `at`.
    pub fn count(&self, grant_id: &str, at: DateTime<Utc>) {
        self.add(Uses { grant_id: grant_id.to_owned(), count: 1, first: at, last: at });
    }

    /// Writes what was counted. On failure the counts are kept for the next try.
    pub async fn flush(&self, pool: &AnyPool) -> Result<(), StoreError> {
        let taken: Vec<Uses> = self.pending().drain().map(|(_, uses)| uses).collect();
        if taken.is_empty() {
            return Ok(());
        }
        let written = record_uses(pool, &taken).await;
        if written.is_err() {
            taken.into_iter().for_each(|uses| self.add(uses));
        }
        written
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
    use super::*;

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
