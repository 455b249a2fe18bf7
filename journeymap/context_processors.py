from functools import cache

from django.http import HttpRequest

from workshops.render import new_actions_count


def csp_nonce(request: HttpRequest) -> dict[str, object]:
    """Expose the CSP nonce under the name django-htmx's {% htmx_script %} reads."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}


def new_actions(request: HttpRequest) -> dict[str, object]:
    """How many open actions were given to the signed-in user and are not yet seen in "My
    actions", for the menu. Counted only by a page that shows it (a callable: templates call it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"new_actions": 0}

    return {"new_actions": cache(lambda: new_actions_count(user))}
