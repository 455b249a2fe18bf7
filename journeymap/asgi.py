"""ASGI entry point: Django for HTTP, Channels for the board websockets."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeymap.settings")

from journeymap.handlers import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from boards.routing import websocket_urlpatterns  # noqa: E402
from journeymap.websocket import AuthMiddlewareStack, SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


def _freeze_what_was_loaded() -> None:
    """Take what start-up loaded (Django, the URLs, the board page's templates: about 100,000
    objects that live as long as the process) out of the garbage collector's sight. Otherwise
    every full collection walks them all again, 50 to 100 ms during which no board gets a push
    and no request an answer."""
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - loads the URLconf and every view module
    get_template("boards/board.html")
    gc.collect()
    gc.freeze()


_freeze_what_was_loaded()
