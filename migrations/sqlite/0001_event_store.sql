-- The event log: append-only, one row per event, position gap-free from 1.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        TEXT    NOT NULL, -- canonical JSON, exactly the bytes the hash covers
    occurred_at    TEXT    NOT NULL, -- RFC 3339, UTC, microseconds
    actor          TEXT    NOT NULL, -- JSON
    trace_id       TEXT,
    hash           TEXT    NOT NULL, -- hex SHA-256 over the previous hash and this envelope
    CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version)
);

CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE refused');
END;

CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE refused');
END;

-- The last position and hash. Every append updates this one row first, which
-- serialises appends: positions are handed out in commit order, so a reader that
-- follows positions never skips an event that commits later.
CREATE TABLE chain_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    hash     TEXT    NOT NULL
);
INSERT INTO chain_head (id, position, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Secrets, apart from the events and encrypted (XChaCha20-Poly1305); wiping a row
-- crypto-shreds the secret without touching the log.
CREATE TABLE secrets (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL
);

-- Personal data, apart from the events, which name owners by pseudonymous id only.
CREATE TABLE owner_profiles (
    owner_id      TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
