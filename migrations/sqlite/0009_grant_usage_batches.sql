-- Which batches of use counts have been added, so a batch retried after a failure
-- whose commit may have landed anyway (a connection lost while committing) is added
-- at most once. Rows older than an hour are pruned as new batches are written: a
-- process retries a failed batch within seconds.
CREATE TABLE grant_usage_batches (
    batch_id   TEXT PRIMARY KEY,
    written_at TEXT NOT NULL -- RFC 3339
);
CREATE INDEX grant_usage_batches_written_at ON grant_usage_batches (written_at);
