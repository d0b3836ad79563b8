-- Nonces seen within the timestamp window: a (client, token, timestamp, nonce) is
-- accepted once, in every process sharing the database. Not events: a nonce records
-- nothing an auditor needs, and rows older than the window are pruned.
CREATE TABLE nonces (
    client_key TEXT    NOT NULL,
    token      TEXT    NOT NULL, -- '' for requests without a token
    timestamp  INTEGER NOT NULL,
    nonce      TEXT    NOT NULL,
    PRIMARY KEY (client_key, token, timestamp, nonce)
);
CREATE INDEX nonces_by_timestamp ON nonces (timestamp);
