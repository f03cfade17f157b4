
CREATE TABLE accounts (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    role             text NOT NULL CHECK (role IN ('national', 'network', 'site')),
    organisation_id  text REFERENCES organisations (id),
    site_id          text REFERENCES sites (id),
    password_hash    text,
    oidc_subject     text UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz,
    CHECK ((role = 'network') = (organisation_id IS NOT NULL)),
    CHECK ((role = 'site') = (site_id IS NOT NULL))
);
CREATE TABLE console_sessions (
    id_sha256     text PRIMARY KEY,
    account_id    text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf          text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);
CREATE INDEX answers_comment_search ON answers USING gin (to_tsvector('french', answer_text))
    WHERE field_code = 'verbatim';
CREATE INDEX answers_comments ON answers (review_created_at) WHERE field_code = 'verbatim';
-- Every site's counts over a period (the console's comparison) read by day or by month.
CREATE INDEX site_daily_day ON site_daily (day);
CREATE INDEX site_monthly_month ON site_monthly (month);
