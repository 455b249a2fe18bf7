from django.urls import path

from workshops import action_views

urlpatterns = [
    path("actions/mine/", action_views.my_actions, name="my-actions"),
    path("actions/<int:pk>/", action_views.action_detail, name="action-detail"),
]
