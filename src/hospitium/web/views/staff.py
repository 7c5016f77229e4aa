"""The hospital's staff, for its admins: the members and their roles, adding a person (a new
account with a first password, or an existing account), setting a member's roles, removing.

The rules (admins only, never the last admin) and the audit events are the services'
(``hospitium.staff.members``); a refusal becomes an error beside the form's field.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from hospitium.accounts.models import Role
from hospitium.accounts.selectors import Member, member_get, member_list
from hospitium.accounts.services import NotAMember
from hospitium.core.errors import HospitiumError, ValidationFailed
from hospitium.staff.members import member_invite_or_create, member_remove, member_roles_set
from hospitium.web.access import READ, WRITE, current_hospital, require
from hospitium.web.pages import hospital_page, render_page

RESOURCE = "members"


def _roles_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=gettext_lazy("Roles"),
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
    )


class MemberAddForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Email address"), max_length=254)
    full_name = forms.CharField(label=gettext_lazy("Full name"), max_length=200, required=False)
    roles = _roles_field()
    password = forms.CharField(
        label=gettext_lazy("First password"),
        required=False,
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Only for a new account: tell it to the person, who changes it after signing in. "
            "Leave it empty to add someone who already has an account."
        ),
    )


class MemberRolesForm(forms.Form):
    roles = _roles_field()


def _apply_errors(form: forms.Form, exc: HospitiumError) -> None:
    """A service's refusal as form errors: beside its fields, or at the top."""
    fields = exc.fields if isinstance(exc, ValidationFailed) else {}
    placed = False
    for name, errors in fields.items():
        if name in form.fields:
            for error in errors:
                form.add_error(name, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
@hospital_page
def staff_list(request: HttpRequest) -> HttpResponse:
    require(RESOURCE, READ)
    hospital = current_hospital(request)
    form = MemberAddForm(data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require(RESOURCE, WRITE)
        if form.is_valid():
            try:
                user, created = member_invite_or_create(
                    by=request.user,  # type: ignore[arg-type]
                    hospital=hospital,
                    email=form.cleaned_data["email"],
                    full_name=form.cleaned_data["full_name"],
                    roles=form.cleaned_data["roles"],
                    password=form.cleaned_data["password"] or None,
                )
            except (ValidationFailed, NotAMember) as exc:
                _apply_errors(form, exc)
            else:
                note = _("Account created for %(email)s.") if created else _("%(email)s added.")
                messages.success(request, note % {"email": user.email})
                return redirect("/staff/")
    members = member_list(hospital_id=hospital.id)
    return render_page(
        request,
        "web/staff_list.html",
        {"members": members, "form": form, "role_labels": dict(Role.choices)},
    )


def _member_or_404(request: HttpRequest, user_id: int) -> Member:
    member = member_get(hospital_id=current_hospital(request).id, user_id=user_id)
    if member is None:
        raise NotAMember(_("No such member of this hospital."))
    return member


@require_http_methods(["GET", "POST"])
@hospital_page
def staff_member(request: HttpRequest, user_id: int) -> HttpResponse:
    require(RESOURCE, READ)
    member = _member_or_404(request, user_id)
    if request.method == "POST":
        require(RESOURCE, WRITE)
        form = MemberRolesForm(data=request.POST)
        if form.is_valid():
            try:
                member_roles_set(
                    by=request.user,  # type: ignore[arg-type]
                    hospital=current_hospital(request),
                    user=member.user,
                    roles=form.cleaned_data["roles"],
                )
            except ValidationFailed as exc:
                _apply_errors(form, exc)
            except HospitiumError as exc:
                if exc.http_status != 422:
                    raise
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Roles of %(email)s saved.") % {"email": member.email})
                return redirect(f"/staff/{member.id}/")
    else:
        form = MemberRolesForm(initial={"roles": list(member.roles)})
    return render_page(
        request,
        "web/staff_member.html",
        {"member": member, "form": form, "is_self": member.id == request.user.pk},
    )


@require_POST
@hospital_page
def staff_member_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    require(RESOURCE, WRITE)
    member = _member_or_404(request, user_id)
    try:
        member_remove(
            by=request.user,  # type: ignore[arg-type]
            hospital=current_hospital(request),
            user=member.user,
        )
    except HospitiumError as exc:
        if exc.http_status != 422:
            raise
        form = MemberRolesForm(data={"roles": list(member.roles)})
        form.is_valid()
        form.add_error(None, exc.message)
        return render_page(
            request,
            "web/staff_member.html",
            {"member": member, "form": form, "is_self": member.id == request.user.pk},
        )
    messages.success(request, _("%(email)s removed from the staff.") % {"email": member.email})
    return redirect("/staff/")


__all__ = ["staff_list", "staff_member", "staff_member_remove"]
