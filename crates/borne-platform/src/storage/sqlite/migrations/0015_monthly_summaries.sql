-- Summaries may also be monthly (the previous calendar month, sent on the 1st). SQLite cannot
-- change a CHECK constraint: the table is rebuilt (foreign keys are off while migrating, so the
-- sessions and links that reference accounts are kept; `migrate` checks them before committing).
CREATE TABLE accounts_new (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    role               TEXT NOT NULL CHECK (role IN ('national', 'network', 'site')),
    organisation_id    TEXT REFERENCES organisations (id),
    site_id            TEXT REFERENCES sites (id),
    password_hash      TEXT,
    oidc_subject       TEXT UNIQUE,
    created_at_ms      INTEGER NOT NULL,
    disabled_at_ms     INTEGER,
    alerts             INTEGER NOT NULL DEFAULT 1,
    digest             TEXT NOT NULL DEFAULT 'weekly' CHECK (digest IN ('none', 'daily', 'weekly', 'monthly')),
    digest_sent_at_ms  INTEGER,
    unsubscribe_token  TEXT,
    CHECK ((role = 'network') = (organisation_id IS NOT NULL)),
    CHECK ((role = 'site') = (site_id IS NOT NULL))
);
INSERT INTO accounts_new (id, name, role, organisation_id, site_id, password_hash, oidc_subject, created_at_ms,
                          disabled_at_ms, alerts, digest, digest_sent_at_ms, unsubscribe_token)
    SELECT id, name, role, organisation_id, site_id, password_hash, oidc_subject, created_at_ms,
           disabled_at_ms, alerts, digest, digest_sent_at_ms, unsubscribe_token FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
CREATE UNIQUE INDEX accounts_unsubscribe ON accounts (unsubscribe_token);
