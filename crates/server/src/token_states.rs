//! Access tokens' grant and client rows kept in memory, following the log.
//!
//! A signed resource request needs its token's grant (status, expiry, scope, photos) and
//! the grant's client (active or suspended). Reading them is a statement per request;
//! here each process keeps the rows it has read, valid as of a log position it knows
//! ([`TokenStates::known`]). Every nonce batch reports the log's head as of after its
//! write; a request whose batch saw a head past what is known first has the events in
//! between read, and every kept row of a stream they touch dropped, and then answers
//! from a row as new as its batch, read again if it was dropped. So a revocation or a
//! suspension committed before a request's nonce batch began refuses that request on
//! every process — the same guarantee as reading the rows for every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use grantlog_domain::{ClientId, GrantId};
use grantlog_projection::tables::{ClientRow, GrantRow};
use grantlog_store::{EventStore, StoreError};

/// Events read per page while catching up.
const PAGE: u32 = 1_000;

/// A token's grant and its client, as read together.
pub type TokenState = Arc<(GrantRow, ClientRow)>;

/// The rows kept, by token, and the log position they are good as of.
#[derive(Debug)]
pub struct TokenStates {
    kept: Mutex<Kept>,
    catching_up: tokio::sync::Mutex<()>,
    most: usize,
}

#[derive(Debug, Default)]
struct Kept {
    /// Every event at or below this position has been seen: no kept row is older.
    known: u64,
    by_token: HashMap<String, TokenState>,
    /// The tokens kept under each grant's and client's stream, to drop on an event.
    tokens_of_stream: HashMap<String, Vec<String>>,
}

impl Default for TokenStates {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl TokenStates {
    /// Keeps at most `most` tokens' rows; past it, it starts again empty.
    pub fn new(most: usize) -> Self {
        Self { kept: Mutex::default(), catching_up: tokio::sync::Mutex::new(()), most: most.max(1) }
    }

    /// The rows kept for `token`, and the position up to which the log was seen.
    pub fn get(&self, token: &str) -> (Option<TokenState>, u64) {
        let kept = self.kept();
        (kept.by_token.get(token).cloned(), kept.known)
    }

    /// Keeps `state`, read from the database after the log was seen up to `known_before`:
    /// only if nothing was seen since, since an event seen meanwhile may be newer than
    /// the rows read (the next request reads them again).
    pub fn keep(&self, token: &str, state: TokenState, known_before: u64) {
        let mut kept = self.kept();
        if kept.known != known_before {
            return;
        }
        if kept.by_token.len() >= self.most {
            kept.by_token.clear();
            kept.tokens_of_stream.clear();
        }
        let (grant, client) = &*state;
        for stream in [stream_of_grant(&grant.grant_id), stream_of_client(&client.client_id)] {
            kept.tokens_of_stream.entry(stream).or_default().push(token.to_owned());
        }
        kept.by_token.insert(token.to_owned(), state);
    }

    /// Whether `state` is still what is kept for `token`: no event seen since it was
    /// kept touched its grant or client.
    pub fn still_holds(&self, token: &str, state: &TokenState) -> bool {
        self.kept().by_token.get(token).is_some_and(|kept| Arc::ptr_eq(kept, state))
    }

    /// Reads the events after what is known up to `head` and drops every kept row of a
    /// stream they touch.
    pub async fn catch_up(&self, store: &EventStore, head: u64) -> Result<(), StoreError> {
        if self.kept().known >= head {
            return Ok(());
        }
        let _one_at_a_time = self.catching_up.lock().await;
        let mut after = self.kept().known;
        while after < head {
            let page = store.read_up_to(after, head, PAGE).await?;
            let Some(last) = page.last().map(|event| event.position) else { break };
            let mut kept = self.kept();
            for event in &page {
                for token in kept.tokens_of_stream.remove(&event.stream_id).unwrap_or_default() {
                    kept.by_token.remove(&token);
                }
            }
            kept.known = last;
            after = last;
        }
        let mut kept = self.kept();
        kept.known = kept.known.max(head);
        Ok(())
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Nothing panics while holding the lock; a poisoned one is still sound.
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn stream_of_grant(grant_id: &str) -> String {
    grant_id.parse().map_or_else(|_| format!("grant-{grant_id}"), |id| GrantId::new(id).stream_id())
}

fn stream_of_client(client_id: &str) -> String {
    client_id.parse().map_or_else(|_| format!("client-{client_id}"), |id| ClientId::new(id).stream_id())
}
