-- Timers of the run engine (docs/decisions/0008-timers-as-due-rows.md): one row per pending
-- timer, fired by whichever `cairn worker` takes it first (FOR UPDATE SKIP LOCKED) at or after
-- its due time. A row is bookkeeping, not a fact: what a timer does is recorded as an event,
-- and a timer fired twice finds nothing left to do the second time.
--
-- Only workers touch this table (as the service's own login); no query route reads it, so it
-- has no tenant policy.
CREATE TABLE timers (
    kind text NOT NULL CHECK (kind <> ''),
    subject_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    due_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject_id)
);

CREATE INDEX timers_by_due_time ON timers (due_at);
