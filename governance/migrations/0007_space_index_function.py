"""A new embedding space gets its partial HNSW index through a function of the owner's.

The service connects as the application role, which owns no table and so may not create an
index (docs/deployment.md). Creating a space (staff, ``POST /api/v1/embedding-spaces/``) needs
exactly one piece of DDL: this SECURITY DEFINER function, owned by the owner that ``migrate``
connects as, does that and nothing else. It reads the dimension from the space's own row, takes
only an integer id, pins its search path, and is executable by the application role only
(``config/grants.py``), not by PUBLIC.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION governance_space_index_create(space bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  d integer;
BEGIN
  SELECT dimension INTO d FROM public.governance_embeddingspace WHERE id = space;
  IF d IS NULL THEN
    RAISE EXCEPTION 'no embedding space %', space USING ERRCODE = 'no_data_found';
  END IF;
  EXECUTE format(
    'CREATE INDEX IF NOT EXISTS %I ON public.governance_workembedding USING hnsw '
    '((embedding::public.vector(%s)) public.vector_cosine_ops) '
    'WITH (m = 16, ef_construction = 128) WHERE space_id = %s',
    'governance_embedding_space_' || space || '_hnsw', d, space);
END $$;
REVOKE ALL ON FUNCTION governance_space_index_create(bigint) FROM PUBLIC;
"""

REVERSE = "DROP FUNCTION governance_space_index_create(bigint);"


class Migration(migrations.Migration):
    dependencies = [("governance", "0006_rights_claims")]
    operations = [migrations.RunSQL(FUNCTION, REVERSE)]
