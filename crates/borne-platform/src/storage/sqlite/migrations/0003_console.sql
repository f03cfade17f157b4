
CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('national', 'network', 'site')),
    organisation_id  TEXT REFERENCES organisations (id),
    site_id          TEXT REFERENCES sites (id),
    password_hash    TEXT,
    oidc_subject     TEXT UNIQUE,
    created_at_ms    INTEGER NOT NULL,
    disabled_at_ms   INTEGER,
    CHECK ((role = 'network') = (organisation_id IS NOT NULL)),
    CHECK ((role = 'site') = (site_id IS NOT NULL))
);
CREATE TABLE console_sessions (
    id_sha256        TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf             TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    last_seen_at_ms  INTEGER NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);
CREATE INDEX reviews_site_created ON reviews (site_id, created_at_ms);
CREATE INDEX site_daily_day ON site_daily (day);
CREATE INDEX site_monthly_month ON site_monthly (month);
CREATE VIRTUAL TABLE comments_fts USING fts5 (
    answer_text, content = 'answers', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO comments_fts (rowid, answer_text) SELECT rowid, answer_text FROM answers WHERE field_code = 'verbatim';
CREATE TRIGGER answers_comment_indexed AFTER INSERT ON answers WHEN new.field_code = 'verbatim' BEGIN
    INSERT INTO comments_fts (rowid, answer_text) VALUES (new.rowid, new.answer_text);
END;
