"""Serializer fields shared by the submission endpoints."""

from rest_framework import serializers

from .priorities import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY


class PriorityField(serializers.IntegerField):
    """0-9, higher is more urgent; booleans and numeric strings are refused."""

    default_error_messages = {
        "invalid": "A whole number from 0 to 9 is required.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", MIN_PRIORITY)
        kwargs.setdefault("max_value", MAX_PRIORITY)
        kwargs.setdefault("default", DEFAULT_PRIORITY)
        kwargs.setdefault("help_text", "0-9, higher is more urgent; 5 when left out.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrganisationObjectField(serializers.PrimaryKeyRelatedField):
    """A UUID that must name an object of the caller's organisation."""

    default_error_messages = {
        "does_not_exist": "No such object in your organisation: {pk_value}.",
        "incorrect_type": "A UUID is required, not {data_type}.",
    }

    def __init__(self, model, **kwargs):
        self.model = model
        kwargs.setdefault("pk_field", serializers.UUIDField())
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.filter(organisation=self.context["organisation"])

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)
