from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Holds the project-wide system checks (``consentry.E0xx``)."""

    name = "config"
    label = "consentry"
    verbose_name = "Consentry configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the checks
