from django.apps import AppConfig


class EncountersConfig(AppConfig):
    name = "hospitium.encounters"
    label = "encounters"
    verbose_name = "Encounters"
