-- The vault (adapters/vault, docs/vault.md): envelope encryption with XChaCha20-Poly1305.
-- Nothing here is plaintext: data keys and subject keys are wrapped by a key-encryption key
-- (KEK) from configuration, secrets are encrypted by a data key. Blobs are nonce || ciphertext.
-- Tenant-isolated with row-level security like every Cairn table: each statement of the
-- adapter runs with cairn.tenant_id set for its transaction.

-- Data keys: one per tenant and version; the highest version is the current one (so there is
-- always exactly one current key, and creating version 1 twice at once is a primary-key
-- conflict that ON CONFLICT DO NOTHING settles). Rows are never deleted: old versions still
-- decrypt the secrets written with them.
CREATE TABLE vault_data_keys (
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    version integer NOT NULL CHECK (version > 0),
    kek_version text NOT NULL CHECK (kek_version <> ''),
    wrapped_key bytea NOT NULL CHECK (octet_length(wrapped_key) = 72),
    created_at timestamptz NOT NULL DEFAULT now(),
    wrapped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);

-- KEK rotation finds what is still wrapped by an old KEK.
CREATE INDEX vault_data_keys_by_kek ON vault_data_keys (kek_version);

CREATE TABLE vault_secrets (
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    record_id text NOT NULL CHECK (record_id <> ''),
    data_key_version integer NOT NULL,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, record_id),
    -- A secret can never outlive the data key that decrypts it.
    FOREIGN KEY (tenant_id, data_key_version) REFERENCES vault_data_keys (tenant_id, version)
);

CREATE INDEX vault_secrets_by_data_key ON vault_secrets (tenant_id, data_key_version);

-- Crypto-shredding: one key per (tenant, subject). Erasure deletes the row; key_id names the
-- generation so that tokens of an erased key are told apart from tokens of a later one.
CREATE TABLE vault_subject_keys (
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    subject_id text NOT NULL CHECK (subject_id <> ''),
    key_id text NOT NULL CHECK (key_id ~ '^[0-9a-f]{16}$'),
    kek_version text NOT NULL CHECK (kek_version <> ''),
    wrapped_key bytea NOT NULL CHECK (octet_length(wrapped_key) = 72),
    created_at timestamptz NOT NULL DEFAULT now(),
    wrapped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id)
);

CREATE INDEX vault_subject_keys_by_kek ON vault_subject_keys (kek_version);

-- Which key generations were destroyed: lets open_personal answer ERASED for them and refuse
-- (as undecryptable) a token that belongs to no key of this tenant at all. No key material.
CREATE TABLE vault_erased_subjects (
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    subject_id text NOT NULL,
    key_id text NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id, key_id)
);

ALTER TABLE vault_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault_data_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE vault_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault_secrets FORCE ROW LEVEL SECURITY;
ALTER TABLE vault_subject_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault_subject_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE vault_erased_subjects ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault_erased_subjects FORCE ROW LEVEL SECURITY;

-- current_setting(..., true) is NULL or '' when no tenant is set: nothing matches (fail closed).
-- Key rotation re-wraps the keys of every tenant: it alone sets cairn.vault_rotation = 'on' for
-- its own transactions, and only the two key tables admit it. The rows it then sees are
-- wrapped keys, useless without the KEK the rotating process holds anyway.
CREATE POLICY vault_data_keys_of_tenant ON vault_data_keys
    USING (tenant_id = current_setting('cairn.tenant_id', true)
           OR current_setting('cairn.vault_rotation', true) = 'on')
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true)
                OR current_setting('cairn.vault_rotation', true) = 'on');
CREATE POLICY vault_subject_keys_of_tenant ON vault_subject_keys
    USING (tenant_id = current_setting('cairn.tenant_id', true)
           OR current_setting('cairn.vault_rotation', true) = 'on')
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true)
                OR current_setting('cairn.vault_rotation', true) = 'on');
CREATE POLICY vault_secrets_of_tenant ON vault_secrets
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
CREATE POLICY vault_erased_subjects_of_tenant ON vault_erased_subjects
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
