from django.apps import AppConfig


class AdmissionsConfig(AppConfig):
    name = "hospitium.admissions"
    label = "admissions"
    verbose_name = "Admissions"
