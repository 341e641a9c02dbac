"""WebSocket routes; the live consumers arrive with the alerts and chart issues."""

websocket_urlpatterns: list = []
