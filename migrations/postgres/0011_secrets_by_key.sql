-- Sealing a secret checks that no stored secret is under another key (a rotation
-- committed meanwhile): two range scans of this index, not of the table.
CREATE INDEX secrets_by_key ON secrets (key_id);
