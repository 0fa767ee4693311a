-- The planner reads a person's approved upstream MCP tools in the same statement as their
-- upcoming events and whether the context graph knows them (adapters/context/
-- planning_views.py, decision 0042), as `cairn_app`: row-level security (0086) still keeps
-- each tenant to its own rows. Read only.

GRANT SELECT ON mcp_servers, mcp_tools TO cairn_app;
