-- Signed checkpoints of the Merkle tree (C2SP tlog-checkpoint as a signed note), one per
-- tree size: the primary key is what makes two checkpoints of one size with different
-- roots impossible. Kept, so that "the checkpoint in force at time T" has an answer.
CREATE TABLE checkpoints (
    tree_size INTEGER PRIMARY KEY,
    root      BLOB    NOT NULL,
    note      TEXT    NOT NULL,
    signed_at TEXT    NOT NULL
);
CREATE INDEX checkpoints_by_time ON checkpoints (signed_at);

CREATE TRIGGER checkpoints_refuse_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE refused');
END;

CREATE TRIGGER checkpoints_refuse_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE refused');
END;
