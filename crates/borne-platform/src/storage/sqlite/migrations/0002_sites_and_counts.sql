
CREATE TABLE organisations (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL
);
CREATE TABLE sites (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    organisation_id  TEXT REFERENCES organisations (id),
    product_id       INTEGER,
    form_id          INTEGER,
    button_id        INTEGER,
    created_at_ms    INTEGER NOT NULL
);
CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites (id),
    token_sha256     TEXT NOT NULL UNIQUE,
    created_at_ms    INTEGER NOT NULL,
    revoked_at_ms    INTEGER
);
ALTER TABLE reviews ADD COLUMN site_id TEXT;
ALTER TABLE reviews ADD COLUMN created_at_ms INTEGER;
ALTER TABLE reviews ADD COLUMN has_verbatim INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reviews_received ON reviews (received_at_ms, id);
ALTER TABLE heartbeats ADD COLUMN app_version TEXT;
ALTER TABLE heartbeats ADD COLUMN pending INTEGER;
ALTER TABLE heartbeats ADD COLUMN oldest_pending_at TEXT;
ALTER TABLE heartbeats ADD COLUMN last_upload_at TEXT;
ALTER TABLE heartbeats ADD COLUMN disk_free_bytes INTEGER;
ALTER TABLE heartbeats ADD COLUMN uptime_s INTEGER;
CREATE TABLE site_hourly (
    site_id TEXT NOT NULL, hour TEXT NOT NULL, field_code TEXT NOT NULL, answer_item_id INTEGER NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (site_id, hour, field_code, answer_item_id)
) WITHOUT ROWID;
CREATE TABLE site_daily (
    site_id TEXT NOT NULL, day TEXT NOT NULL, field_code TEXT NOT NULL, answer_item_id INTEGER NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (site_id, day, field_code, answer_item_id)
) WITHOUT ROWID;
CREATE TABLE site_monthly (
    site_id TEXT NOT NULL, month TEXT NOT NULL, field_code TEXT NOT NULL, answer_item_id INTEGER NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (site_id, month, field_code, answer_item_id)
) WITHOUT ROWID;
-- Reviews already held (a version-1 file) are counted once, on the day they were sent: each
-- answer by item, and each question answered once (item -1), as the kiosk counts.
INSERT INTO site_hourly (site_id, hour, field_code, answer_item_id, n)
    SELECT '', substr(r.submitted_at, 1, 13) || ':00:00', a.field_code, a.answer_item_id, count(*)
    FROM answers a JOIN reviews r ON r.id = a.review_id GROUP BY 1, 2, 3, 4;
INSERT INTO site_hourly (site_id, hour, field_code, answer_item_id, n)
    SELECT '', substr(r.submitted_at, 1, 13) || ':00:00', a.field_code, -1, count(DISTINCT a.review_id)
    FROM answers a JOIN reviews r ON r.id = a.review_id GROUP BY 1, 2, 3, 4;
INSERT INTO site_daily (site_id, day, field_code, answer_item_id, n)
    SELECT site_id, substr(hour, 1, 10), field_code, answer_item_id, sum(n) FROM site_hourly GROUP BY 1, 2, 3, 4;
INSERT INTO site_monthly (site_id, month, field_code, answer_item_id, n)
    SELECT site_id, substr(day, 1, 7) || '-01', field_code, answer_item_id, sum(n) FROM site_daily GROUP BY 1, 2, 3, 4;
