from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "hospitium.audit"
    label = "audit"
    verbose_name = "Audit"
