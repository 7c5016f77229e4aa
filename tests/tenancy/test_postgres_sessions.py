"""A server connection's schema follows the current hospital, and stays right after a rollback,
an error, or when the pool hands out a connection another hospital used last."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction

from hospitium.patients.models import Patient
from hospitium.tenancy import stores
from hospitium.tenancy.context import current_hospital, hospital_context
from hospitium.tenancy.provisioning import hospital_create
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql_only]


@pytest.fixture
def same_server() -> tuple[str, str]:
    """Two hospitals on server s1 (placement puts every other one there)."""
    for code in ("ONE", "TWO", "THREE"):
        hospital_create(code=code, name=code, domains=[f"{code.lower()}.example.test"])
    return "ONE", "THREE"


def search_path(alias: str) -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


def test_two_hospitals_on_one_server_share_a_connection_but_not_their_rows(same_server):
    one, three = same_server
    with hospital_context(one):
        factories.patient(mrn="P-ONE")
        alias = stores.alias_for(_ref(one))
    with hospital_context(three):
        assert stores.alias_for(_ref(three)) == alias
        assert list(Patient.objects.values_list("mrn", flat=True)) == []
        factories.patient(mrn="P-THREE")
    with hospital_context(one):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["P-ONE"]


def settle() -> None:
    """Put the server connection on the current hospital's session. A raw query always brings
    the session along; an ORM read names its tables with the schema and does not switch."""
    alias = stores.alias_for(current_hospital())
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1 FROM patients_patient LIMIT 1")


def _ref(code: str):
    from hospitium.tenancy.selectors import hospital_ref_by_code

    return hospital_ref_by_code(code)


def test_the_schema_is_right_after_a_rolled_back_transaction(same_server):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        settle()
    with hospital_context(three):
        # The switch to THREE happens inside a transaction that is then rolled back, which
        # undoes the SET too: the connection must not believe it is still on THREE.
        with pytest.raises(RuntimeError), transaction.atomic(using=alias):
            factories.patient(mrn="ROLLED-BACK")
            raise RuntimeError("abort")
        assert search_path(alias).startswith('"hospital_three"')
        assert Patient.objects.count() == 0
        factories.patient(mrn="KEPT")
    with hospital_context(one):
        assert Patient.objects.count() == 0
    with hospital_context(three):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["KEPT"]


def test_the_schema_is_right_after_an_error_and_a_savepoint_rollback(same_server):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        factories.patient(mrn="DUP")
    with hospital_context(three), transaction.atomic(using=alias):
        factories.patient(mrn="DUP")  # no clash: another hospital
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            factories.patient(mrn="DUP")
        assert Patient.objects.filter(mrn="DUP").count() == 1
        with hospital_context(one):
            assert Patient.objects.filter(mrn="DUP").count() == 1
        assert search_path(alias).startswith('"hospital_three"')


def test_a_pooled_connection_last_used_for_another_hospital_is_switched(same_server):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        factories.patient(mrn="FROM-ONE")
    # Hand the connection back to the pool while it still points at ONE …
    stores.close_hospital_connections()
    with hospital_context(three):
        # … and take one out for THREE: it must not see ONE's rows.
        assert Patient.objects.count() == 0
        assert search_path(alias).startswith('"hospital_three"')


def test_with_no_hospital_a_raw_query_finds_no_tables(same_server):
    one, _three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        settle()
    with (
        pytest.raises(DatabaseError, match="does not exist"),
        connections[alias].cursor() as cursor,
    ):
        cursor.execute("SELECT count(*) FROM patients_patient")


def test_an_archived_hospital_session_is_read_only_in_the_database(same_server):
    from hospitium.tenancy.provisioning import hospital_archive

    one, _three = same_server
    hospital_archive(code=one)
    with hospital_context(one):
        alias = stores.alias_for(_ref(one))
        with connections[alias].cursor() as cursor:
            cursor.execute("SHOW default_transaction_read_only")
            assert cursor.fetchone()[0] == "on"


def test_leaving_an_archived_hospital_for_a_writable_one_inside_a_transaction_writes(same_server):
    from hospitium.tenancy.provisioning import hospital_archive

    one, three = same_server
    hospital_archive(code=one)
    alias = stores.alias_for(_ref(three))
    with hospital_context(one):
        settle()  # the connection's session is now read-only
    with hospital_context(three), transaction.atomic(using=alias):
        factories.patient(mrn="WRITABLE")
    with hospital_context(three):
        assert Patient.objects.filter(mrn="WRITABLE").exists()


# -- the switch rides with the first statement that needs it --------------------------------


def actual_session(alias: str) -> tuple[str, str]:
    """The server's search path and default read-only mode, asked without switching anything."""
    raw = connections[alias].connection
    return raw.execute(
        "SELECT current_setting('search_path'), current_setting('default_transaction_read_only')"
    ).fetchone()


