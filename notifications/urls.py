from django.urls import path

from . import views

urlpatterns = [
    path("notifications/bulk/", views.BulkEmailView.as_view(), name="bulk-email"),
    path(
        "notifications/jobs/<uuid:pk>/deliveries/",
        views.EmailDeliveryListView.as_view(),
        name="email-deliveries",
    ),
    path("webhooks/", views.WebhookEndpointListView.as_view(), name="webhook-list"),
    path(
        "webhooks/<uuid:pk>/",
        views.WebhookEndpointDetailView.as_view(),
        name="webhook-detail",
    ),
    path(
        "webhooks/<uuid:pk>/deliveries/",
        views.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
]
