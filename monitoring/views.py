"""The home page, and the participation dashboards of the ARS and the ministry: national,
regional and départemental pages, the lists of legal entities behind each figure, the
exports (CSV, XLSX) and a region's PDF report. Each page resolves its place with
`selectors.place_for` (404 outside the user's scope) and reads in a constant number of
queries."""

from collections.abc import Iterator, Sequence

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts import audit
from accounts.typing import AuthenticatedRequest
from applications import worklist
from applications.models import FundingCall
from establishments.models import LegalEntity

from . import drilldown, exports, panels, report, selectors, tables
from .forms import DEFAULT_RATE, DashboardForm, EntityFilterForm, with_defaults
from .selectors import DEPARTEMENT, NATION, REGION, Place, Territory

PAGE_SIZE = 50


def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {}
    if request.user.is_authenticated:
        scope = request.user.scope
        context["own_entities"] = (
            LegalEntity.objects.filter(id__in=scope.legal_entity_ids)
            .select_related("department__region", "ght")
            .order_by("name")
        )
        context["regions"] = (
            request.user.memberships.filter(region__isnull=False)
            .select_related("region")
            .values_list("region__name", flat=True)
        )
        context["is_national"] = scope.national
        if scope.region_ids:
            context["to_instruct"] = worklist.tab_counts(request.user, worklist.Filters())[
                worklist.Tab.TO_INSTRUCT.value
            ]
    return render(request, "home.html", context)


# --- Dashboards ------------------------------------------------------------------------------


def _dashboard_form(request: HttpRequest) -> tuple[DashboardForm, FundingCall | None]:
    options = selectors.calls()
    default = selectors.default_call(options)
    data = with_defaults(request.GET, appel=default.code if default else None, carte=DEFAULT_RATE)
    form = DashboardForm(data, calls=options)
    return form, form.chosen(default)


def _dashboard(request: AuthenticatedRequest, place: Place, where: Territory) -> HttpResponse:
    form, call = _dashboard_form(request)
    board = selectors.dashboard(place=place, call=call, where=where)
    result = panels.panels(board, form.rate())
    code = call.code if call else None
    context = {
        "form": form,
        "board": board,
        "place": place,
        "call": call,
        "panels": result,
        "exports": [
            (
                table,
                panels.export_url(place, code, table, "csv"),
                panels.export_url(place, code, table, "xlsx"),
            )
            for table in panels.EXPORT_TABLES
            if panels.table_for_export(result, table) is not None
        ],
        "national_url": panels.dashboard_url(NATION, None, code),
        "region_url": (
            panels.dashboard_url(REGION, place.region_code, code) if place.region_code else ""
        ),
        "may_see_nation": selectors.visibility(request.user).national,
        "report_url": (panels.report_url(place, code) if place.scope == REGION else ""),
    }
    return render(request, "monitoring/dashboard.html", context)


@login_required
@require_GET
def national(request: AuthenticatedRequest) -> HttpResponse:
    """The ministry's page; an ARS agent is sent to their region (or chooses one)."""
    where = selectors.territory()
    seen = selectors.visibility(request.user)
    if not seen.national:
        regions = seen.regions(where)
        if not regions:
            raise Http404
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        if len(regions) == 1:
            return redirect(panels.dashboard_url(REGION, regions[0].code) + query)
        return render(
            request,
            "monitoring/region_choice.html",
            {"regions": [(r, panels.dashboard_url(REGION, r.code) + query) for r in regions]},
        )
    place = selectors.place_for(request.user, scope=NATION, code=None, where=where)
    return _dashboard(request, place, where)


def _place_dashboard(request: AuthenticatedRequest, scope: str, code: str) -> HttpResponse:
    """The dashboard of a region or a département (not found outside the user's scope)."""
    where = selectors.territory()
    place = selectors.place_for(request.user, scope=scope, code=code, where=where)
    return _dashboard(request, place, where)


@login_required
@require_GET
def region(request: AuthenticatedRequest, code: str) -> HttpResponse:
    return _place_dashboard(request, REGION, code)


@login_required
@require_GET
def department(request: AuthenticatedRequest, code: str) -> HttpResponse:
    return _place_dashboard(request, DEPARTEMENT, code)


# --- Lists -----------------------------------------------------------------------------------


