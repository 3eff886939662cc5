"""The dashboard's pages: the last hour's summary with recent and slowest journeys, and one journey."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from journeys.dashboard.access import api_key_matches, grant_api_key_access, may_view
from journeys.dashboard.presenters import bottlenecks, journey_row, summary_rows
from journeys.dashboard.waterfall import KIND_LABELS, build_waterfall
from journeys.stages import LATENCY_KEYS, LATENCY_LABELS
from journeys.tracker import STATUSES, get_journey_tracker, now_ms

WINDOW_MS = 3_600_000  # "the last hour"
RECENT_LIMIT = 25
SLOWEST_LIMIT = 10
DEFAULT_SLOWEST = "totalRoundTrip"  # what a user means by "the bot is slow"
CHANNELS = tuple(settings.CHANNEL_PLUGINS)


def dashboard_access(view):
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not may_view(request.user, request.session, request.headers):
            return redirect(f"{reverse('journeys-dashboard:login')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = reverse("journeys-dashboard:index")
    error, status = None, 200
    if request.method == "POST":
        if "api_key" in request.POST:
            if api_key_matches(request.POST["api_key"].strip()):
                request.session.cycle_key()  # a fresh session id at every privilege change
                grant_api_key_access(request.session)
                return redirect(next_url)
            error = "That is not this hub's API key (OMNI_API_KEY)."
        else:
            user = authenticate(request, username=request.POST.get("username", ""),
                                password=request.POST.get("password", ""))  # fmt: skip
            if user is not None and user.is_staff:
                login(request, user)
                return redirect(next_url)
            error = "Unknown user or wrong password, or the user is not staff (the Django admin's users)."
        status = 401
    return render(request, "journeys/dashboard/login.html", {"error": error, "next": next_url}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)  # flushes the session, the API-key grant with it
    return redirect("journeys-dashboard:login")


@require_GET
@dashboard_access
def index(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    if errors:
        return render(request, "journeys/dashboard/index.html", _base_context(filters, errors), status=400)
    tracker = get_journey_tracker()
    since = now_ms() - WINDOW_MS
    scope = {"channel": filters["channel"] or None, "instance_id": filters["instanceId"] or None}
    summary = tracker.get_summary(since, **scope)
    listed = {**scope, "since": since, "status": filters["status"] or None}
    recent = tracker.list_journeys(limit=RECENT_LIMIT, **listed)
    slowest = tracker.list_journeys(limit=SLOWEST_LIMIT, slowest=filters["slowest"], **listed)
    context = _base_context(filters, errors)
    context.update(
        summary=summary,
        stage_rows=summary_rows(summary),
        bottlenecks=bottlenecks(summary),
        recent=[journey_row(j) for j in recent],
        slowest=[journey_row(j) for j in slowest],
        slowest_label=LATENCY_LABELS[filters["slowest"]],
    )
    return render(request, "journeys/dashboard/index.html", context)


@require_GET
@dashboard_access
def journey(request: HttpRequest, correlation_id: str) -> HttpResponse:
    tracker = get_journey_tracker()
    found = tracker.get_journey(correlation_id)
    if found is None:
        context = {"correlation_id": correlation_id, "ttl_min": tracker.ttl_ms / 60_000}
        return render(request, "journeys/dashboard/journey_missing.html", context, status=404)
    context = {
        "journey": found,
        "row": journey_row(found),
        "waterfall": build_waterfall(found),
        "kind_labels": KIND_LABELS,
    }
    return render(request, "journeys/dashboard/journey.html", context)


def _filters(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    """The list filters from the query string; a value out of its choices is an error, never ignored."""
    q = request.GET
    filters = {
        "channel": q.get("channel", "").strip(),
        "instanceId": q.get("instanceId", "").strip(),
        "status": q.get("status", "").strip(),
        "slowest": q.get("slowest", "").strip() or DEFAULT_SLOWEST,
    }
    errors = []
    for name, choices in (("channel", CHANNELS), ("status", STATUSES), ("slowest", LATENCY_KEYS)):
        if filters[name] and filters[name] not in choices:
            errors.append(f"{name} must be one of {', '.join(choices)}; got {filters[name]!r}")
    if len(filters["instanceId"]) > 200:
        errors.append("instanceId is longer than 200 characters")
    return filters, errors


def _base_context(filters: dict[str, str], errors: list[str]) -> dict:
    return {
        "filters": filters,
        "errors": errors,
        "channels": CHANNELS,
        "statuses": STATUSES,
        "latency_keys": [(key, LATENCY_LABELS[key]) for key in LATENCY_KEYS],
        "window_label": "last hour",
    }
