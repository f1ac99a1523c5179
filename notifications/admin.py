from django import forms
from django.contrib import admin, messages

from .models import EmailDelivery, WebhookDelivery, WebhookEndpoint
from .webhooks import validate_webhook_url


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    list_display = ["recipient", "status", "attempts", "sent_at", "job", "created_at"]
    list_filter = ["status"]
    search_fields = ["recipient", "job__id"]
    list_select_related = ["job"]
    readonly_fields = [f.name for f in EmailDelivery._meta.fields]


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ["organisation", "url", "active", "events"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        validate_webhook_url(url)
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "organisation", "active", "events", "created_at"]
    list_filter = ["active", "organisation"]
    search_fields = ["url", "organisation__name"]
    list_select_related = ["organisation"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "status_code",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["id", "endpoint__url", "job__id"]
    list_select_related = ["endpoint"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    @admin.action(description="Deliver the selected events again")
    def redeliver(self, request, queryset):
        from .tasks import deliver_webhook

        count = queryset.update(status=WebhookDelivery.Status.PENDING)
        for pk in queryset.values_list("pk", flat=True):
            deliver_webhook.delay(str(pk))
        messages.info(request, f"{count} deliveries queued again.")