@pytest.fixture
def apart(monkeypatch) -> list[str]:
    """Records every session switch made in a round trip of its own."""
    from hospitium.tenancy.backends.postgresql import base

    calls: list[str] = []
    original = base._switch_apart

    def spy(connection, wanted):
        calls.append(wanted.key)
        return original(connection, wanted)

    monkeypatch.setattr(base, "_switch_apart", spy)
    return calls


def _two_patients(one: str, three: str) -> str:
    """A patient with the same MRN in both hospitals; returns the server alias."""
    for code in (one, three):
        with hospital_context(code):
            factories.patient(mrn="SAME", given_name=code)
    return stores.alias_for(_ref(one))


def test_the_switch_goes_in_front_of_the_first_query_in_one_round_trip(same_server, apart):
    from django.test.utils import CaptureQueriesContext

    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    apart.clear()
    with (
        hospital_context(three),
        CaptureQueriesContext(connections[alias]) as captured,
        connections[alias].cursor() as cursor,
    ):
        cursor.execute("SELECT given_name FROM patients_patient WHERE mrn LIKE %s", ["%SAM%"])
        names = cursor.fetchall()
    assert names == [(three,)]
    assert apart == []
    assert len(captured.captured_queries) == 1
    sent = captured.captured_queries[0]["sql"]
    assert sent.startswith("SET transaction_read_only TO off; SELECT pg_catalog.set_config(")
    assert "'\"hospital_three\"'::pg_catalog.regnamespace; SELECT" in sent
    assert actual_session(alias)[0] == '"hospital_three", "extensions"'
    assert connections[alias].hospitium_session == "hospital_three|rw"


def test_a_connection_already_on_the_schema_sends_the_query_alone(same_server):
    from django.test.utils import CaptureQueriesContext

    one, _three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        settle()
        with CaptureQueriesContext(connections[alias]) as captured:
            settle()
    assert captured.captured_queries[0]["sql"].startswith("SELECT 1 FROM patients_patient")


def test_a_failing_first_query_outside_a_transaction_undoes_the_switch(same_server):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with (
        hospital_context(three),
        pytest.raises(DatabaseError, match="no_such_table"),
        connections[alias].cursor() as cursor,
    ):
        cursor.execute("SELECT * FROM no_such_table")
    # The settings and the query were one implicit transaction: both are undone, and the
    # connection must not believe it moved.
    assert actual_session(alias)[0].startswith('"hospital_one"')
    assert connections[alias].hospitium_session is None
    with hospital_context(three):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [three]
    with hospital_context(one):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [one]


def test_a_failing_first_query_that_committed_the_switch_itself_is_not_trusted(same_server):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with (
        hospital_context(three),
        pytest.raises(DatabaseError, match="division by zero"),
        connections[alias].cursor() as cursor,
    ):
        # The caller's COMMIT ends the implicit transaction the settings began in: they stay.
        cursor.execute("SELECT 1; COMMIT; SELECT 1/0")
    assert actual_session(alias)[0].startswith('"hospital_three"')
    with hospital_context(one):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [one]


