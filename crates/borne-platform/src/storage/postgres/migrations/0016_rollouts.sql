-- System updates rolled out in rings (contract 1.2, GET /v1/update): the releases a network may
-- install (signed RAUC bundles on its own server, known here by address, digest and size), each
-- rollout of one to a network or a site, and the ring each of its kiosks was put in when it began.
CREATE TABLE releases (
    version     text PRIMARY KEY,
    bundle_url  text NOT NULL,
    sha256      text NOT NULL,
    size        bigint NOT NULL CHECK (size > 0),
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL
);
CREATE TABLE rollouts (
    id               bigserial PRIMARY KEY,
    organisation_id  text REFERENCES organisations (id),
    site_id          text REFERENCES sites (id),
    version          text NOT NULL REFERENCES releases (version),
    rings            text NOT NULL,
    wait_s           bigint NOT NULL,
    state            text NOT NULL CHECK (state IN ('running', 'halted', 'done', 'stopped')),
    ring             integer NOT NULL,
    ring_started_at  timestamptz NOT NULL,
    started_by       text NOT NULL,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    reason           text,
    CHECK ((organisation_id IS NULL) <> (site_id IS NULL))
);
CREATE TABLE rollout_devices (
    rollout_id  bigint NOT NULL REFERENCES rollouts (id),
    device_id   text NOT NULL REFERENCES devices (id),
    ring        integer NOT NULL,
    PRIMARY KEY (rollout_id, device_id)
);
CREATE INDEX rollout_devices_device ON rollout_devices (device_id);
-- What each kiosk of the image says of its system in its heartbeat.
ALTER TABLE heartbeats ADD COLUMN system_version text;
ALTER TABLE heartbeats ADD COLUMN system_pending text;
ALTER TABLE heartbeats ADD COLUMN system_rejected text;
