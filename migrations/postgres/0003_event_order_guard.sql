-- Refuse an INSERT into the log that is not the next position, or that claims a
-- position the chain head has not handed out. (Rows of one multi-row INSERT see the
-- rows inserted before them, so a command's batch passes row by row.)
CREATE FUNCTION grantlog_refuse_out_of_order_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.position <> (SELECT COALESCE(MAX(position), 0) FROM events) + 1
       OR NEW.position > (SELECT position FROM chain_head WHERE id = 1)
       OR NEW.stream_version < 1 THEN
        RAISE EXCEPTION 'events are append-only: out-of-order INSERT refused';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER events_refuse_out_of_order BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION grantlog_refuse_out_of_order_event();
