from django.urls import path

from workshops import views

urlpatterns = [
    path("", views.home, name="home"),
    path("workshops/<int:pk>/", views.workshop_detail, name="workshop-detail"),
]
