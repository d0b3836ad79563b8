-- What operators change of a client, kept in its row: why it is suspended, the previous
-- secret a rotation with a grace period keeps working until a time, and where it
-- receives revocation notices. Before this migration nothing could set any of them, so
-- NULL is right for every existing row.
ALTER TABLE clients ADD COLUMN suspension_reason TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_fingerprint TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_until TEXT;
ALTER TABLE clients ADD COLUMN notify_url TEXT;
