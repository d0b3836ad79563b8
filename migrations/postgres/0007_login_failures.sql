-- Failed logins per account and per address, shared by every process on this database,
-- so a throttle cannot be dodged by spreading guesses over servers.
CREATE TABLE login_failures (
    throttle_key TEXT    PRIMARY KEY, -- 'user:<name>' or 'address:<ip>'
    failures     BIGINT  NOT NULL,
    since        TEXT    NOT NULL      -- start of the current window, RFC 3339
);
