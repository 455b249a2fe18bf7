from django.urls import path

from boards.consumers import BoardConsumer

websocket_urlpatterns = [
    path("ws/boards/<int:scenario_id>/", BoardConsumer.as_asgi()),
]
