-- A poison event stops its aggregate, not the projector (decision 0011): in stop mode the
-- event is parked and its aggregate held, and the aggregate's later events are recorded as
-- 'held' letters (in order, in the same transactions that move the tracking position past
-- them) while every other aggregate, of every tenant, goes on. `cairn projector retry`
-- applies the parked event and then the held ones, and releases the hold; `--skip` gives up
-- on a parked event that can never be applied ('skipped'), so the held ones can follow.
ALTER TABLE projection_dead_letters DROP CONSTRAINT projection_dead_letters_status_check;
ALTER TABLE projection_dead_letters ADD CONSTRAINT projection_dead_letters_status_check
    CHECK (status IN ('parked', 'held', 'resolved', 'skipped'));

CREATE TABLE projection_holds (
    projector text NOT NULL,
    generation integer NOT NULL,
    originator_id text NOT NULL,
    -- The parked event the aggregate is held behind.
    position bigint NOT NULL,
    held_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projector, generation, originator_id)
);

-- What retry reads: one aggregate's open letters, in order.
CREATE INDEX projection_dead_letters_open
    ON projection_dead_letters (projector, generation, originator_id, position)
    WHERE status IN ('parked', 'held');

GRANT SELECT, INSERT, UPDATE, DELETE ON projection_holds TO cairn_owner;
