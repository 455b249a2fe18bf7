from django.urls import path

from workshops import views

urlpatterns = [
    # Before django.contrib.auth's URLs (see journeymap/urls.py): the rate-limited sign-in.
    path("accounts/login/", views.sign_in, name="login"),
    path("join/<str:token>/", views.join_link, name="join-link"),
    path("join/", views.join, name="join"),
    path("", views.home, name="home"),
    path("teams/new/", views.team_create, name="team-new"),
    path("teams/<int:pk>/", views.team_detail, name="team-detail"),
    path("teams/<int:pk>/edit/", views.team_edit, name="team-edit"),
    path("teams/<int:pk>/members/new/", views.member_add, name="member-add"),
    path("teams/<int:pk>/members/<int:member_pk>/edit/", views.member_edit, name="member-edit"),
    path("teams/<int:pk>/workshops/new/", views.workshop_create, name="workshop-new"),
    path("teams/<int:pk>/personas/", views.persona_list, name="persona-list"),
    path("teams/<int:pk>/personas/new/", views.persona_create, name="persona-new"),
    path("personas/<int:pk>/edit/", views.persona_edit, name="persona-edit"),
    path("workshops/<int:pk>/", views.workshop_detail, name="workshop-detail"),
    path("workshops/<int:pk>/edit/", views.workshop_edit, name="workshop-edit"),
    path("workshops/<int:pk>/status/", views.workshop_status, name="workshop-status"),
    path("workshops/<int:pk>/scenarios/new/", views.scenario_create, name="scenario-new"),
    path("scenarios/<int:pk>/edit/", views.scenario_edit, name="scenario-edit"),
    path("workshops/<int:pk>/invitations/", views.invitation_list, name="invitation-list"),
    path("invitations/<int:pk>/", views.invitation_show, name="invitation-show"),
    path("invitations/<int:pk>/rotate/", views.invitation_rotate, name="invitation-rotate"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path(
        "workshops/<int:pk>/guests/<int:member_pk>/remove/", views.guest_revoke, name="guest-revoke"
    ),
]
