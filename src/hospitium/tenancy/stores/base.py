"""What every kind of hospital store can do. One module per kind implements it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from hospitium.tenancy.context import HospitalRef


class Store(ABC):
    """The hospital stores of one placement: the embedded SQLite folder, or one PostgreSQL
    server. Methods take the hospital's ref; none of them consults the current context."""

    kind: ClassVar[str]

    @abstractmethod
    def alias(self, ref: HospitalRef) -> str:
        """The connection alias that reaches this hospital's store."""

    def side_alias(self, ref: HospitalRef) -> str:
        """The alias for short writes made while this thread's ``alias`` connection is still
        reading (a report renewing its lease in the middle of a listing). The same alias here:
        a store whose readers and writers never wait on each other (PostgreSQL) needs no
        second connection."""
        return self.alias(ref)

    @abstractmethod
    def store_name(self, code: str) -> str:
        """The store's name in this placement (a file name, or a schema)."""

    @abstractmethod
    def exists(self, ref: HospitalRef) -> bool: ...

    @abstractmethod
    def ensure_template(self) -> str:
        """Build, if needed, the template migrated to the current fingerprint; return its name."""

    @abstractmethod
    def create(self, ref: HospitalRef) -> None:
        """Create the store as a copy of the template; all or nothing. Raises StoreExists."""

    @abstractmethod
    def remove(self, ref: HospitalRef) -> None:
        """Remove the store and everything in it (missing is fine)."""

    @abstractmethod
    def migrate(self, ref: HospitalRef) -> list[str]:
        """Apply unapplied hospital migrations; return their names."""

    @abstractmethod
    def backup(self, ref: HospitalRef, target: Path) -> None:
        """Write a consistent copy of the store to ``target`` (while it stays online)."""

    @abstractmethod
    def restore(self, ref: HospitalRef, source: Path) -> None:
        """Replace the store's contents with a backup made by ``backup``."""

    @abstractmethod
    def foreign_key_violations(self, ref: HospitalRef) -> list[tuple[str, str, str]]:
        """(table, row, referenced table) for each row whose foreign key points nowhere."""

    @abstractmethod
    def row_counts(self, ref: HospitalRef) -> dict[str, int]:
        """Rows per table, to verify a copy."""

    def close(self, ref: HospitalRef) -> None:
        """Close this thread's connections to the store (before it is replaced or removed)."""
        from hospitium.tenancy.stores import registry

        registry.close_alias(self.alias(ref))


class StoreExists(Exception):
    """A store is already where a new one was to be created."""
