from django.urls import path

from boards import views

urlpatterns = [
    path("boards/<int:pk>/", views.board, name="board"),
    path("ws/boards/<int:pk>/", views.board_ws, name="board-ws"),
    path("ws/me/", views.board_ws, name="me-ws"),
    path("boards/<int:pk>/notes/", views.note_create, name="note-create"),
    path("boards/<int:pk>/notes/new/", views.note_add, name="note-add"),
    path("boards/<int:pk>/capture/interactions/", views.capture_interactions, name="capture-interactions"),
    path("boards/<int:pk>/phases/new/", views.phase_add, name="phase-add"),
    path("notes/<int:pk>/edit/", views.note_edit, name="note-edit"),
    path("notes/<int:pk>/move/", views.note_move, name="note-move"),
    path("notes/<int:pk>/reorder/", views.note_reorder, name="note-reorder"),
    path("notes/<int:pk>/delete/", views.note_delete, name="note-delete"),
    path("phases/<int:pk>/edit/", views.phase_edit, name="phase-edit"),
    path("phases/<int:pk>/move/", views.phase_move, name="phase-move"),
    path("phases/<int:pk>/interactions/new/", views.interaction_add, name="interaction-add"),
    path("interactions/<int:pk>/edit/", views.interaction_edit, name="interaction-edit"),
    path("interactions/<int:pk>/move/", views.interaction_move, name="interaction-move"),
    path("boards/<int:pk>/session/stage/", views.session_stage, name="session-stage"),
    path("boards/<int:pk>/session/focus/", views.session_focus, name="session-focus"),
    path("boards/<int:pk>/session/lock/", views.session_lock, name="session-lock"),
    path("boards/<int:pk>/session/private/", views.session_private, name="session-private"),
    path("boards/<int:pk>/session/timer/", views.session_timer, name="session-timer"),
    path("boards/<int:pk>/voting/open/", views.voting_open, name="voting-open"),
    path("boards/<int:pk>/voting/close/", views.voting_close, name="voting-close"),
    path("boards/<int:pk>/voting/reveal/", views.voting_reveal, name="voting-reveal"),
    path("notes/<int:pk>/vote/", views.note_vote, name="note-vote"),
    path("boards/<int:pk>/actions/new/", views.action_create, name="action-create"),
]
