-- A mail the SMTP server refuses for good (or after too many tries) is given up: kept, shown to
-- the operators, never sent.
ALTER TABLE mail_outbox ADD COLUMN abandoned_at_ms INTEGER;
