"""URL routes of the accounts API (under /api/v1/)."""

from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/tokens", api.TokenListView.as_view(), name="auth-tokens"),
    path("auth/tokens/<int:token_id>", api.TokenDetailView.as_view(), name="auth-token-detail"),
    path(
        "projects/<int:project_id>/invitations",
        api.ProjectInvitationsView.as_view(),
        name="project-invitations",
    ),
    path(
        "projects/<int:project_id>/invitations/<int:invitation_id>",
        api.ProjectInvitationDetailView.as_view(),
        name="project-invitation-detail",
    ),
    path(
        "projects/<int:project_id>/members/<str:username>",
        api.ProjectMemberDetailView.as_view(),
        name="project-member-detail",
    ),
    path("invitations/<str:token>", api.InvitationView.as_view(), name="invitation"),
    path(
        "invitations/<str:token>/accept",
        api.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
]
