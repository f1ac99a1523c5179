"""Token authentication that reads the user's organisation in the same query."""

import functools

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from dreamseed.sql import Columns, fetch_one

from .models import Membership, Organisation


@functools.cache
def _token_query():
    """Return the SQL of the token lookup and its four column groups."""
    from django.db import connection

    quote = connection.ops.quote_name
    token_user = Token._meta.get_field("user")
    user_model = token_user.related_model
    token = Columns(Token, "t")
    user = Columns(user_model, "u")
    membership = Columns(Membership, "m")
    organisation = Columns(Organisation, "o")
    sql = (
        f"SELECT {token.sql()}, {user.sql()}, {membership.sql()}, "
        f"{organisation.sql()} "
        f"FROM {quote(Token._meta.db_table)} t "
        f"INNER JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{quote(user_model._meta.pk.column)} = t.{quote(token_user.column)} "
        f"LEFT OUTER JOIN {quote(Membership._meta.db_table)} m "
        f"ON m.{quote(Membership._meta.get_field('user').column)} "
        f"= u.{quote(user_model._meta.pk.column)} "
        f"LEFT OUTER JOIN {quote(Organisation._meta.db_table)} o "
        f"ON o.{quote(Organisation._meta.pk.column)} "
        f"= m.{quote(Membership._meta.get_field('organisation').column)} "
        f"WHERE t.{quote(Token._meta.pk.column)} = %s"
    )
    return sql, (token, user, membership, organisation)


class OrganisationTokenAuthentication(TokenAuthentication):
    """DRF's token scheme, joining the membership and organisation.

    Every request scopes its queries to the user's organisation, so reading
    it with the token saves two queries a request. The query is written out
    (see ``dreamseed.sql``): through the ORM it cost 0.83 ms of CPU a
    request, as text 0.15 ms.
    """

    def authenticate_credentials(self, key):
        if "\x00" in key:
            # PostgreSQL refuses the character in text: no token has it.
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        sql, columns = _token_query()
        token, user, membership, organisation = fetch_one(sql, [key], *columns)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        # Link the instances as select_related would, so neither
        # ``user.membership`` nor its organisation costs another query; a user
        # without a membership is remembered as such.
        token.user = user
        if membership is None:
            type(user).membership.related.set_cached_value(user, None)
        else:
            membership.organisation = organisation
            user.membership = membership
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token
