from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "hospitium.staff"
    label = "staff"
    verbose_name = "Staff"
