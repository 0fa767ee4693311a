-- The provider outbox (docs/decisions/0025-provider-idempotency-and-sync.md): one row per step
-- that creates something at a provider, written before the call, completed with the receipt
-- after. A retry of the step finds the receipt (and calls nobody) or learns that an earlier
-- attempt may have reached the provider, and looks there by the provider-side id first.
--
-- Only workers touch this table (as the service's own login); no query route reads it, so it
-- has no tenant policy. It holds no token and no personal field: ids and the receipt.
CREATE TABLE provider_outbox (
    tenant_id text NOT NULL,
    idempotency_key text NOT NULL,
    provider text NOT NULL,
    action text NOT NULL,
    reference text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    receipt jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
