-- Single-use links mailed to a manager: the first administrator's (printed by `serve` while
-- no account exists), an invitation, a password reset. Only the token's hash is kept.
CREATE TABLE account_links (
    token_sha256   TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('setup', 'invitation', 'reset')),
    account_id     TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    used_at_ms     INTEGER,
    CHECK ((kind = 'setup') = (account_id IS NULL))
);
CREATE INDEX account_links_account ON account_links (account_id);
