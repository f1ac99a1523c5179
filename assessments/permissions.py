from rest_framework.permissions import BasePermission


class HasOrganisation(BasePermission):
    """Allow only users who belong to an organisation."""

    message = "Your account does not belong to an organisation."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "membership"))


def organisation_of(user):
    """Return the organisation whose data ``user`` may see."""
    return user.membership.organisation