def test_a_failing_first_query_inside_a_transaction_is_rolled_back_and_forgotten(same_server):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with (
        hospital_context(three),
        pytest.raises(IntegrityError),
        transaction.atomic(using=alias),
    ):
        factories.patient(mrn="SAME")  # the first statement after the switch, and it fails
    assert connections[alias].hospitium_session is None
    assert actual_session(alias)[0].startswith('"hospital_one"')
    with hospital_context(three):
        assert Patient.objects.filter(mrn="SAME").count() == 1
        assert search_path(alias).startswith('"hospital_three"')


def test_a_failing_switch_inside_a_savepoint_is_forgotten_with_it(same_server):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one), transaction.atomic(using=alias):
        settle()  # the transaction is under way on ONE
        with hospital_context(three):
            with pytest.raises(IntegrityError), transaction.atomic(using=alias):
                factories.patient(mrn="SAME")
            assert list(Patient.objects.values_list("given_name", flat=True)) == [three]
        assert list(Patient.objects.values_list("given_name", flat=True)) == [one]


def test_a_caught_error_then_commit_forgets_the_switch_it_undid(same_server):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()  # on ONE before the transaction
    with hospital_context(one), transaction.atomic(using=alias):
        settle()
        with hospital_context(three):
            settle()  # switched to THREE inside the transaction
            assert Patient.objects.count() == 1
            try:
                with connections[alias].cursor() as cursor:
                    cursor.execute("SELECT 1/0")
            except DatabaseError:
                pass  # wrong, but it happens: the transaction is now failed
    # Django committed; PostgreSQL rolled back instead, and the switch to THREE with it.
    assert actual_session(alias)[0].startswith('"hospital_one"')
    assert connections[alias].hospitium_session is None
    with hospital_context(three):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [three]


def test_executemany_as_the_first_query_after_a_switch_runs_in_the_new_schema(same_server, apart):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with hospital_context(three), connections[alias].cursor() as cursor:
        cursor.executemany(
            "UPDATE patients_patient SET family_name = %s WHERE mrn = %s",
            [("Changed", "SAME"), ("Changed", "NOBODY")],
        )
    assert apart == ["hospital_three|rw"]
    with hospital_context(three):
        assert Patient.objects.get(mrn="SAME").family_name == "Changed"
    with hospital_context(one):
        assert Patient.objects.get(mrn="SAME").family_name != "Changed"


@pytest.mark.parametrize("in_transaction", [False, True])
def test_a_server_side_cursor_as_the_first_query_after_a_switch_reads_the_new_schema(
    same_server, apart, in_transaction
):
    from contextlib import nullcontext

    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    apart.clear()
    block = transaction.atomic(using=alias) if in_transaction else nullcontext()
    with hospital_context(three), block:
        names = list(Patient.objects.values_list("given_name", flat=True).iterator(chunk_size=1))
    assert names == [three]
    # Declared over the extended protocol, so switched apart first (outside any transaction).
    assert apart == ["hospital_three|rw"]
    assert actual_session(alias)[0].startswith('"hospital_three"')


def test_a_raw_multi_statement_query_after_a_switch_keeps_its_own_results(same_server):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with hospital_context(three), connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT given_name FROM patients_patient; SELECT count(*) + 41 FROM patients_patient"
        )
        assert cursor.fetchall() == [(three,)]
        assert cursor.nextset()
        assert cursor.fetchall() == [(42,)]
        assert not cursor.nextset()
    # Several statements of the caller's: the switch is not trusted to have lasted.
    assert connections[alias].hospitium_session is None
    with hospital_context(three):
        assert search_path(alias).startswith('"hospital_three"')


