"""Query parameters of the REST API, read strictly: bad text answers 400 with a field message.

`str.isdigit()` is true for '²' and other digits `int()` refuses, and `int()` takes '٣', ' 7',
'+7' and '1_000'; a 30-digit id overflows the database driver. Both were server errors.
"""

import re

from rest_framework.exceptions import ValidationError
from rest_framework.fields import DateTimeField
from rest_framework.pagination import LimitOffsetPagination

MAX_ID = 2**63 - 1  # a 64-bit id column (bigint; SQLite's INTEGER)
MAX_PAGE = 1000
MAX_OFFSET = 2**53
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def positive_int(text, limit: int = MAX_ID) -> int | None:
    """`text` as an integer from 1 to `limit` when it is ASCII digits only, else None."""
    if not isinstance(text, str) or not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= limit else None


def id_param(params, name: str, message: str = "Give a numeric id.",
             required: bool = False) -> int | None:
    """The id in the query parameter `name` (None when absent and not `required`); a 400
    `{name: [message]}` unless it is a positive integer that fits an id column."""
    if name not in params and not required:
        return None
    value = positive_int(params.get(name))
    if value is None:
        raise ValidationError({name: [message]})
    return value


def datetime_param(params, name: str):
    """The aware datetime in the query parameter `name` (None when absent); a 400
    `{name: [...]}` unless it is ISO 8601."""
    if name not in params:
        return None
    try:
        return DateTimeField().to_internal_value(params[name])
    except ValidationError:
        raise ValidationError({name: ["Give an ISO 8601 date and time."]}) from None


class Pages(LimitOffsetPagination):
    """DRF's `limit`/`offset` pages (100 rows unless asked), both bounded: DRF passes any
    number on to the database, which cannot hold one of 20 digits. At most MAX_PAGE rows."""

    max_limit = MAX_PAGE

    def get_offset(self, request):
        return min(super().get_offset(request), MAX_OFFSET)
