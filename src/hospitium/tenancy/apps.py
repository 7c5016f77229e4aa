from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "hospitium.tenancy"
    label = "tenancy"
    verbose_name = "Hospitals"

    def ready(self) -> None:
        from django.core import signals

        from hospitium.tenancy import checks, stores

        stores.install()
        signals.request_started.connect(stores.on_request_started, dispatch_uid="hospitium-stores")
        signals.request_finished.connect(
            stores.on_request_finished, dispatch_uid="hospitium-stores"
        )
        checks.register()
