"""Report settings checked by the real templates' own parameter rules, in the hospital bound."""

from __future__ import annotations

import pytest

from hospitium.core.errors import ValidationFailed
from hospitium.reports import registry
from hospitium.reports.configuration import (
    report_retention_update,
    report_template_setting_update,
)
from hospitium.reports.models import ReportTemplateSetting
from hospitium.tenancy.context import hospital_context
from tests import factories

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        "visit_trends" not in registry.templates(), reason="needs the visit_trends template"
    ),
]


def test_a_default_department_must_be_one_of_this_hospital(hospital_a, hospital_b):
    with hospital_context("BRAVO"):
        theirs = factories.department()
    with hospital_context("ALPHA"):
        ours = factories.department()
        saved = report_template_setting_update(
            template_key="visit_trends",
            default_parameters={"department": str(ours.pk), "kind": "dental"},
        )
        assert saved.default_parameters == {"department": str(ours.pk), "kind": "dental"}
        with pytest.raises(ValidationFailed) as refused:
            report_template_setting_update(
                template_key="visit_trends", default_parameters={"department": str(theirs.pk)}
            )
        assert refused.value.fields == {
            "default_parameters.department": ["No department with this id in this hospital."]
        }
        with pytest.raises(ValidationFailed) as bad_kind:
            report_template_setting_update(
                template_key="visit_trends", default_parameters={"kind": "surgical"}
            )
        assert list(bad_kind.value.fields) == ["default_parameters.kind"]
        row = ReportTemplateSetting.objects.get(template_key="visit_trends")
        assert row.default_parameters == {"department": str(ours.pk), "kind": "dental"}
    with hospital_context("BRAVO"):
        assert not ReportTemplateSetting.objects.filter(
            template_key="visit_trends", default_parameters__has_key="department"
        ).exists()


def test_retention_accepts_its_bounds_and_refuses_beyond(hospital_a):
    with hospital_context("ALPHA"):
        assert report_retention_update(retention_days=1).retention_days == 1
        assert report_retention_update(retention_days=3650).retention_days == 3650
        for days in (0, 3651, True):
            with pytest.raises(ValidationFailed):
                report_retention_update(retention_days=days)
