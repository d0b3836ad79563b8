//! Tokens' grant and client rows kept in memory, following the log.
//!
//! A token-signed request needs its token's grant (status, expiry, scope, photos) and
//! the grant's client (active or suspended). Reading them is a statement per request;
//! here each process keeps the rows it has read, valid as of a log position it knows
//! (returned by [`TokenStates::get`]). Every nonce batch reports the log's head as of the batch's
//! beginning; a request whose batch saw a head past what is known first has the events in
//! between read, and every kept row of a stream they touch dropped, and then answers
//! from a row as new as its batch, read again if it was dropped. So a revocation or a
//! suspension committed before a request's nonce batch began refuses that request on
//! every process — the same guarantee as reading the rows for every request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

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
    /// Each token's rows, and the two streams (grant, client) it is listed under.
    by_token: HashMap<String, (TokenState, [String; 2])>,
    /// The tokens kept under each grant's and client's stream, to drop on an event.
    tokens_of_stream: HashMap<String, HashSet<String>>,
}

impl Kept {
    /// Drops every token listed under `stream`, from both of its streams.
    fn drop_stream(&mut self, stream: &str) {
        for token in self.tokens_of_stream.remove(stream).unwrap_or_default() {
            if let Some((_, streams)) = self.by_token.remove(&token) {
                for other in streams.iter().filter(|other| *other != stream) {
                    if let Some(tokens) = self.tokens_of_stream.get_mut(other) {
                        tokens.remove(&token);
                        if tokens.is_empty() {
                            self.tokens_of_stream.remove(other);
                        }
                    }
                }
            }
        }
    }
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
        (kept.by_token.get(token).map(|(state, _)| state.clone()), kept.known)
    }

    /// Keeps `state`, read from the database after the log was seen up to `known_before`:
    /// only if nothing was seen since, since an event seen meanwhile may be newer than
    /// the rows read (the next request reads them again).
    pub fn keep(&self, token: &str, state: TokenState, known_before: u64) {
        let mut kept = self.kept();
        if kept.known != known_before || kept.by_token.contains_key(token) {
            return;
        }
        if kept.by_token.len() >= self.most {
            kept.by_token.clear();
            kept.tokens_of_stream.clear();
        }
        let (grant, client) = &*state;
        let streams = [grant.grant_id.stream_id(), client.client_id.stream_id()];
        for stream in &streams {
            kept.tokens_of_stream.entry(stream.clone()).or_default().insert(token.to_owned());
        }
        kept.by_token.insert(token.to_owned(), (state, streams));
    }

    /// Whether `state` is still what is kept for `token`: no event seen since it was
    /// kept touched its grant or client.
    pub fn still_holds(&self, token: &str, state: &TokenState) -> bool {
        self.kept().by_token.get(token).is_some_and(|(kept, _)| Arc::ptr_eq(kept, state))
    }

    /// Reads the events after what is known up to `head` and drops every kept row of a
    /// stream they touch. With nothing kept there is nothing to drop, and what is known
    /// moves straight to `head` (a process's first request reads no history).
    pub async fn catch_up(&self, store: &EventStore, head: u64) -> Result<(), StoreError> {
        {
            let mut kept = self.kept();
            if kept.known >= head {
                return Ok(());
            }
            if kept.by_token.is_empty() {
                kept.known = head;
                return Ok(());
            }
        }
        let _one_at_a_time = self.catching_up.lock().await;
        let mut after = self.kept().known;
        while after < head {
            let page = store.read_up_to(after, head, PAGE).await?;
            let Some(last) = page.last().map(|event| event.position) else { break };
            let mut kept = self.kept();
            for event in &page {
                kept.drop_stream(&event.stream_id);
            }
            kept.known = kept.known.max(last);
            after = last;
        }
        let mut kept = self.kept();
        kept.known = kept.known.max(head);
        Ok(())
    }

    /// How many tokens' rows are kept, and under how many stream listings.
    pub fn size(&self) -> (usize, usize) {
        let kept = self.kept();
        (kept.by_token.len(), kept.tokens_of_stream.values().map(HashSet::len).sum())
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Nothing panics while holding the lock; a poisoned one is still sound.
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use grantlog_projection::tables::grant_and_client_by_token;
    use grantlog_projection::testing::story;
    use grantlog_store::testing::TestDatabase;
    use grantlog_store::{ExpectedVersion, NewEvent};

    use super::*;

    async fn kept_state(store: &EventStore, token: &str) -> TokenState {
        Arc::new(grant_and_client_by_token(store.reader(), token).await.unwrap().unwrap())
    }

    fn touching(stream: &str) -> (String, NewEvent) {
        let event = NewEvent {
            event_type: "test.touched".into(),
            schema_version: 1,
            payload: serde_json::json!({}),
            occurred_at: chrono::Utc::now(),
            actor: grantlog_domain::Actor::System,
            trace_id: None,
        };
        (stream.to_owned(), event)
    }

    #[tokio::test]
    async fn rows_are_kept_only_as_of_what_is_known_and_dropped_from_both_streams() {
        let database = TestDatabase::sqlite();
        let store = database.store().await;
        story(&store).await;
        let head = store.head().await.unwrap().position;
        let states = TokenStates::new(10);
        let state = kept_state(&store, "access-request-2").await;

        // Nothing kept: what is known moves to the head without reading the log.
        let (_, known) = states.get("access-request-2");
        states.catch_up(&store, head).await.unwrap();
        states.keep("access-request-2", state.clone(), known);
        assert_eq!(states.size(), (0, 0), "rows read before the log moved on are not kept");

        let (_, known) = states.get("access-request-2");
        states.keep("access-request-2", state.clone(), known);
        states.keep("access-request-1", kept_state(&store, "access-request-1").await, known);
        assert_eq!(states.size(), (2, 4), "listed under two grants and under their client");
        assert!(states.still_holds("access-request-2", &state));

        // An event on grant 2's stream drops it, from its client's listing too.
        let (stream, event) = touching(&state.0.grant_id.stream_id());
        store.append(&stream, ExpectedVersion::Any, &[event]).await.unwrap();
        states.catch_up(&store, head + 1).await.unwrap();
        assert!(!states.still_holds("access-request-2", &state));
        assert_eq!(states.size(), (1, 2));

        // An event on the client's stream drops every token of the client.
        let (stream, event) = touching(&state.1.client_id.stream_id());
        store.append(&stream, ExpectedVersion::Any, &[event]).await.unwrap();
        states.catch_up(&store, head + 2).await.unwrap();
        assert_eq!(states.size(), (0, 0));
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_size() {
        let database = TestDatabase::sqlite();
        let store = database.store().await;
        story(&store).await;
        let states = TokenStates::new(1);
        for token in ["access-request-1", "access-request-2", "access-request-1"] {
            let (_, known) = states.get(token);
            states.keep(token, kept_state(&store, token).await, known);
            assert!(states.size().0 <= 1, "{:?}", states.size());
        }
    }
}
