import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]


def test_htmx_and_plotly_are_served_from_the_installed_packages():
    htmx = finders.find("django_htmx/htmx-2.min.js")
    plotly = finders.find("vendor/plotly.min.js")
    assert htmx and Path(htmx).stat().st_size > 10_000
    assert plotly and Path(plotly).stat().st_size > 1_000_000
    # only the bundle is exposed, not the rest of plotly's package data
    assert finders.find("vendor/datasets") in (None, [])


def test_no_template_or_script_loads_anything_from_another_host():
    pattern = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//""", re.I)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("templates", "static", "plants", "spc", "alerts", "ingest")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".html", ".js", ".css"} and pattern.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
def test_the_login_page_includes_local_htmx(client):
    page = client.get("/login/").content.decode()
    assert '/static/django_htmx/htmx-2.min.js' in page
    assert "/static/openspc/app.js" in page


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_bundled_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/openspc/favicon.svg"
