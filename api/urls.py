from django.urls import path

from api.views import parties, tokens

app_name = "api"
urlpatterns = [
    path("me/", parties.MeView.as_view(), name="me"),
    path("parties/", parties.PartyListView.as_view(), name="party-list"),
    path("parties/<uuid:party_id>/", parties.PartyDetailView.as_view(), name="party-detail"),
    path("tokens/", tokens.TokenListView.as_view(), name="token-list"),
    path("tokens/<str:token_id>/revoke/", tokens.TokenRevokeView.as_view(), name="token-revoke"),
]
