from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "hospitium.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
