from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "hospitium.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from hospitium.accounts.models import User
        from hospitium.tenancy.integrity import refuse_unguarded_delete

        # Hospital rows reference users across stores; a delete that skipped the integrity
        # service would leave them dangling, so it is refused outright.
        pre_delete.connect(
            refuse_unguarded_delete, sender=User, dispatch_uid="hospitium-user-delete"
        )
