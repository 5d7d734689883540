from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Holds the project-wide system checks (``consentry.E0xx``, ``consentry.W0xx``) and keeps
    the application role's grants true after every ``migrate`` (``config/grants.py``)."""

    name = "config"
    label = "consentry"
    verbose_name = "Consentry configuration"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from config import checks  # noqa: F401 - registers the checks
        from config.grants import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="consentry.grants")
