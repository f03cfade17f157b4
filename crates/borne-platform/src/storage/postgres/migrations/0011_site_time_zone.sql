-- The time zone a site's people read times in (IANA name): overseas prefectures are not in
-- Paris's.
ALTER TABLE sites ADD COLUMN time_zone text NOT NULL DEFAULT 'Europe/Paris';
