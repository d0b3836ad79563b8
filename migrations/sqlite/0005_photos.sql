-- Faji's protected resources: owners' photos. Not events: the photos are the resource
-- server's data; the grants that cover them are the log's.
CREATE TABLE photos (
    photo_id     TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL,
    title        TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL
);
CREATE INDEX photos_by_owner ON photos (owner_id);
