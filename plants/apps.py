from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PlantsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "plants"
    verbose_name = "Plants and hierarchy"

    def ready(self):
        from plants import signals  # noqa: F401
        from plants.bootstrap import bootstrap_admin_after_migrate

        post_migrate.connect(bootstrap_admin_after_migrate, sender=self)
