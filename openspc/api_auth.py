"""Token authentication for machines, in one round trip per request.

DRF's TokenAuthentication reads the token with `select_related("user")` through the ORM:
~0.4 ms of query compiling on a request that must take a few milliseconds in all (a machine
posting one sample at a time). This reads the user of the token together with the plants they
may act on (plants.access.user_with_roles) in one plain SELECT; the answers are DRF's.

A view that fetches one plant-owned object named in its URL (the characteristic a sample is
posted to) says so with `@read_with_user(Model)`: that object is then read in the same round
trip as the user (PostgreSQL's pipeline mode), and `plants.access.get_by_pk` takes it from
there — still checking the user's plants, still 404 for anything outside them.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from plants.access import user_with_roles

_USER_OF_TOKEN = f"WHERE u.id = (SELECT user_id FROM {Token._meta.db_table} WHERE key = %s)"


def read_with_user(model, kwarg: str = "pk"):
    """Decorate an `@api_view` function (or put `read_with_user = (model, kwarg)` on an APIView
    class): token authentication reads the `model` whose pk is the URL's `kwarg` with the user."""
    def decorate(view):
        view.cls.read_with_user = (model, kwarg)
        return view
    return decorate


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate(self, request):
        self._with_object = _object_named(request)
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        user = user_with_roles(_USER_OF_TOKEN, [key], getattr(self, "_with_object", None))
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user)
        token._state.adding = False
        return user, token


def _object_named(request):
    """(model, pk) of the object the view declares it will fetch, or None."""
    context = getattr(request, "parser_context", None) or {}
    declared = getattr(context.get("view"), "read_with_user", None)
    if declared is None:
        return None
    model, kwarg = declared
    pk = (context.get("kwargs") or {}).get(kwarg)
    return None if pk is None else (model, pk)
