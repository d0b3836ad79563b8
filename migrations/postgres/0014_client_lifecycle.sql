-- What operators change of a client, kept in its row: why it is suspended, and the
-- previous secret a rotation with a grace period keeps working until a time. Before
-- this migration nothing could suspend a client or rotate its secret, so NULL is right
-- for every existing row.
ALTER TABLE clients ADD COLUMN suspension_reason TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_fingerprint TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_until TEXT;
