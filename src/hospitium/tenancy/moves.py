"""Moving a hospital's store to another PostgreSQL server: back up, restore there, verify, switch
the placement, drop the old schema. The hospital is read-only throughout."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from hospitium.tenancy import stores
from hospitium.tenancy.backups import locked
from hospitium.tenancy.errors import MoveRefused
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.selectors import forget_cached_hospitals, hospital_get
from hospitium.tenancy.stores.postgresql import PostgresStore

logger = logging.getLogger(__name__)


@dataclass
class MoveResult:
    code: str
    source: str
    target: str
    rows: int


def hospital_move(*, code: str, to_server: str) -> MoveResult:
    """Move a hospital to ``to_server``. Raises HospitalNotFound or MoveRefused; on any failure
    the hospital stays where it was, writable again, and nothing is left on the target."""
    hospital = hospital_get(code)
    if to_server not in settings.HOSPITIUM_HOSPITAL_SERVERS:
        known = ", ".join(settings.HOSPITIUM_HOSPITAL_SERVERS) or "none"
        raise MoveRefused(f"There is no server {to_server!r} (configured: {known}).")
    if not hospital.server:
        raise MoveRefused(
            f"Hospital {hospital.code} is on the embedded store; only hospitals on PostgreSQL "
            "servers can be moved."
        )
    if hospital.server == to_server:
        raise MoveRefused(f"Hospital {hospital.code} is already on {to_server}.")
    if hospital.status not in (Hospital.Status.ACTIVE, Hospital.Status.ARCHIVED):
        raise MoveRefused(f"Hospital {hospital.code} is {hospital.status}; repair it first.")
    source_ref = hospital.as_ref()
    source = stores.store_for(source_ref)
    target = stores.store_for_server(to_server)
    assert isinstance(source, PostgresStore) and isinstance(target, PostgresStore)
    if target.schema_exists(hospital.store_name):
        raise MoveRefused(
            f"Server {to_server} already has a schema {hospital.store_name}; remove it first."
        )
    with locked(hospital, f"moving to {to_server}"), tempfile.TemporaryDirectory() as folder:
        dump = Path(folder) / f"{hospital.code}.dump"
        source.backup(source_ref, dump)
        target_ref = replace(source_ref, server=to_server)
        try:
            target.restore(target_ref, dump)
            before, after = source.row_counts(source_ref), target.row_counts(target_ref)
            if before != after:
                raise MoveRefused(
                    f"The copy on {to_server} does not match the original ({after} != {before})."
                )
            Hospital.objects.filter(pk=hospital.pk).update(server=to_server)
        except BaseException:
            target.remove(target_ref)
            raise
        stores.close_hospital_connections()
        source.remove(source_ref)
    forget_cached_hospitals()
    rows = sum(before.values())
    logger.info("moved hospital %s from %s to %s (%d rows)", code, source.server, to_server, rows)
    return MoveResult(code=hospital.code, source=source.server, target=to_server, rows=rows)
