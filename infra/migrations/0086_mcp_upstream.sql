-- Upstream MCP servers a person registered, and the pins of their tools (commands/mcp/
-- upstream.py): what the person approved and what the server listed last. A tool is callable
-- only while both hashes are equal. Tenant rows under row-level security.

CREATE TABLE mcp_servers (
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    server_id text NOT NULL,
    user_id text NOT NULL,
    name text NOT NULL,
    url text NOT NULL,
    auth text NOT NULL CHECK (auth IN ('none', 'oauth')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, server_id)
);

CREATE TABLE mcp_tools (
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    server_id text NOT NULL,
    name text NOT NULL,
    approved_hash text,
    listed_hash text NOT NULL,
    description text NOT NULL,
    input_schema jsonb NOT NULL,
    approved_by text,
    approved_at timestamptz,
    PRIMARY KEY (tenant_id, server_id, name),
    FOREIGN KEY (tenant_id, server_id) REFERENCES mcp_servers (tenant_id, server_id)
        ON DELETE CASCADE
);

ALTER TABLE mcp_servers ENABLE ROW LEVEL SECURITY;
ALTER TABLE mcp_servers FORCE ROW LEVEL SECURITY;
ALTER TABLE mcp_tools ENABLE ROW LEVEL SECURITY;
ALTER TABLE mcp_tools FORCE ROW LEVEL SECURITY;
CREATE POLICY mcp_servers_of_tenant ON mcp_servers
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
CREATE POLICY mcp_tools_of_tenant ON mcp_tools
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
