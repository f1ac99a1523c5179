"""Model instances read with hand-written SQL, for the API's hottest reads.

Building a query through the ORM costs far more CPU than running it: on the
2-core API machines, compiling the token lookup (a join of four tables) took
0.34 ms and the whole lookup 0.83 ms, against 0.15 ms for the same SQL sent
as text. The few queries every submission runs are therefore written out
here, their column lists taken from the models so they follow migrations, and
their rows turned into instances exactly as the ORM does (the same database
converters, ``Model.from_db``).
"""

from django.db import connection


class Columns:
    """The concrete columns of ``model`` under a table alias, and their reader."""

    def __init__(self, model, alias):
        self.model = model
        self.alias = alias
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = self.fields.index(model._meta.pk)
        self._converters = None

    def __len__(self):
        return len(self.fields)

    def sql(self):
        """Return the select list, e.g. ``t."id", t."name"``."""
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def converters(self):
        # The converters the ORM's compiler applies to each column (a UUID
        # stored as text by SQLite, JSON read as text, ...), looked up once.
        if self._converters is None:
            self._converters = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                found = connection.ops.get_db_converters(
                    column
                ) + column.get_db_converters(connection)
                if found:
                    self._converters.append((index, column, found))
        return self._converters

    def instance(self, values):
        """Return the instance of this row slice, or None for a missing row."""
        if values[self.pk_index] is None:
            return None
        values = list(values)
        for index, column, converters in self.converters():
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def fetch_one(sql, params, *columns):
    """Run ``sql`` and return one instance (or None) per ``Columns`` in order.

    ``sql`` selects the columns of each ``Columns`` one after the other; with
    no row at all, every instance is None.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return [None] * len(columns)
    instances = []
    start = 0
    for part in columns:
        instances.append(part.instance(row[start : start + len(part)]))
        start += len(part)
    return instances


def analyze(tables):
    """Refresh PostgreSQL's planner statistics of ``tables`` (names); else nothing.

    An ANALYZE samples a fixed number of rows, so it costs little even on a
    large table.
    """
    if connection.vendor != "postgresql" or not tables:
        return
    quoted = ", ".join(connection.ops.quote_name(name) for name in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {quoted}")
