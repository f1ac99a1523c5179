import io

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from . import services
from .models import AbilityEstimate, CalibrationRun, ItemParameter


def previous_run(run):
    """The organisation's successful run finished before ``run``, if any."""
    runs = CalibrationRun.objects.filter(
        organisation_id=run.organisation_id, status=CalibrationRun.Status.SUCCEEDED
    ).exclude(pk=run.pk)
    if run.finished_at:
        runs = runs.filter(finished_at__lt=run.finished_at)
    return runs.order_by("-finished_at").first()


def _num(value, digits=3):
    return "–" if value is None else f"{value:.{digits}f}"


@admin.register(CalibrationRun)
class CalibrationRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "organisation",
        "method",
        "status",
        "n_persons",
        "n_items",
        "converged",
        "n_iterations",
        "fit_seconds",
        "finished_at",
    ]
    list_filter = ["status", "method", "converged", "organisation"]
    search_fields = ["id", "organisation__name"]
    list_select_related = ["organisation"]
    date_hierarchy = "created_at"
    actions = ["recalibrate"]
    readonly_fields = [f.name for f in CalibrationRun._meta.fields] + [
        "comparison_with_previous_run"
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Parameters against the previous run")
    def comparison_with_previous_run(self, run):
        before = previous_run(run)
        old = {}
        if before is not None:
            old = {p.item_id: p for p in before.items.all()}
        rows = []
        for p in run.items.select_related("item").order_by("item__code"):
            q = old.get(p.item_id)
            rows.append(
                (
                    p.item.code,
                    _num(p.discrimination),
                    _num(q.discrimination if q else None),
                    _num(p.discrimination - q.discrimination if q else None),
                    _num(p.difficulty),
                    _num(q.difficulty if q else None),
                    _num(p.difficulty - q.difficulty if q else None),
                    p.flag or "",
                )
            )
        header = format_html(
            "<p>Previous run: {}</p>",
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:calibration_calibrationrun_change", args=[before.pk]),
                before,
            )
            if before
            else "none",
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            rows,
        )
        return format_html(
            "{}<table><tr><th>item</th><th>a</th><th>a before</th><th>Δa</th>"
            "<th>b</th><th>b before</th><th>Δb</th><th>flag</th></tr>{}</table>",
            header,
            body,
        )

    @admin.action(description="Calibrate these organisations again")
    def recalibrate(self, request, queryset):
        count = 0
        with transaction.atomic():
            for org_id in set(queryset.values_list("organisation_id", flat=True)):
                run = queryset.filter(organisation_id=org_id).first()
                services.submit_calibration(
                    run.organisation, user=request.user, method=run.method
                )
                count += 1
        self.message_user(
            request, f"{count} calibration job(s) queued.", level=messages.SUCCESS
        )


@admin.register(ItemParameter)
class ItemParameterAdmin(admin.ModelAdmin):
    list_display = [
        "item",
        "run",
        "discrimination",
        "difficulty",
        "se_discrimination",
        "se_difficulty",
        "n_responses",
        "p_value",
        "infit",
        "outfit",
        "flag",
    ]
    list_filter = ["flag", "run__method", "run__organisation"]
    search_fields = ["item__code"]
    list_select_related = ["item", "run"]
    readonly_fields = [f.name for f in ItemParameter._meta.fields] + [
        "characteristic_curve"
    ]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/icc.png",
                self.admin_site.admin_view(self.icc_view),
                name="calibration_itemparameter_icc",
            )
        ] + super().get_urls()

    @admin.display(description="Item characteristic curve")
    def characteristic_curve(self, parameter):
        if parameter.pk is None:
            return "–"
        url = reverse("admin:calibration_itemparameter_icc", args=[parameter.pk])
        return format_html('<img src="{}" alt="ICC" width="480">', url)

    def icc_view(self, request, pk):
        parameter = get_object_or_404(ItemParameter, pk=pk)
        return HttpResponse(icc_png(parameter), content_type="image/png")


def icc_png(parameter):
    """Draw P(correct | theta) of a 2PL item as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    theta = np.linspace(-4, 4, 161)
    a, b = parameter.discrimination, parameter.difficulty
    prob = 1.0 / (1.0 + np.exp(-a * (theta - b)))
    figure = Figure(figsize=(6, 3.2), dpi=100)
    axes = figure.subplots()
    axes.plot(theta, prob, color="#1f3b63")
    axes.axvline(b, color="#999", linestyle=":", linewidth=1)
    axes.set_xlabel("Ability (θ)")
    axes.set_ylabel("P(correct)")
    axes.set_ylim(0, 1)
    axes.set_title(f"{parameter.item.code}: a = {a:.2f}, b = {b:.2f}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@admin.register(AbilityEstimate)
class AbilityEstimateAdmin(admin.ModelAdmin):
    list_display = ["student", "run", "theta", "se"]
    list_filter = ["run__organisation"]
    search_fields = ["student__external_id"]
    list_select_related = ["student", "run"]
    raw_id_fields = ["student", "run"]

    def has_add_permission(self, request):
        return False
