from django.urls import path, re_path

from api.views import ledger

app_name = "ledger"
urlpatterns = [
    path("checkpoint", ledger.CheckpointView.as_view(), name="checkpoint"),
    path("entries", ledger.EntriesView.as_view(), name="entries"),
    path("entries/<int:index>", ledger.EntryView.as_view(), name="entry"),
    path("proof/inclusion", ledger.InclusionProofView.as_view(), name="inclusion-proof"),
    path("proof/consistency", ledger.ConsistencyProofView.as_view(), name="consistency-proof"),
    path("keys", ledger.KeysView.as_view(), name="keys"),
    path("later-entries", ledger.LaterEntriesView.as_view(), name="later-entries"),
    re_path(r"^tile/(?P<path>.+)$", ledger.TileView.as_view(), name="tile"),
]
