-- Calendar sync bookkeeping (docs/decisions/0025-provider-idempotency-and-sync.md): the push
-- channels (Google) and subscriptions (Graph) that report a person's calendar changes, the
-- cursor (sync token, delta link) each feed's next delta sync starts from, and the
-- notifications already seen (a duplicate or a replay changes nothing).
--
-- What Cairn learned is in the event store (CalendarFeed events); these rows are only where to
-- continue. A channel's secret is kept as its SHA-256 only. Only workers and the webhook route
-- (as the service's own login) touch these tables, so they have no tenant policy.
CREATE TABLE provider_channels (
    channel_id text PRIMARY KEY,
    feed_id uuid NOT NULL,
    tenant_id text NOT NULL,
    person text NOT NULL,
    provider text NOT NULL,
    resource_id text NOT NULL DEFAULT '',
    secret_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    renewal_id uuid,
    retired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX provider_channels_by_renewal ON provider_channels (renewal_id);

CREATE TABLE provider_feed_cursors (
    feed_id uuid PRIMARY KEY,
    cursor text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE provider_notifications_seen (
    channel_id text NOT NULL,
    notification text NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, notification)
);
