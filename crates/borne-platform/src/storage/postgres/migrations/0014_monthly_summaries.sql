-- Summaries may also be monthly (the previous calendar month, sent on the 1st).
ALTER TABLE accounts DROP CONSTRAINT accounts_digest_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_digest_check CHECK (digest IN ('none', 'daily', 'weekly', 'monthly'));
