-- A projector's batch moves its tracking position in one statement, sent with the batch's
-- rows in one round trip (projections/engine/view_recorder.py, decision 0050): it locks the
-- tracking row, refuses (SQLSTATE CA001, nothing of the batch is written) when the row is not
-- where this writer left it, and records the new position. Sent first, so that a refusal
-- skips the batch's statements before any of them runs. Runs as the caller (cairn_owner).
CREATE FUNCTION projection_advance(name text, expected bigint, target bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    current bigint;
    moved integer;
BEGIN
    SELECT notification_id INTO current FROM projection_tracking
        WHERE application_name = name FOR UPDATE;
    IF current IS DISTINCT FROM expected THEN
        RAISE EXCEPTION USING ERRCODE = 'CA001',
            MESSAGE = format('%s is at %s, this writer expected %s', name, current, expected);
    END IF;
    IF target IS NOT DISTINCT FROM expected THEN
        RETURN;
    END IF;
    INSERT INTO projection_tracking VALUES (name, target)
        ON CONFLICT (application_name) DO UPDATE SET notification_id = EXCLUDED.notification_id
        WHERE projection_tracking.notification_id < EXCLUDED.notification_id;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved <> 1 THEN  -- another writer recorded it since: it holds the row now
        RAISE EXCEPTION USING ERRCODE = 'CA001',
            MESSAGE = format('%s moved past %s meanwhile', name, target);
    END IF;
END
$$;
