
ALTER TABLE accounts ADD COLUMN alerts boolean NOT NULL DEFAULT true;
ALTER TABLE accounts ADD COLUMN digest text NOT NULL DEFAULT 'weekly' CHECK (digest IN ('none', 'daily', 'weekly'));
ALTER TABLE accounts ADD COLUMN digest_sent_at timestamptz;
ALTER TABLE accounts ADD COLUMN unsubscribe_token text UNIQUE;
-- Accounts made before: their unsubscribe key (new accounts get one when created).
UPDATE accounts SET unsubscribe_token = encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex');
CREATE TABLE alert_rules (
    organisation_id  text PRIMARY KEY REFERENCES organisations (id),
    rules            text NOT NULL
);
CREATE TABLE alert_state (
    id            integer PRIMARY KEY CHECK (id = 1),
    tracks        text NOT NULL,
    evaluated_at  timestamptz,
    holder        text
);
INSERT INTO alert_state (id, tracks) VALUES (1, '[]');
CREATE TABLE incidents (
    id           bigserial PRIMARY KEY,
    rule         text NOT NULL,
    scope_kind   text NOT NULL,
    scope_id     text NOT NULL,
    site_id      text,
    detail       text NOT NULL,
    opened_at    timestamptz NOT NULL,
    resolved_at  timestamptz
);
CREATE INDEX incidents_site ON incidents (site_id, opened_at);
CREATE TABLE mail_outbox (
    id               bigserial PRIMARY KEY,
    recipient        text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL,
    unsubscribe_url  text,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    claimed_until    timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    sent_at          timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;
