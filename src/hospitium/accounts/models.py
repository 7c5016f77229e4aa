"""Platform users (email login) and their memberships in hospitals."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from hospitium.tenancy.models import Hospital


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        """Create a user with a normalised (lower-case) email."""
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


def normalize_email(email: str) -> str:
    """Email addresses are compared case-insensitively, so they are stored lower-case."""
    return email.strip().lower()


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Platform superusers administer every hospital."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True, default="")
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="user_email_lower"
            )
        ]

    def __str__(self) -> str:
        return self.email


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    DOCTOR = "doctor", "Doctor"
    NURSE = "nurse", "Nurse"
    RECEPTIONIST = "receptionist", "Receptionist"
    BILLING = "billing", "Billing"
    ANALYST = "analyst", "Analyst"


class Membership(models.Model):
    """A user's role in one hospital; a user may hold several roles in the same hospital."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hospital__code", "user__email", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "hospital", "role"], name="membership_unique_role"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    role__in=["admin", "doctor", "nurse", "receptionist", "billing", "analyst"]
                ),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} of {self.hospital.code}"


class BreakGlassAccess(models.Model):
    """A platform superuser's explicit access to one hospital's data, for a limited time.

    Being a superuser grants nothing inside a hospital; while one of these is open (not closed,
    not expired: checked on every request) the superuser acts there with every role. Opening
    and closing one writes an event into that hospital's audit log, and the hospital's admins
    list them (``/api/break-glass/``).
    """

    class Via(models.TextChoices):
        API = "api", "API"
        CLI = "cli", "Command line"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="break_glass")
    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="break_glass")
    reason = models.CharField(max_length=500)
    opened_via = models.CharField(max_length=8, choices=Via.choices)
    opened_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["user", "hospital", "expires_at"], name="break_glass_lookup"),
            models.Index(fields=["hospital", "opened_at"], name="break_glass_hospital"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("opened_at")),
                name="break_glass_expires_after_opening",
            ),
            models.CheckConstraint(
                condition=models.Q(closed_at__isnull=True)
                | models.Q(closed_at__gte=models.F("opened_at")),
                name="break_glass_closed_after_opening",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="break_glass_reason_given"),
            models.CheckConstraint(
                condition=models.Q(opened_via__in=["api", "cli"]), name="break_glass_via_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — break-glass into {self.hospital.code} until {self.expires_at}"
