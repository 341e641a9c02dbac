import pytest
from django.core.management import call_command

from spc.models import Characteristic, Violation


@pytest.mark.django_db
def test_the_demo_command_prints_passwords_that_work_and_is_repeatable(client, capsys):
    call_command("load_demo")
    call_command("load_demo")  # a second start refreshes passwords, duplicates nothing
    out = capsys.readouterr().out.splitlines()
    creds = dict(line.split() for line in out if line.startswith("  demo-"))
    assert set(creds) == {"demo-operator", "demo-supervisor", "demo-engineer", "demo-admin"}
    login = client.post("/login/", {"username": "demo-engineer", "password": creds["demo-engineer"]})
    assert login.status_code == 302
    assert client.get("/p/DEMO/").status_code == 200
    assert client.get("/p/EAST/").status_code == 200  # Operator there
    assert Characteristic.objects.count() == 7
    assert {c.chart_type for c in Characteristic.objects.all()} == {
        "xbar_r", "imr", "xbar_s", "p", "ewma", "c", "cusum"}
    for c in Characteristic.objects.all():  # an established history with Phase I limits
        assert c.samples.count() == 120
        assert c.limit_versions.get(is_active=True).options["first_n"] == 30
    assert Violation.objects.exists()


@pytest.mark.django_db
def test_the_demo_command_ends_with_how_to_make_an_administrator_when_there_is_none(capsys):
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "No administrator exists yet" in out
    assert "manage.py createsuperuser" in out.rsplit("Log in at", 1)[1]  # after the passwords

    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "", "x" * 12)
    call_command("load_demo")
    assert "No administrator exists yet" not in capsys.readouterr().out
