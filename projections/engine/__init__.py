"""The projection engine: what every view shares and no view needs to know.

Projector base class and `@handles` (projector_base), batches applied exactly once with
poison handling (batch_processor, view_recorder, dead_letters, commit_pipeline), generations
built beside the active one and switched atomically (generations), worker threads and catch-up
processes (projector_worker, projector_host, catch_up, notification_feed, event_source), bulk
rows as binary arrays (bulk_parameters, binary_arrays), operations (status, rebuild, retry),
the registry of the views found in projections/views, and how queries read views (view_reads,
pages, cursors).
"""
