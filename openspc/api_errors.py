"""The REST API's exception handler: DRF's, plus 404 for an object that vanished mid-request.

A view checks its object exists before writing, but it can be deleted between that check and
the write (the pipeline's lock then finds no row and raises `DoesNotExist`). That is the same
"no such object" the client would have got a moment earlier, not a server error.
"""

from django.core.exceptions import ObjectDoesNotExist
from rest_framework.exceptions import NotFound
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, ObjectDoesNotExist):
        exc = NotFound("No such object.")
    return drf_exception_handler(exc, context)
