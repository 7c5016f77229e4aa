from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "hospitium.reports"
    label = "reports"
    verbose_name = "Reports"
