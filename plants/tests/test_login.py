import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from plants.bootstrap import ensure_admin
from plants.tests.factories import PASSWORD, UserFactory


def _login(client, username, password, address="10.1.1.1"):
    return client.post("/login/", {"username": username, "password": password},
                       REMOTE_ADDR=address)


def test_logging_in_lands_on_the_users_plant(client, cast):
    response = _login(client, "operator", PASSWORD)
    assert response.status_code == 302
    assert client.get("/").url == f"/p/{cast.plant.code}/"


def test_a_wrong_password_shows_an_error_on_the_login_page(client, cast):
    response = _login(client, "operator", "nope")
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_a_user_without_any_plant_is_told_to_ask_for_a_role(client, cast):
    client.force_login(cast.no_role)
    response = client.get("/")
    assert response.status_code == 200
    assert b"no role at any plant" in response.content


def test_pages_need_a_login(client, cast):
    response = client.get(f"/p/{cast.plant.code}/")
    assert response.status_code == 302 and response.url.startswith("/login/?next=")


def test_logout_needs_a_post_and_ends_the_session(client, cast):
    client.force_login(cast.operator)
    assert client.get("/logout/").status_code == 405
    client.post("/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_username_even_with_the_right_password(client, settings):
    UserFactory(username="victim")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # from a different address each time: the username lock must still catch it
        _login(Client(), "victim", f"guess{attempt}", address=f"10.0.0.{attempt + 1}")
    response = _login(client, "victim", PASSWORD, address="10.9.9.9")
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_repeated_failed_logins_from_one_address_lock_that_address(settings):
    UserFactory(username="innocent")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), f"someone{attempt}", "guess", address="10.6.6.6")
    assert _login(Client(), "innocent", PASSWORD, address="10.6.6.6").status_code == 429
    assert _login(Client(), "innocent", PASSWORD, address="10.7.7.7").status_code == 302


@pytest.mark.django_db
def test_a_successful_login_resets_the_failure_count(settings):
    UserFactory(username="forgetful")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(Client(), "forgetful", "wrong")
    assert _login(Client(), "forgetful", PASSWORD).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(Client(), "forgetful", "wrong")
    assert _login(Client(), "forgetful", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_login_form_post_without_its_csrf_token_is_rejected():
    UserFactory(username="operator")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "operator", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_an_htmx_post_without_the_csrf_header_is_rejected(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.admin)
    response = client.post(f"/p/{cast.plant.code}/hierarchy/new/",
                           {"name": "X", "level": 3}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert not cast.plant.nodes.exists()


def test_an_htmx_post_with_the_page_csrf_header_is_accepted(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.admin)
    page = client.get(f"/p/{cast.plant.code}/hierarchy/")
    token = page.context["csrf_token"]
    response = client.post(f"/p/{cast.plant.code}/hierarchy/new/", {"name": "X", "level": 3},
                           HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=str(token))
    assert response.status_code == 204
    assert cast.plant.nodes.filter(name="X").exists()
    # the token comes from the page body (hx-headers), so the cookie can stay HttpOnly
    assert b'hx-headers=\'{"X-CSRFToken": "' in page.content


def test_session_cookies_are_httponly_and_samesite_lax(client, cast):
    response = _login(client, "operator", PASSWORD)
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # OPENSPC_COOKIE_SECURE is off by default


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2(settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = get_user_model().objects.create_user("hashy", password="a long passphrase")
    assert user.password.startswith("argon2$")


@pytest.mark.django_db
def test_admin_bootstrap_creates_nobody_without_a_configured_password():
    out = io.StringIO()
    assert ensure_admin("admin", None, out=out) is None
    assert not get_user_model().objects.filter(is_superuser=True).exists()
    assert "OPENSPC_ADMIN_PASSWORD" in out.getvalue()


@pytest.mark.django_db
def test_admin_bootstrap_creates_the_configured_superuser_once():
    assert ensure_admin("boss", "s3cret-enough", out=io.StringIO()) == "boss"
    boss = get_user_model().objects.get(username="boss")
    assert boss.is_superuser and boss.check_password("s3cret-enough")
    assert ensure_admin("other", "x" * 12, out=io.StringIO()) is None
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
