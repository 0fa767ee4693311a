-- The synced calendars' view (projections/views/calendar): each followed feed with its person,
-- and the events it holds now, for the planner's upcoming-events context. Titles stay sealed
-- for the person (crypto-shredding): the view holds the token, never the text. A template of
-- projection_schemas (see 0040): `{table}` becomes one generation's table.
INSERT INTO projection_schemas (projector, version, tables, ddl) VALUES (
    'calendar', 1,
    ARRAY['calendar_feeds', 'calendar_events'],
    $ddl$
    CREATE TABLE {calendar_feeds} (
        tenant_id uuid NOT NULL,
        feed_id uuid PRIMARY KEY,
        user_id text NOT NULL,
        provider text NOT NULL,
        position bigint NOT NULL
    );

    CREATE TABLE {calendar_events} (
        tenant_id uuid NOT NULL,
        feed_id uuid NOT NULL,
        item_id text NOT NULL,
        user_id text NOT NULL,
        provider text NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz,
        status text NOT NULL,
        sealed_title text,
        version text NOT NULL,
        position bigint NOT NULL,
        PRIMARY KEY (feed_id, item_id)
    );
    CREATE INDEX {calendar_events}_upcoming
        ON {calendar_events} (tenant_id, user_id, starts_at, item_id);
    $ddl$
);