def test_a_raw_statement_that_refuses_transaction_blocks_still_runs_after_a_switch(
    same_server, apart
):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        settle()
    with hospital_context(three), connections[alias].cursor() as cursor:
        cursor.execute("VACUUM patients_patient")
    assert apart == ["hospital_three|rw"]


def test_set_transaction_first_in_a_transaction_after_a_switch_still_works(same_server, apart):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with (
        hospital_context(three),
        transaction.atomic(using=alias),
        connections[alias].cursor() as cursor,
    ):
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(
            "SELECT current_setting('transaction_isolation'), given_name FROM patients_patient"
        )
        assert cursor.fetchall() == [("repeatable read", three)]
    assert apart == ["hospital_three|rw"]


def test_a_missing_schema_on_the_first_query_leaves_the_connection_where_it_was(same_server):
    from hospitium.tenancy.errors import HospitalStoreUnavailable
    from tests.storehelp import raw_execute

    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    # Dropped from elsewhere, while this connection stays checked out (and on ONE).
    raw_execute(three, 'DROP SCHEMA "hospital_three" CASCADE')
    with hospital_context(three), pytest.raises(HospitalStoreUnavailable, match="THREE"):
        settle()
    assert actual_session(alias)[0].startswith('"hospital_one"')
    with hospital_context(one):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [one]
    with (
        hospital_context(three),
        pytest.raises(HospitalStoreUnavailable, match="THREE"),
        transaction.atomic(using=alias),
    ):
        factories.patient()
    with hospital_context(one):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [one]


def test_an_error_of_the_query_itself_is_not_taken_for_a_missing_schema(same_server):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        settle()
    with (
        hospital_context(three),
        pytest.raises(DatabaseError, match='schema "nowhere" does not exist'),
        connections[alias].cursor() as cursor,
    ):
        cursor.execute("SELECT nowhere.f()")


def test_leaving_an_archived_hospital_the_first_raw_write_outside_a_transaction_works(
    same_server,
):
    from hospitium.tenancy.provisioning import hospital_archive

    one, three = same_server
    alias = _two_patients(one, three)
    hospital_archive(code=one)
    with hospital_context(one):
        settle()
    assert actual_session(alias)[1] == "on"
    with hospital_context(three), connections[alias].cursor() as cursor:
        # Outside a transaction the settings and the UPDATE are one implicit transaction,
        # which began while the session was still read-only.
        cursor.execute("UPDATE patients_patient SET family_name = 'Written'")
    with hospital_context(three):
        assert Patient.objects.get().family_name == "Written"


@pytest.mark.parametrize("in_transaction", [False, True])
def test_entering_an_archived_hospital_the_first_raw_write_is_refused(same_server, in_transaction):
    from contextlib import nullcontext

    from hospitium.tenancy.provisioning import hospital_archive

    one, three = same_server
    alias = _two_patients(one, three)
    hospital_archive(code=three)
    with hospital_context(one):
        settle()
    block = transaction.atomic(using=alias) if in_transaction else nullcontext()
    with (
        hospital_context(three),
        pytest.raises(DatabaseError, match="read-only"),
        block,
        connections[alias].cursor() as cursor,
    ):
        cursor.execute("UPDATE patients_patient SET family_name = 'Written'")
    with hospital_context(three):
        assert Patient.objects.get().family_name != "Written"


def test_leaving_an_archived_hospital_a_nested_atomic_first_still_writes(same_server):
    from hospitium.tenancy.provisioning import hospital_archive

    one, three = same_server
    hospital_archive(code=one)
    alias = stores.alias_for(_ref(three))
    with hospital_context(one):
        settle()
    # The inner block's SAVEPOINT is the transaction's first statement.
    with (
        hospital_context(three),
        transaction.atomic(using=alias),
        transaction.atomic(using=alias),
    ):
        factories.patient(mrn="NESTED")
    with hospital_context(three):
        assert Patient.objects.filter(mrn="NESTED").exists()


