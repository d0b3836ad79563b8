-- Refuse an INSERT into the log that is not the next position, or that claims a
-- position the chain head has not handed out (which also stops INSERT OR REPLACE from
-- overwriting an event: its position is never the next one).
CREATE TRIGGER events_refuse_out_of_order BEFORE INSERT ON events
WHEN NEW.position <> (SELECT COALESCE(MAX(position), 0) FROM events) + 1
  OR NEW.position > (SELECT position FROM chain_head WHERE id = 1)
  OR NEW.stream_version < 1
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: out-of-order INSERT refused');
END;
