from django.urls import path

from workshops import action_views

urlpatterns = [
    path("actions/mine/", action_views.my_actions, name="my-actions"),
    path("actions/<int:pk>/", action_views.action_detail, name="action-detail"),
    path("actions/<int:pk>/status/", action_views.action_status, name="action-status"),
    path("actions/<int:pk>/replan/", action_views.action_replan, name="action-replan"),
    path("teams/<int:team_id>/actions/", action_views.team_actions, name="team-actions"),
    path("teams/<int:team_id>/actions.csv", action_views.team_actions_csv, name="team-actions-csv"),
    path("workshops/<int:pk>/summary/", action_views.workshop_summary, name="workshop-summary"),
    path(
        "workshops/<int:pk>/plan-next/", action_views.workshop_plan_next, name="workshop-plan-next"
    ),
    path("calendar/reset/", action_views.calendar_reset, name="calendar-reset"),
    path("calendar/<str:token>.ics", action_views.calendar_feed, name="calendar-feed"),
]
