-- The expiry sweep looks for open grants whose credentials ran out; expiry times are
-- fixed-width RFC 3339 text, so they sort as time does.
CREATE INDEX grants_by_expiry ON grants (expires_at);
