"""ASGI entry point: Django for HTTP, Channels for the board websockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeymap.settings")

from journeymap.handlers import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from boards.routing import websocket_urlpatterns  # noqa: E402
from journeymap.websocket import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
