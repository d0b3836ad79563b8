-- The RFC 6962 Merkle tree over the log (docs/audit.md): the hash of every complete
-- subtree, 2^level leaves from leaf index idx * 2^level, written in the append's
-- transaction when its last leaf is appended, never changed. A proof or a root reads
-- at most two of them per level. Leaf index = position - 1.
CREATE TABLE merkle_nodes (
    level BIGINT   NOT NULL,
    idx   BIGINT   NOT NULL,
    hash  BYTEA    NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE FUNCTION grantlog_refuse_merkle_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the Merkle tree is append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER merkle_nodes_refuse_update_delete BEFORE UPDATE OR DELETE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION grantlog_refuse_merkle_change();
CREATE TRIGGER merkle_nodes_refuse_truncate BEFORE TRUNCATE ON merkle_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION grantlog_refuse_merkle_change();
