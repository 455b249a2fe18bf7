from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # Before the auth URLs: workshops.urls answers /accounts/login/ with the rate-limited sign-in.
    path("", include("workshops.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("workshops.action_urls")),
    path("", include("boards.urls")),
]

handler403 = "journeymap.views.permission_denied"
handler404 = "journeymap.views.page_not_found"
