-- The RFC 6962 Merkle tree over the log (docs/audit.md): the hash of every complete
-- subtree, 2^level leaves from leaf index idx * 2^level, written in the append's
-- transaction when its last leaf is appended, never changed. A proof or a root reads
-- at most two of them per level. Leaf index = position - 1.
CREATE TABLE merkle_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TRIGGER merkle_nodes_refuse_update BEFORE UPDATE ON merkle_nodes
BEGIN
    SELECT RAISE(ABORT, 'the Merkle tree is append-only: UPDATE refused');
END;

CREATE TRIGGER merkle_nodes_refuse_delete BEFORE DELETE ON merkle_nodes
BEGIN
    SELECT RAISE(ABORT, 'the Merkle tree is append-only: DELETE refused');
END;
