-- A kiosk's state from its uploads as well as its heartbeats: when its last batch arrived, and
-- how many reviews its batches brought since its last heartbeat (which said how many it held).
ALTER TABLE devices
    ADD COLUMN last_batch_at timestamptz,
    ADD COLUMN reviews_since_heartbeat bigint NOT NULL DEFAULT 0;
