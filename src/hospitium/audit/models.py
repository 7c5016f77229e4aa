"""The audit log of one hospital (hospital store): append-only, enforced by the database."""

from __future__ import annotations

from django.db import models

from hospitium.core.ids import new_id


class AuditEvent(models.Model):
    """Who did what to which record, when and from where.

    ``actor_id`` is the platform user's id kept as history (not a PlatformRef): the record of who
    acted must outlive the account. ``actor_label`` keeps the email as it was then.

    The log is ordered by id, newest first, and has no index on ``at``: ids are UUIDv7, whose
    first 48 bits are the millisecond they were made, taken from the same clock just before
    the event's ``at`` (and strictly increasing within a process), so the primary key already
    is an index in time order, and one index fewer is one B-tree page fewer to write for every
    event (a read of a patient's record writes one). Time filters bound the id from below
    (``selectors.events_since``) and stay exact on ``at``.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        VOID = "void", "Void"
        DELETE = "delete", "Delete"
        READ = "read", "Read"
        LIST = "list", "List"
        EXPORT = "export", "Export"

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=254, blank=True, default="")
    action = models.CharField(max_length=8, choices=Action.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # "Who looked at this record?" — by object id (UUIDs: unique across types) — and
            # "what did this person do?", each in the log's own order (the id), so that a page
            # of the newest events reads that page only; an object type alone is served by the
            # primary key, scanned newest first.
            models.Index(fields=["object_id", "id"], name="audit_object_id"),
            models.Index(fields=["actor_id", "id"], name="audit_actor_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    action__in=["create", "update", "void", "delete", "read", "list", "export"]
                ),
                name="audit_action_valid",
            )
        ]

    def __str__(self) -> str:
        who = self.actor_label or self.actor_id
        when = f"{self.at:%Y-%m-%d %H:%M:%S}"
        return f"{when} {who} {self.action} {self.object_type} {self.object_id}"
