
ALTER TABLE accounts ADD COLUMN alerts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN digest TEXT NOT NULL DEFAULT 'weekly' CHECK (digest IN ('none', 'daily', 'weekly'));
ALTER TABLE accounts ADD COLUMN digest_sent_at_ms INTEGER;
ALTER TABLE accounts ADD COLUMN unsubscribe_token TEXT;
CREATE UNIQUE INDEX accounts_unsubscribe ON accounts (unsubscribe_token);
-- Accounts made before: their unsubscribe key (new accounts get one when created).
UPDATE accounts SET unsubscribe_token = lower(hex(randomblob(32)));
CREATE TABLE alert_rules (
    organisation_id  TEXT PRIMARY KEY REFERENCES organisations (id),
    rules            TEXT NOT NULL
);
CREATE TABLE alert_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    tracks           TEXT NOT NULL,
    evaluated_at_ms  INTEGER,
    holder           TEXT
);
INSERT INTO alert_state (id, tracks) VALUES (1, '[]');
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    rule            TEXT NOT NULL,
    scope_kind      TEXT NOT NULL,
    scope_id        TEXT NOT NULL,
    site_id         TEXT,
    detail          TEXT NOT NULL,
    opened_at_ms    INTEGER NOT NULL,
    resolved_at_ms  INTEGER
);
CREATE INDEX incidents_site ON incidents (site_id, opened_at_ms);
CREATE TABLE mail_outbox (
    id                  INTEGER PRIMARY KEY,
    recipient           TEXT NOT NULL,
    subject             TEXT NOT NULL,
    body                TEXT NOT NULL,
    unsubscribe_url     TEXT,
    created_at_ms       INTEGER NOT NULL,
    next_attempt_at_ms  INTEGER NOT NULL,
    claimed_until_ms    INTEGER,
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    sent_at_ms          INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at_ms) WHERE sent_at_ms IS NULL;
