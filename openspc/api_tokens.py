from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view
from rest_framework.response import Response

_User = get_user_model()


class TokenRequestSerializer(AuthTokenSerializer):
    """DRF's, with the username no longer than a user's can be: a longer one went on to
    django-axes, whose record of the failed login cannot hold it (a 500 on PostgreSQL)."""

    username = serializers.CharField(
        label=_("Username"), write_only=True,
        max_length=_User._meta.get_field(_User.USERNAME_FIELD).max_length)


class ObtainToken(ObtainAuthToken):
    """Your API token, from your username and password (the same token until revoked)."""

    serializer_class = TokenRequestSerializer


obtain_token = ObtainToken.as_view()


@extend_schema(request=None, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def revoke_token(request):
    """Revoke your API token; the next POST to auth/token/ issues a new one."""
    deleted, _ = Token.objects.filter(user=request.user).delete()
    return Response({"revoked": bool(deleted)})
