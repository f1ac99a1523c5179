from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from jobs.fields import PriorityField

from .models import EmailDelivery, WebhookDelivery, WebhookEndpoint
from .services import breaks_header, organisation_recipients
from .webhooks import validate_webhook_url

AUDIENCES = [
    ("teachers", "Every teacher of the organisation"),
    ("admins", "Every administrator of the organisation"),
    ("members", "Every member of the organisation"),
]


class BulkEmailSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=50_000)
    audience = serializers.ChoiceField(choices=AUDIENCES, default="teachers")
    priority = PriorityField()

    def validate_subject(self, value):
        if breaks_header(value):
            raise serializers.ValidationError(
                "The subject must be one line.", code="multiline"
            )
        return value

    def validate(self, attrs):
        organisation = self.context["organisation"]
        if not organisation_recipients(organisation, attrs["audience"]):
            raise serializers.ValidationError(
                {"audience": ["Nobody in this audience has an e-mail address."]},
                code="no_recipients",
            )
        return attrs


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.Event.choices),
        required=False,
        default=list,
        allow_empty=True,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "active", "events", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, value):
        try:
            validate_webhook_url(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code="unsafe_url")
        return value


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """Shown once, on registration: the only answer that carries the secret."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookEndpointSerializer.Meta.read_only_fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "job",
            "status",
            "attempts",
            "status_code",
            "error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class EmailDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = EmailDelivery
        fields = ["recipient", "status", "reason", "attempts", "sent_at"]
        read_only_fields = fields