def test_a_connection_closed_by_the_server_is_replaced_and_switched(same_server):
    from django.db import OperationalError

    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
        pid = connections[alias].connection.info.backend_pid
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    with hospital_context(three), pytest.raises(OperationalError):
        settle()
    stores.close_hospital_connections()
    with hospital_context(three):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [three]
        assert connections[alias].connection.info.backend_pid != pid


# -- reads that name their schema need no switch ----------------------------------------------


def test_an_orm_read_names_the_schema_and_reads_its_hospital_without_a_switch(same_server, apart):
    from django.test.utils import CaptureQueriesContext

    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with hospital_context(three), CaptureQueriesContext(connections[alias]) as captured:
        names = list(Patient.objects.filter(mrn__contains="SAM").values_list("given_name"))
        assert Patient.objects.filter(mrn="SAME").exists()
        assert Patient.objects.count() == 1
    assert names == [(three,)]
    assert apart == []
    sent = [query["sql"] for query in captured.captured_queries]
    assert len(sent) == 3
    for sql in sent:
        assert sql.startswith("SELECT")
        assert '"hospital_three"."patients_patient"' in sql
        assert "set_config" not in sql
    # The connection was not moved: it is still on ONE, and knows it.
    assert actual_session(alias)[0].startswith('"hospital_one"')
    assert connections[alias].hospitium_session == "hospital_one|rw"


def test_joins_and_subqueries_name_the_schema_of_the_bound_hospital(same_server):
    from django.db.models import Count, Exists, OuterRef
    from django.test.utils import CaptureQueriesContext

    from hospitium.scheduling.models import Appointment

    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(three):
        from datetime import UTC, datetime, timedelta

        start = datetime(2026, 3, 2, 9, tzinfo=UTC)
        appointment = Appointment.objects.create(
            patient=Patient.objects.get(mrn="SAME"),
            practitioner=factories.practitioner(),
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
        )
    with hospital_context(one):
        settle()
    with hospital_context(three), CaptureQueriesContext(connections[alias]) as captured:
        joined = list(
            Appointment.objects.filter(patient__mrn="SAME").values_list(
                "patient__given_name", "practitioner__department__name"
            )
        )
        booked = list(
            Patient.objects.filter(
                Exists(Appointment.objects.filter(patient=OuterRef("pk")))
            ).values_list("given_name", flat=True)
        )
        # A sliced aggregate: SQLAggregateCompiler around a subquery.
        counted = Patient.objects.order_by("mrn")[:5].aggregate(n=Count("id"))
        named = [a.patient.given_name for a in Appointment.objects.select_related("patient").all()]
    assert joined == [(three, appointment.practitioner.department.name)]
    assert booked == [three]
    assert counted == {"n": 1}
    assert named == [three]
    assert '"hospital_three"."patients_patient"' in captured.captured_queries[2]["sql"]
    for query in captured.captured_queries:
        assert "set_config" not in query["sql"]
        assert '"hospital_one"' not in query["sql"]
    assert '"hospital_three"."staff_department"' in captured.captured_queries[0]["sql"]
    assert '"hospital_three"."scheduling_appointment" U0' in captured.captured_queries[1]["sql"]


def test_a_write_after_a_qualified_read_still_switches_and_lands_in_its_hospital(same_server):
    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with hospital_context(three):
        patient = Patient.objects.get(mrn="SAME")  # qualified: the connection stays on ONE
        assert actual_session(alias)[0].startswith('"hospital_one"')
        Patient.objects.filter(pk=patient.pk).update(family_name="Moved")
        assert actual_session(alias)[0].startswith('"hospital_three"')
    with hospital_context(one):
        assert Patient.objects.get(mrn="SAME").family_name != "Moved"
    with hospital_context(three):
        assert Patient.objects.get(mrn="SAME").family_name == "Moved"


