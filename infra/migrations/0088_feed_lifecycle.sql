-- Calendar feeds opened and closed with their connection, and the seen notifications pruned
-- (docs/decisions/0032-connection-lifecycle.md). A worker timer deletes the notifications
-- seen before the replay window, oldest first: by time, not by key. A disconnect looks up a
-- feed's channels to stop them at the provider.
CREATE INDEX provider_notifications_seen_by_time ON provider_notifications_seen (seen_at);
CREATE INDEX provider_channels_by_feed ON provider_channels (feed_id) WHERE retired_at IS NULL;
