-- Upstream MCP tools as executor actions (decision 0035): each pin keeps the hints the
-- upstream gives its tool (MCP annotations, untrusted; the policy's McpTool entity carries
-- them), and the planner reads a person's approved tools by server owner.

ALTER TABLE mcp_tools ADD COLUMN annotations jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE INDEX mcp_servers_by_user ON mcp_servers (tenant_id, user_id);
