-- Signed checkpoints of the Merkle tree (C2SP tlog-checkpoint as a signed note), one per
-- tree size: the primary key is what makes two checkpoints of one size with different
-- roots impossible. Kept, so that "the checkpoint in force at time T" has an answer.
CREATE TABLE checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root      BYTEA  NOT NULL,
    note      TEXT   NOT NULL,
    signed_at TEXT   NOT NULL
);
CREATE INDEX checkpoints_by_time ON checkpoints (signed_at);

CREATE FUNCTION grantlog_refuse_checkpoint_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'checkpoints are append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER checkpoints_refuse_update_delete BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION grantlog_refuse_checkpoint_change();
CREATE TRIGGER checkpoints_refuse_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION grantlog_refuse_checkpoint_change();
