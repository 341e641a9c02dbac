import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import django, json
django.setup()
from django.test import Client
r = Client().get("/health", HTTP_HOST="127.0.0.1")
print(json.dumps({"status_code": r.status_code, "body": r.json()}))
"""


def _health_in_a_process_with(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSPC_")}
    env.update(OPENSPC_DATABASE_URL=database_url, OPENSPC_DATA_DIR=str(tmp_path),
               DJANGO_SETTINGS_MODULE="openspc.settings")
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_health_reports_a_connected_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "database": "connected"}
    assert "no-cache" in response["Cache-Control"]


def test_health_is_503_when_postgresql_cannot_be_reached(tmp_path):
    # Port 9 on loopback has no listener: the connection is refused at once.
    result = _health_in_a_process_with("postgresql://postgres@127.0.0.1:9/openspc", tmp_path)
    assert result == {"status_code": 503,
                      "body": {"status": "unhealthy", "database": "unreachable"}}


def test_health_is_503_when_the_sqlite_file_cannot_be_opened(tmp_path):
    result = _health_in_a_process_with(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3", tmp_path)
    assert result["status_code"] == 503
    assert result["body"]["database"] == "unreachable"
