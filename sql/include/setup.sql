-- the start of each test: perfopt in this database, whether an earlier test
-- created it or this one runs alone (make installcheck REGRESS=name)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS perfopt CASCADE;
RESET client_min_messages;
\ir outcome.sql
