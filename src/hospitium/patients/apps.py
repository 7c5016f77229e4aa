from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "hospitium.patients"
    label = "patients"
    verbose_name = "Patients"
