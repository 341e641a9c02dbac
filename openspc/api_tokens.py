from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view
from rest_framework.response import Response


@extend_schema(request=None, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def revoke_token(request):
    """Revoke your API token; the next POST to auth/token/ issues a new one."""
    deleted, _ = Token.objects.filter(user=request.user).delete()
    return Response({"revoked": bool(deleted)})
