"""WebSocket routes."""

from django.urls import path

from alerts.consumers import LiveConsumer

websocket_urlpatterns: list = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
