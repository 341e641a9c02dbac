"""The sample inspector: a sample's values, verdict and history, why it was flagged, and the
actions on it (acknowledge, exclude/restore, correct, annotate). Pages under
/p/<plant>/c/<id>/samples/<sid>/."""

urlpatterns: list = []
