//! Each owner's photo list, read once per process: `GET /api/photos` and the consent
//! page read it on every request, and photos are written only by the demo's seed, before
//! a process serves. (An upload API would have to tell every process, through the log.)
//! Which photos a grant covers is still decided from the grant's row on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use grantlog_store::photos::{Photo, photos_of};
use grantlog_store::{SideTables, StoreError};
use uuid::Uuid;

/// How many owners' lists are kept; past it the cache starts again empty.
const MOST_KEPT: usize = 100_000;

/// Photo lists by owner.
#[derive(Debug, Default)]
pub struct PhotoLists {
    lists: Mutex<HashMap<Uuid, Arc<[Photo]>>>,
}

impl PhotoLists {
    /// `owner`'s photos, by id.
    pub async fn of(&self, pool: &SideTables, owner: Uuid) -> Result<Arc<[Photo]>, StoreError> {
        if let Some(list) = self.lists().get(&owner) {
            return Ok(list.clone());
        }
        let list: Arc<[Photo]> = photos_of(pool, owner).await?.into();
        let mut lists = self.lists();
        if lists.len() >= MOST_KEPT {
            lists.clear();
        }
        lists.insert(owner, list.clone());
        Ok(list)
    }

    fn lists(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<[Photo]>>> {
        // Nothing panics while holding the lock; a poisoned one is still sound.
        self.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
