"""Sample indexes for the reads every sample and chart makes.

* The single-column index on `characteristic_id` that Django adds for a foreign key is dropped:
  `sample_char_time` (characteristic, timestamp, id) starts with the same column and serves
  every lookup it served, and each recorded sample paid for keeping both up to date.
* On SQLite, which has no INCLUDE, `sample_char_time` carries the included columns as trailing
  key columns, so the rule window, chart data and limit fits read the index alone instead of
  one table page per sample (a characteristic's samples are interleaved with every other's).
  On PostgreSQL it stays the covering index the model declares.

Both are done in SQL so that SQLite does not rebuild the sample table (an AlterField would).
"""

from django.db import migrations, models
import django.db.models.deletion

FK_INDEX = "spc_sample_characteristic_id_afad34d2"
KEYS = '"characteristic_id", "timestamp", "id"'
INCLUDED = '"n", "mean", "range", "sd", "count", "excluded"'


def _sqlite(apps, schema_editor, columns):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute('DROP INDEX IF EXISTS "sample_char_time"')
    schema_editor.execute(f'CREATE INDEX "sample_char_time" ON "spc_sample" ({columns})')


def covering_on_sqlite(apps, schema_editor):
    _sqlite(apps, schema_editor, f"{KEYS}, {INCLUDED}")


def plain_on_sqlite(apps, schema_editor):
    _sqlite(apps, schema_editor, KEYS)


class Migration(migrations.Migration):
    dependencies = [("spc", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="sample",
                    name="characteristic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="samples",
                        to="spc.characteristic",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{FK_INDEX}"',
                    reverse_sql=f'CREATE INDEX "{FK_INDEX}" ON "spc_sample" ("characteristic_id")',
                ),
            ],
        ),
        migrations.RunPython(covering_on_sqlite, plain_on_sqlite),
    ]
