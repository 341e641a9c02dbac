from django.conf import settings
from django.http import JsonResponse


class RequestSizeLimitMiddleware:
    """Answer 413 to a request body larger than OPENSPC_MAX_REQUEST_MB before anyone reads it.

    Django's own DATA_UPLOAD_MAX_MEMORY_SIZE is only checked by `request.body`; DRF reads the
    stream directly, so a 50 MB JSON body would otherwise be parsed in full.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        limit = settings.MAX_REQUEST_BYTES
        if length > limit:
            return JsonResponse(
                {"detail": f"The request body is {length:,} bytes; the limit is {limit:,} bytes. "
                           "Send fewer samples per request."},
                status=413,
            )
        return self.get_response(request)

