"""Which groups a page is watching now, as the Django cache remembers (shared by every web
process when OPENSPC_REDIS_URL is set): a consumer marks its groups when it subscribes and
again at each of its page's pings, for WATCH_S.

The publisher draws a characteristic's new points (chart data, the costly part of a message)
only while a page watches it; otherwise it stores a cheap `refresh` and sends it only if a page
started watching meanwhile — a page that catches up later re-reads its chart instead. A page
that drops off keeps its marks for up to WATCH_S, so a short disconnection still replays points.
"""

from django.core.cache import cache

WATCH_S = 150  # live.js pings every 60 s


def _key(group: str) -> str:
    return f"openspc:live:watch:{group}"


async def watch(groups) -> None:
    await cache.aset_many({_key(g): 1 for g in groups}, WATCH_S)


def watched(group: str) -> bool:
    return cache.get(_key(group)) is not None
