from django.urls import path

from boards.consumers import BoardConsumer, PersonalConsumer

websocket_urlpatterns = [
    path("ws/boards/<int:scenario_id>/", BoardConsumer.as_asgi()),
    path("ws/me/", PersonalConsumer.as_asgi()),
]
