
CREATE TABLE organisations (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sites (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    organisation_id text REFERENCES organisations (id),
    product_id      bigint,
    form_id         bigint,
    button_id       bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_organisation ON sites (organisation_id);
CREATE TABLE devices (
    id            text PRIMARY KEY,
    site_id       text NOT NULL REFERENCES sites (id),
    token_sha256  text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX devices_site ON devices (site_id);
CREATE TABLE heartbeats (
    device_id          text PRIMARY KEY,
    received_at        timestamptz NOT NULL,
    app_version        text NOT NULL,
    pending            bigint NOT NULL,
    oldest_pending_at  text,
    last_upload_at     text,
    disk_free_bytes    bigint,
    uptime_s           bigint
);
CREATE SEQUENCE reviews_id_seq AS bigint;
CREATE TABLE review_keys (
    device_id         text NOT NULL,
    client_review_id  uuid NOT NULL,
    review_id         bigint NOT NULL,
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (device_id, client_review_id)
);
CREATE TABLE reviews (
    id                bigint NOT NULL,
    created_at        timestamptz NOT NULL,
    device_id         text NOT NULL,
    client_review_id  uuid NOT NULL,
    site_id           text,
    product_id        bigint NOT NULL,
    form_id           bigint NOT NULL,
    button_id         bigint NOT NULL,
    submitted_at      text NOT NULL,
    clock             text NOT NULL,
    language          text NOT NULL,
    has_verbatim      boolean NOT NULL,
    batch_id          uuid NOT NULL,
    received_at       timestamptz NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX reviews_received ON reviews (received_at, id);
CREATE INDEX reviews_site ON reviews (site_id, created_at);
CREATE TABLE answers (
    id                 bigserial,
    review_id          bigint NOT NULL,
    review_created_at  timestamptz NOT NULL,
    field_code         text NOT NULL,
    field_label        text,
    answer_item_id     integer NOT NULL,
    answer_text        text NOT NULL,
    intention          text NOT NULL,
    kind               text NOT NULL,
    PRIMARY KEY (id, review_created_at)
) PARTITION BY RANGE (review_created_at);
CREATE INDEX answers_review ON answers (review_id, review_created_at);
CREATE TABLE reviews_early PARTITION OF reviews FOR VALUES FROM (MINVALUE) TO ('2024-01-01 00:00:00+00');
CREATE TABLE answers_early PARTITION OF answers FOR VALUES FROM (MINVALUE) TO ('2024-01-01 00:00:00+00');
CREATE TABLE idempotency (
    device_id    text NOT NULL,
    key          uuid NOT NULL,
    body_sha256  text NOT NULL,
    response     text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (device_id, key)
);
CREATE INDEX idempotency_age ON idempotency (created_at);
CREATE TABLE site_hourly (
    site_id text NOT NULL, hour timestamp NOT NULL, field_code text NOT NULL, answer_item_id integer NOT NULL,
    n bigint NOT NULL, PRIMARY KEY (site_id, hour, field_code, answer_item_id)
);
CREATE TABLE site_daily (
    site_id text NOT NULL, day date NOT NULL, field_code text NOT NULL, answer_item_id integer NOT NULL,
    n bigint NOT NULL, PRIMARY KEY (site_id, day, field_code, answer_item_id)
);
CREATE TABLE site_monthly (
    site_id text NOT NULL, month date NOT NULL, field_code text NOT NULL, answer_item_id integer NOT NULL,
    n bigint NOT NULL, PRIMARY KEY (site_id, month, field_code, answer_item_id)
);
