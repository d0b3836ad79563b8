-- Owners' login sessions. The cookie carries a random id; only its SHA-256 is kept, so
-- a copy of this table logs nobody in. Not events: a session records nothing an
-- auditor needs (the grant's owner.authenticated event does).
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
