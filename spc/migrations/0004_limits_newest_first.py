"""An index that starts with a characteristic's newest limit version.

Every sample reads that version twice (with the writer's lock and for the rule window); with
only the (characteristic, version) index PostgreSQL sorted all of the characteristic's versions
each time (30 on benchmark characteristics that had been recalculated repeatedly).
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('spc', '0003_measurement_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='controllimits',
            index=models.Index(fields=['characteristic', '-effective_from', '-version'], name='limits_newest_first'),
        ),
    ]
