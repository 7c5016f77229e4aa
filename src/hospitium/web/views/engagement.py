"""Feedback (``/feedback/``) and campaigns (``/campaigns/``): lists, details, a response to
feedback, and patients joining or leaving a campaign, through the apps' services."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from hospitium.campaigns.models import Campaign, Participation
from hospitium.campaigns.selectors import (
    campaign_get,
    campaign_list,
    participation_get,
    participation_list,
)
from hospitium.campaigns.services import participation_join, participation_set_outcome
from hospitium.core.errors import HospitiumError, NotFound
from hospitium.feedback.models import Feedback
from hospitium.feedback.selectors import feedback_get, feedback_list
from hospitium.feedback.services import feedback_respond
from hospitium.web.access import WRITE, can, require
from hospitium.web.choosing import chosen_patient, matching_patients
from hospitium.web.forms import AccessibleForm, show_refusal
from hospitium.web.pages import hospital_page, render_page

#: Rows shown on a list page.
LIMIT = 100


class ResponseForm(AccessibleForm):
    response = forms.CharField(
        label=_("Response"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )


@hospital_page
def feedback_index(request: HttpRequest) -> HttpResponse:
    """The latest feedback, newest first."""
    require("feedback")
    return render_page(
        request,
        "web/feedback_list.html",
        {"rows": list(feedback_list()[:LIMIT])},
    )


@hospital_page
@require_http_methods(["GET", "POST"])
def feedback_detail(request: HttpRequest, feedback_id: str) -> HttpResponse:
    """One piece of feedback, and the hospital's response (roles that may write feedback)."""
    require("feedback")
    item: Feedback = feedback_get(feedback_id)
    may_respond = can("feedback", WRITE)
    form = ResponseForm(request.POST or None, initial={"response": item.response})
    if request.method == "POST":
        require("feedback", WRITE)
        if form.is_valid():
            try:
                feedback_respond(feedback=item, response=form.cleaned_data["response"])
            except HospitiumError as exc:
                show_refusal(form, exc)
            else:
                messages.success(request, gettext("The response is saved."))
                return redirect(f"/feedback/{item.pk}/")
    return render_page(
        request,
        "web/feedback_detail.html",
        {
            "item": item,
            "patient": item.visit.patient,
            "form": form,
            "may_respond": may_respond,
            "can_read_patients": can("patients"),
        },
    )


@hospital_page
def campaign_index(request: HttpRequest) -> HttpResponse:
    """Campaigns with their number of participants."""
    require("campaigns")
    return render_page(
        request, "web/campaigns_list.html", {"campaigns": list(campaign_list()[:LIMIT])}
    )


@hospital_page
def campaign_detail(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """One campaign; its participants and joining or leaving, for roles that may see them."""
    require("campaigns")
    campaign: Campaign = campaign_get(campaign_id)
    query = request.GET.get("q", "").strip()
    patient = chosen_patient(request.GET.get("patient"))
    may_see = can("participations")
    may_enrol = can("participations", WRITE)
    return render_page(
        request,
        "web/campaigns_detail.html",
        {
            "campaign": campaign,
            "participations": list(participation_list(campaign)[:LIMIT]) if may_see else None,
            "may_enrol": may_enrol,
            "query": query,
            "results": matching_patients(query) if may_enrol and query and not patient else None,
            "patient": patient if may_enrol else None,
            "action": f"/campaigns/{campaign.pk}/",
            "dropped": Participation.Outcome.DROPPED,
        },
    )


@hospital_page
@require_POST
def campaign_join(request: HttpRequest, campaign_id: str) -> HttpResponse:
    require("participations", WRITE)
    campaign = campaign_get(campaign_id)
    patient = chosen_patient(request.POST.get("patient"))
    if patient is None:
        raise NotFound("No such patient.")
    try:
        participation_join(campaign=campaign, patient=patient)
    except HospitiumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            gettext("%(name)s takes part.")
            % {"name": f"{patient.given_name} {patient.family_name}"},
        )
    return redirect(f"/campaigns/{campaign.pk}/")


@hospital_page
@require_POST
def campaign_leave(request: HttpRequest, participation_id: str) -> HttpResponse:
    """A patient leaves a campaign: their participation ends as "dropped out" (kept, so the
    campaign's figures still count who joined)."""
    require("participations", WRITE)
    participation = participation_get(participation_id)
    try:
        participation_set_outcome(
            participation=participation, outcome=Participation.Outcome.DROPPED
        )
    except HospitiumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("The patient has left the campaign."))
    return redirect(f"/campaigns/{participation.campaign_id}/")
