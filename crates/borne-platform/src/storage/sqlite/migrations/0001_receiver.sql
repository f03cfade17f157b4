
CREATE TABLE IF NOT EXISTS reviews (
    id               INTEGER PRIMARY KEY,
    device_id        TEXT NOT NULL,
    client_review_id TEXT NOT NULL,
    product_id       INTEGER NOT NULL,
    form_id          INTEGER NOT NULL,
    button_id        INTEGER NOT NULL,
    submitted_at     TEXT NOT NULL,
    clock            TEXT NOT NULL,
    language         TEXT NOT NULL,
    batch_id         TEXT NOT NULL,
    received_at_ms   INTEGER NOT NULL,
    UNIQUE (device_id, client_review_id)
);
CREATE TABLE IF NOT EXISTS answers (
    review_id        INTEGER NOT NULL REFERENCES reviews (id),
    field_code       TEXT NOT NULL,
    field_label      TEXT,
    answer_item_id   INTEGER NOT NULL,
    answer_text      TEXT NOT NULL,
    intention        TEXT NOT NULL,
    kind             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_review ON answers (review_id);
CREATE TABLE IF NOT EXISTS idempotency (
    device_id        TEXT NOT NULL,
    key              TEXT NOT NULL,
    body_sha256      TEXT NOT NULL,
    response         TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (device_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created_at_ms);
CREATE TABLE IF NOT EXISTS heartbeats (
    device_id        TEXT PRIMARY KEY,
    body             TEXT NOT NULL,
    received_at_ms   INTEGER NOT NULL
);
