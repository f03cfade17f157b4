-- A kiosk's state from its uploads as well as its heartbeats: when its last batch arrived, and
-- how many reviews its batches brought since its last heartbeat (which said how many it held).
ALTER TABLE devices ADD COLUMN last_batch_at_ms INTEGER;
ALTER TABLE devices ADD COLUMN reviews_since_heartbeat INTEGER NOT NULL DEFAULT 0;
