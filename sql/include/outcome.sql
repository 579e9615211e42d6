-- pg_temp.outcome(q): 'ok', or the SQLSTATE and message q failed with
-- (shared by the tests; temporary, so included again after each \c)
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN pg_catalog.concat(SQLSTATE, ' ', SQLERRM);
END $$;
