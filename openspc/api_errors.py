"""The REST API's errors: DRF's exception handler, plus 404 for an object that vanished
mid-request; and the JSON 404 for a path the API does not have.

A view checks its object exists before writing, but it can be deleted between that check and
the write (the pipeline's lock then finds no row and raises `DoesNotExist`). That is the same
"no such object" the client would have got a moment earlier, not a server error.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import NotFound
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, ObjectDoesNotExist):
        exc = NotFound("No such object.")
    return drf_exception_handler(exc, context)


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any other path under the API (a typo, an id that is not a number): the API's JSON 404,
    not the HTML page meant for people."""
    return JsonResponse({"detail": "Not found."}, status=404)
