"""Drop the single-column index Django adds on `spc_measurement.sample_id`.

The unique constraint on (sample, position) is an index that starts with the same column and
serves every lookup it served (a sample's values, the foreign-key checks); each measurement
written paid for keeping both up to date. Done in SQL so that SQLite does not rebuild the
measurement table (an AlterField would).
"""

from django.db import migrations, models
import django.db.models.deletion

FK_INDEX = "spc_measurement_sample_id_e07677c1"


class Migration(migrations.Migration):
    dependencies = [("spc", "0002_sample_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="measurement",
                    name="sample",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="measurements",
                        to="spc.sample",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{FK_INDEX}"',
                    reverse_sql=f'CREATE INDEX "{FK_INDEX}" ON "spc_measurement" ("sample_id")',
                ),
            ],
        ),
    ]
