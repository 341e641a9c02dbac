"""Create the first superuser from OPENSPC_ADMIN_USERNAME / OPENSPC_ADMIN_PASSWORD.

There is no built-in default password: without a configured one, nobody is created and the
message says how to set it.
"""

import io
import sys

from django.conf import settings
from django.contrib.auth import get_user_model


def ensure_admin(username: str | None, password: str | None, out=sys.stdout) -> str | None:
    """Create a superuser when none exists; returns the username created, or None."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    if not password:
        out.write(
            "No administrator exists and none was created: set OPENSPC_ADMIN_PASSWORD "
            "(or OPENSPC_ADMIN_PASSWORD_FILE) and OPENSPC_ADMIN_USERNAME, then run "
            "`python manage.py migrate` again — or run `python manage.py createsuperuser`.\n"
        )
        return None
    username = username or "admin"
    user = User.objects.filter(username=username).first()
    if user is None:
        User.objects.create_superuser(username=username, email="", password=password)
    else:
        user.is_superuser = user.is_staff = user.is_active = True
        user.set_password(password)
        user.save()
    out.write(f"Created the administrator '{username}' from OPENSPC_ADMIN_PASSWORD.\n")
    return username


def bootstrap_admin_after_migrate(sender, verbosity=1, using="default", **kwargs):
    if using != "default":
        return
    out = sys.stdout if verbosity else io.StringIO()
    ensure_admin(settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD, out=out)
