from rest_framework import serializers

from jobs.fields import FiniteFloatField, PriorityField, StrictIntegerField

from .models import CalibrationRun, ItemParameter


class CalibrationSubmitSerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=CalibrationRun.Method.choices, required=False
    )
    max_iter = StrictIntegerField(min_value=1, max_value=10_000, required=False)
    tol = FiniteFloatField(min_value=1e-12, max_value=1e-1, required=False)
    priority = PriorityField()


class ItemParameterSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ItemParameter
        fields = [
            "item",
            "discrimination",
            "difficulty",
            "guessing",
            "se_discrimination",
            "se_difficulty",
            "n_responses",
            "p_value",
            "item_total_correlation",
            "infit",
            "outfit",
            "flag",
        ]


class CalibrationRunSerializer(serializers.ModelSerializer):
    items = ItemParameterSerializer(many=True, read_only=True)

    class Meta:
        model = CalibrationRun
        fields = [
            "id",
            "job",
            "method",
            "model",
            "status",
            "n_persons",
            "n_items",
            "n_responses",
            "converged",
            "n_iterations",
            "log_likelihood",
            "read_seconds",
            "fit_seconds",
            "settings",
            "error",
            "created_at",
            "finished_at",
            "items",
        ]
        read_only_fields = fields
