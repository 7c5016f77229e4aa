from django.apps import AppConfig


class FleetReportsConfig(AppConfig):
    name = "hospitium.fleetreports"
    label = "fleetreports"
    verbose_name = "Fleet reports"
