-- Read models folded from the events (grantlog-projection). Written in the same
-- transaction as the events that change them; rebuildable from the log at any time
-- (`grantlog projection rebuild`), so nothing here is the truth.

CREATE TABLE clients (
    client_id          TEXT    PRIMARY KEY,
    consumer_key       TEXT    NOT NULL UNIQUE, -- unique across streams: enforced here
    name               TEXT    NOT NULL,
    homepage           TEXT,
    callbacks          TEXT    NOT NULL, -- JSON array of patterns
    rsa_public_key     TEXT,
    secret_fingerprint TEXT    NOT NULL,
    active             BIGINT  NOT NULL,
    registered_at      TEXT    NOT NULL,
    position           BIGINT  NOT NULL  -- last event applied
);

CREATE TABLE owners (
    owner_id      TEXT    PRIMARY KEY,
    erased        BIGINT  NOT NULL,
    registered_at TEXT    NOT NULL,
    position      BIGINT  NOT NULL
);

CREATE TABLE grants (
    grant_id          TEXT    PRIMARY KEY,
    client_id         TEXT    NOT NULL,
    owner_id          TEXT,
    request_token     TEXT    NOT NULL UNIQUE,
    access_token      TEXT    UNIQUE,
    callback          TEXT    NOT NULL,
    requested_scope   TEXT    NOT NULL,
    scope             TEXT,
    resources         TEXT    NOT NULL, -- JSON array
    duration          TEXT,
    remembered        BIGINT  NOT NULL,
    status            TEXT    NOT NULL, -- as recorded; expiry by the clock is decided at read time
    status_since      TEXT    NOT NULL,
    expires_at        TEXT,             -- when the current credentials run out, if ever
    issued_at         TEXT    NOT NULL,
    approved_at       TEXT,
    position          BIGINT  NOT NULL
);
CREATE INDEX grants_by_owner ON grants (owner_id);
CREATE INDEX grants_by_client ON grants (client_id);

-- How far each read model has applied the log.
CREATE TABLE projection_checkpoints (
    name     TEXT    PRIMARY KEY,
    position BIGINT  NOT NULL
);
INSERT INTO projection_checkpoints (name, position) VALUES ('tables', 0);
