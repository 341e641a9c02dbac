from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from alerts import signals  # noqa: F401
        from alerts.live import publisher

        publisher.connect()
