"""A new user's whole journey through the API alone, for every chart type."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from plants.tests.factories import PASSWORD

CHARTS = {  # chart type → (subgroup size, a sample maker)
    "xbar_r": (5, lambda rng, shift: {"values": list(rng.normal(10 + shift, 1, 5))}),
    "xbar_s": (8, lambda rng, shift: {"values": list(rng.normal(10 + shift, 1, 8))}),
    "imr": (1, lambda rng, shift: {"values": [rng.normal(10 + 3 * shift, 1)]}),
    "ewma": (1, lambda rng, shift: {"values": [rng.normal(10 + shift, 1)]}),
    "cusum": (1, lambda rng, shift: {"values": [rng.normal(10 + shift, 1)]}),
    "p": (100, lambda rng, shift: {"count": int(rng.binomial(100, 0.05 + 0.1 * shift)),
                                   "sample_size": 100}),
    "np": (100, lambda rng, shift: {"count": int(rng.binomial(100, 0.05 + 0.1 * shift)),
                                    "sample_size": 100}),
    "c": (1, lambda rng, shift: {"count": int(rng.poisson(8 + 10 * shift))}),
    "u": (10, lambda rng, shift: {"count": int(rng.poisson(20 + 30 * shift)),
                                  "sample_size": int(rng.integers(8, 12))}),
}


@pytest.mark.django_db
def test_plant_to_acknowledged_violation_through_the_api_for_every_chart_type(cast):
    root = APIClient()
    root.force_authenticate(cast.superuser)
    plant = root.post("/api/v1/plants/", {"name": "Bremen", "code": "BRE"}, format="json").json()
    area = root.post("/api/v1/hierarchy/", {"plant": plant["id"], "name": "Press shop",
                                            "level": 3}, format="json").json()
    line = root.post("/api/v1/hierarchy/", {"plant": plant["id"], "parent": area["id"],
                                            "name": "Press 4", "level": 4}, format="json").json()
    from plants.grants import grant_role
    from plants.models import Plant
    from plants.roles import Role

    grant_role(cast.engineer, Plant.objects.get(pk=plant["id"]), Role.ENGINEER)
    api = APIClient()
    token = api.post("/api/v1/auth/token/", {"username": "engineer", "password": PASSWORD}).json()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token['token']}")
    tree = api.get(f"/api/v1/hierarchy/tree/?plant={plant['id']}").json()
    assert tree["nodes"][0]["children"][0]["name"] == "Press 4"

    rng = np.random.default_rng(42)
    t0 = timezone.now() - timedelta(days=2)
    code = api.get(f"/api/v1/reason-codes/?plant={plant['id']}").json()[0]["id"]
    for chart, (n, make) in CHARTS.items():
        ch = api.post("/api/v1/characteristics/", {
            "node": line["id"], "name": f"{chart} check", "chart_type": chart, "subgroup_size": n,
            "usl": 14, "lsl": 6, "target": 10}, format="json").json()
        base = f"/api/v1/characteristics/{ch['id']}"
        phase1 = [{**make(rng, 0), "timestamp": (t0 + timedelta(minutes=i)).isoformat()}
                  for i in range(30)]
        assert api.post(f"{base}/samples/bulk/", {"samples": phase1},
                        format="json").status_code == 201, chart
        version = api.post(f"{base}/limits/recalculate/",
                           {"first_n": 30, "exclude_ooc": True, "reason": "Phase I"},
                           format="json")
        assert version.status_code == 201, (chart, version.content)
        assert version.json()["version"] == 1
        raised = []
        for _ in range(30, 45):  # now, under the new limits: a sustained shift must signal
            r = api.post(f"{base}/samples/", make(rng, 2.0), format="json")
            assert r.status_code == 201, (chart, r.content)
            raised += r.json()["violations"]
        assert raised, f"{chart}: a shift of 2σ sustained over 15 samples raised no violation"
        chart_data = api.get(f"{base}/chart-data/?last=45").json()
        assert len(chart_data["sample_id"]) == len(chart_data["primary"]["value"]) == 45
        assert any(chart_data["primary"]["rules"])
        capability = api.get(f"{base}/capability/?last=30")
        assert capability.status_code == 200, (chart, capability.content)
        if chart in ("p", "np"):
            assert capability.json()["process_z"] > 0
        elif chart in ("c", "u"):
            assert capability.json()["dpu"] > 0
        else:
            assert capability.json()["cpk"] is not None
        ack = api.post("/api/v1/violations/acknowledge/",
                       {"ids": [v["id"] for v in raised], "reason_code": code,
                        "comment": "die change"}, format="json")
        assert ack.status_code == 200, (chart, ack.content)
        assert {v["acknowledged_by"] for v in ack.json()} == {"engineer"}
    # what is left open (trial-phase signals among the Phase I data) is listed and cleared too
    url = f"/api/v1/violations/?plant={plant['id']}&acknowledged=false&limit=1000"
    left = [v["id"] for v in api.get(url).json()["results"]]
    if left:
        assert api.post("/api/v1/violations/acknowledge/", {"ids": left, "reason_code": code},
                        format="json").status_code == 200
    assert api.get(url).json()["count"] == 0
