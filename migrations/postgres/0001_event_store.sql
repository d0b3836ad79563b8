-- The event log: append-only, one row per event, position gap-free from 1.
CREATE TABLE events (
    position       BIGINT PRIMARY KEY,
    stream_id      TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    event_type     TEXT   NOT NULL,
    schema_version BIGINT NOT NULL,
    payload        TEXT   NOT NULL, -- canonical JSON, exactly the bytes the hash covers (cast to jsonb to query)
    occurred_at    TEXT   NOT NULL, -- RFC 3339, UTC, microseconds (cast to timestamptz to query)
    actor          TEXT   NOT NULL, -- JSON
    trace_id       TEXT,
    hash           TEXT   NOT NULL, -- hex SHA-256 over the previous hash and this envelope
    CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version)
);

CREATE FUNCTION grantlog_refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION grantlog_refuse_event_change();
CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION grantlog_refuse_event_change();

-- The last position and hash. Every append updates this one row first, which
-- serialises appends: positions are handed out in commit order, so a reader that
-- follows positions never skips an event that commits later (no sequence gaps).
CREATE TABLE chain_head (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    position BIGINT NOT NULL,
    hash     TEXT   NOT NULL
);
INSERT INTO chain_head (id, position, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Secrets, apart from the events and encrypted (XChaCha20-Poly1305); wiping a row
-- crypto-shreds the secret without touching the log.
CREATE TABLE secrets (
    id         TEXT  PRIMARY KEY,
    key_id     TEXT  NOT NULL,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL
);

-- Personal data, apart from the events, which name owners by pseudonymous id only.
CREATE TABLE owner_profiles (
    owner_id      TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
