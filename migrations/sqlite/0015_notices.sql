-- Revocation notices to clients (issue #16): operational data beside the log, not
-- events. A consumer reads the log from its stored position and queues a notice for
-- each revocation or expiry of a grant whose client has a notify_url; the queue and
-- the position move in one transaction, so a restart or a second process neither
-- loses a notice nor queues one twice. Delivery is at least once, in log order per
-- client: only a client's oldest pending notice is attempted.
CREATE TABLE consumer_positions (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
-- Starts at the head: events from before this migration are not announced.
INSERT INTO consumer_positions (name, position) SELECT 'notices', COALESCE(MAX(position), 0) FROM events;

CREATE TABLE notices (
    client_id       TEXT    NOT NULL,
    position        INTEGER  NOT NULL, -- the event's: the order per client
    event_type      TEXT    NOT NULL,
    grant_id        TEXT    NOT NULL,
    token           TEXT    NOT NULL,
    occurred_at     TEXT    NOT NULL,
    queued_at       TEXT    NOT NULL,
    state           TEXT    NOT NULL, -- pending, delivered or failed
    attempts        INTEGER  NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    first_attempt_at TEXT,          -- a day from here, it is given up
    last_error      TEXT,
    delivered_at    TEXT,
    PRIMARY KEY (client_id, position)
);
CREATE INDEX notices_due ON notices (state, next_attempt_at);