def _list_place(request: AuthenticatedRequest, where: Territory) -> Place:
    """The list's place from `departement`, else `region`, else the nation (an ARS agent
    of one region: their region); 404 outside the user's scope. A département outside
    the chosen region is left out (the form says so at its field)."""
    department_code = request.GET.get("departement", "").strip()
    region_code = request.GET.get("region", "").strip()
    department = where.departments.get(department_code)
    if department_code and (
        not region_code or (department and department.region_code == region_code)
    ):
        return selectors.place_for(
            request.user, scope=DEPARTEMENT, code=department_code, where=where
        )
    if region_code:
        return selectors.place_for(request.user, scope=REGION, code=region_code, where=where)
    seen = selectors.visibility(request.user)
    regions = seen.regions(where)
    if not seen.national and len(regions) == 1:
        return selectors.place_for(request.user, scope=REGION, code=regions[0].code, where=where)
    return selectors.place_for(request.user, scope=NATION, code=None, where=where)


def _list_form(request: AuthenticatedRequest, where: Territory, place: Place) -> EntityFilterForm:
    seen = selectors.visibility(request.user)
    regions = seen.regions(where)
    region_code = place.region_code
    departments = where.departments_of(region_code) if region_code else []
    options = selectors.calls()
    default = selectors.default_call(options)
    data = with_defaults(
        request.GET,
        appel=default.code if default else None,
        region=region_code,
        departement=place.code if place.scope == DEPARTEMENT else None,
    )
    return EntityFilterForm(
        data,
        calls=options,
        regions=[(r.code, r.name) for r in regions],
        departments=[(d.code, f"{d.code} – {d.name}") for d in departments],
        national=seen.national,
    )


@login_required
@require_GET
def entities(request: AuthenticatedRequest) -> HttpResponse:
    where = selectors.territory()
    place = _list_place(request, where)
    form = _list_form(request, where, place)
    call = form.chosen(selectors.default_call(form.calls.values()))
    filters = form.filters()
    page = None
    rows: list[drilldown.EntityRow] = []
    if call is not None:
        queryset = drilldown.with_contacts(drilldown.entity_rows(call, place, filters))
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = drilldown.rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    code = call.code if call else None
    extra = {k: str(query.get(k)) for k in ("liste", "groupe", "volet1", "q") if query.get(k)}
    return render(
        request,
        "monitoring/entity_list.html",
        {
            "form": form,
            "place": place,
            "call": call,
            "filters": filters,
            "kind_label": dict(drilldown.EntityList.CHOICES).get(filters.kind, ""),
            "page_obj": page,
            "rows": rows,
            "query_string": query.urlencode(),
            "dashboard_url": panels.dashboard_url(place.scope, place.code, code),
            "csv_url": panels.export_url(place, code, "entites", "csv", **extra),
            "xlsx_url": panels.export_url(place, code, "entites", "xlsx", **extra),
        },
    )


# --- Exports and report ------------------------------------------------------------------------


@login_required
@require_GET
def export(request: AuthenticatedRequest, table: str, fmt: str) -> HttpResponseBase:
    """A table of a dashboard, or a list, as CSV or XLSX (file name: table, place, call
    and date); the place comes from `region` / `departement` as for the lists."""
    if fmt not in ("csv", "xlsx") or table not in (*panels.EXPORT_TABLES, "entites"):
        raise Http404
    where = selectors.territory()
    place = _list_place(request, where)
    form, call = _dashboard_form(request)
    name = exports.filename(table, place.slug, call.code if call else None, fmt)
    rows_iter: Iterator[Sequence[tables.Cell]]
    columns: list[tables.Column]
    if table == "entites":
        filters = _list_form(request, where, place).filters()
        if call is None:
            rows_iter = iter(())
        else:
            queryset = drilldown.with_contacts(drilldown.entity_rows(call, place, filters))
            rows_iter = (
                tables.entity_cells(row)
                for row in drilldown.rows_streamed(queryset.iterator(chunk_size=1000))
            )
        columns = tables.entity_columns()
        title = str(dict(drilldown.EntityList.CHOICES).get(filters.kind, table))
    else:
        board = selectors.dashboard(place=place, call=call, where=where)
        found = panels.table_for_export(panels.panels(board, form.rate()), table)
        if found is None:
            raise Http404
        columns, rows_iter, title = list(found.columns), iter(found.rows), found.title
    audit.record(
        audit.Action.EXPORT,
        request=request,
        table=table,
        format=fmt,
        scope=place.scope,
        code=place.code,
        call=call.code if call else None,
    )
    if fmt == "csv":
        return exports.csv_response(columns, rows_iter, name)
    return exports.xlsx_response(title, columns, rows_iter, name)


@login_required
@require_GET
def region_report(request: AuthenticatedRequest, code: str) -> HttpResponse:
    where = selectors.territory()
    place = selectors.place_for(request.user, scope=REGION, code=code, where=where)
    form, call = _dashboard_form(request)
    board = selectors.dashboard(place=place, call=call, where=where)
    content = report.region_report_pdf(board, panels.panels(board, form.rate()))
    name = exports.filename("rapport", place.slug, call.code if call else None, "pdf")
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