def test_raw_sql_inside_an_orm_read_makes_it_switch(same_server, apart):
    from django.db.models.expressions import RawSQL
    from django.test.utils import CaptureQueriesContext

    one, three = same_server
    alias = _two_patients(one, three)
    with hospital_context(one):
        settle()
    with hospital_context(three), CaptureQueriesContext(connections[alias]) as captured:
        counted = list(
            Patient.objects.annotate(
                others=RawSQL("SELECT count(*) FROM patients_patient", ())
            ).values_list("given_name", "others")
        )
    assert counted == [(three, 1)]
    assert "set_config" in captured.captured_queries[0]["sql"]
    assert actual_session(alias)[0].startswith('"hospital_three"')


def test_a_qualified_read_does_not_skip_into_an_archived_hospitals_mode(same_server):
    from hospitium.tenancy.provisioning import hospital_archive

    one, three = same_server
    alias = _two_patients(one, three)
    hospital_archive(code=one)
    with hospital_context(three):
        settle()  # read-write
    with hospital_context(one):
        assert list(Patient.objects.values_list("given_name", flat=True)) == [one]
        # The mode differs, so the read brought the archived hospital's session along.
        assert actual_session(alias) == ('"hospital_one", "extensions"', "on")
        with pytest.raises(DatabaseError, match="read-only"), connections[alias].cursor() as c:
            c.execute("UPDATE patients_patient SET family_name = 'x'")


@pytest.mark.parametrize(
    ("sql", "unqualified"),
    [
        ('SELECT 1 FROM "hospital_a"."t" INNER JOIN "hospital_a"."u" ON (1=1)', False),
        ('SELECT 1 FROM "hospital_a"."t" U0 WHERE EXISTS(SELECT 1 FROM "hospital_a"."u")', False),
        ("SELECT 1 FROM (SELECT 1) subquery", False),
        ('SELECT 1 FROM "t"', True),
        ('SELECT 1 FROM "hospital_a"."t" LEFT OUTER JOIN "u" ON (1=1)', True),
        ("SELECT 1 FROM patients_patient", True),
        ('SELECT EXTRACT(YEAR FROM T3."start") FROM "hospital_a"."t" T3', True),
        # The keyword in any case, on a word boundary only.
        ('select 1 from "t"', True),
        ('SELECT 1 From\n\t"t"', True),
        ('SELECT 1 FROM "hospital_a"."t" join u ON (1=1)', True),
        ('SELECT "t"."joinx", x_from "y" FROM "hospital_a"."t"', False),
        ('SELECT "t"."from" FROM "hospital_a"."t"', False),
    ],
)
def test_the_last_check_finds_any_table_without_its_schema(sql, unqualified):
    from hospitium.tenancy.backends.postgresql.compiler import unqualified as check

    assert check(sql) is unqualified


def test_the_last_checks_answers_are_kept_by_text_and_bounded(monkeypatch):
    from hospitium.tenancy.backends.postgresql import compiler

    monkeypatch.setattr(compiler, "_answers", {})
    monkeypatch.setattr(compiler, "MAX_ANSWERS", 3)
    searched: list[str] = []
    real = compiler._UNQUALIFIED

    class Counting:
        def search(self, sql: str):
            searched.append(sql)
            return real.search(sql)

    monkeypatch.setattr(compiler, "_UNQUALIFIED", Counting())
    qualified, bare = 'SELECT 1 FROM "hospital_a"."t"', 'SELECT 1 FROM "t"'
    assert [compiler.unqualified(s) for s in (qualified, bare, qualified, bare)] == [
        False,
        True,
        False,
        True,
    ]
    assert searched == [qualified, bare]
    for n in range(10):
        compiler.unqualified(f'SELECT {n} FROM "t"')  # noqa: S608 - a text, never run
        assert len(compiler._answers) <= 3


def test_the_compile_hook_calls_what_super_would():
    from hospitium.tenancy.backends.postgresql import compiler

    for cls in (compiler.SQLCompiler, compiler.SQLAggregateCompiler):
        assert super(compiler._QualifiedReads, cls).compile is compiler._django_compile
