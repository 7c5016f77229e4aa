from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "hospitium.core"
    label = "core"
    verbose_name = "Hospitium core"
