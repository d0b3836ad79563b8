-- How often and when each grant's access token was used. Operational counters, not
-- events: a fetch changes no grant, and an event per request would grow the log with
-- traffic. The owner's grants page and a grant's timeline read them.
CREATE TABLE grant_usage (
    grant_id      TEXT    PRIMARY KEY,
    use_count     BIGINT  NOT NULL,
    first_used_at TEXT    NOT NULL, -- RFC 3339
    last_used_at  TEXT    NOT NULL  -- RFC 3339
);
