"""Append-only in the database itself: the ledger's tables refuse UPDATE, DELETE and TRUNCATE
from anyone (the application role included), and the head row only moves forward."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION ledger_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION ledger_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.size < OLD.size THEN
    RAISE EXCEPTION 'ledger head may not shrink from % to %', OLD.size, NEW.size
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
"""

TABLES = ["ledger_entry", "ledger_node", "ledger_checkpoint"]


def per_table(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_change();
"""


HEAD = """
CREATE TRIGGER ledger_head_forward BEFORE UPDATE ON ledger_head
  FOR EACH ROW EXECUTE FUNCTION ledger_head_forward_only();
CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_change();
INSERT INTO ledger_head (id, size, root_hash, updated_at)
  VALUES (1, 0, sha256(''::bytea), now());
"""

REVERSE = "".join(
    f"DROP TRIGGER {t}_no_update_delete ON {t}; DROP TRIGGER {t}_no_truncate ON {t};"
    for t in TABLES
) + (
    "DROP TRIGGER ledger_head_forward ON ledger_head;"
    "DROP TRIGGER ledger_head_no_delete ON ledger_head;"
    "DROP TRIGGER ledger_head_no_truncate ON ledger_head;"
    "DROP FUNCTION ledger_forbid_change(); DROP FUNCTION ledger_head_forward_only();"
)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [
        migrations.RunSQL(FORBID + "".join(per_table(t) for t in TABLES) + HEAD, REVERSE),
    ]
