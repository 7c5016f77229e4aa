from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hospitium.core.errors import HospitiumError
from hospitium.tenancy.models import Domain, Hospital
from hospitium.tenancy.provisioning import hospital_archive


class DomainInline(admin.TabularInline[Domain, Hospital]):
    model = Domain
    extra = 0


@admin.register(Hospital)
class HospitalAdmin(admin.ModelAdmin[Hospital]):
    """Hospitals are created with `hospitium hospitals create`, which provisions the store; the
    admin shows them and archives them."""

    list_display = ["code", "name", "status", "server", "store_name", "created_at"]
    list_filter = ["status"]
    search_fields = ["code", "name", "domains__host"]
    readonly_fields = [
        "code",
        "status",
        "status_reason",
        "server",
        "store_name",
        "migration_fingerprint",
        "created_at",
        "updated_at",
        "archived_at",
    ]
    inlines = [DomainInline]
    actions = ["archive"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Archive (make read-only)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Hospital]) -> None:
        for hospital in queryset:
            try:
                hospital_archive(code=hospital.code)
            except HospitiumError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin[Domain]):
    list_display = ["host", "hospital", "is_primary"]
    search_fields = ["host", "hospital__code"]
