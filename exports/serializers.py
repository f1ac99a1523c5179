from rest_framework import serializers

from jobs.fields import PriorityField

from .models import Export


class ExportSubmitSerializer(serializers.Serializer):
    dataset = serializers.ChoiceField(choices=Export.Dataset.choices)
    format = serializers.ChoiceField(choices=Export.Format.choices)
    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)
    priority = PriorityField()

    def validate(self, attrs):
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from and date_to and date_from > date_to:
            raise serializers.ValidationError(
                {"date_to": ["Must be on or after date_from."]}, code="invalid_range"
            )
        return attrs


class ExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Export
        fields = [
            "id",
            "dataset",
            "file_format",
            "date_from",
            "date_to",
            "rows",
            "size",
            "created_at",
            "finished_at",
            "expires_at",
            "job",
        ]
        read_only_fields = fields
