"""Public routes reached from emails: open pixel, tracked links, unsubscribe (signed tokens)."""

from django.urls import path

from engine import engagement_views

urlpatterns = [
    path("m/o/<str:token>.gif", engagement_views.email_open, name="email-open"),
    path("m/c/<str:token>", engagement_views.email_click, name="email-click"),
    path("unsubscribe/<str:token>", engagement_views.unsubscribe, name="unsubscribe"),
]
