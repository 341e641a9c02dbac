from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from plants.demo import load_demo
from plants.models import Plant
from spc.demo import load_demo_characteristics


class Command(BaseCommand):
    help = ("Create the demo plants, hierarchy, one user per role (prints their passwords) and "
            "demo characteristics with a sample history.")

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/",
                            help="where the server will answer (printed for logging in)")

    def handle(self, *args, **options):
        passwords = load_demo()
        made = load_demo_characteristics(Plant.objects.get(code="DEMO"))
        self.stdout.write(self.style.SUCCESS("Demo plants ready: Demo Plant (DEMO), East Plant (EAST)."))
        if made:
            self.stdout.write(f"Recorded a sample history for {made} demo characteristics.")
        if settings.SIMULATOR:
            self.stdout.write("While the server runs, the simulator records live samples for "
                              "them every few seconds (OPENSPC_SIMULATOR=false turns it off).")
        self.stdout.write(f"Log in at {options['url']} with one of (new passwords each run):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<16} {password}")
        if not get_user_model().objects.filter(is_superuser=True).exists():
            rule = "=" * 78
            self.stdout.write(self.style.WARNING(
                f"{rule}\nNo administrator exists yet (Django admin at {options['url']}admin/).\n"
                "Create one now in another terminal:   .venv/bin/python manage.py createsuperuser\n"
                "or start with OPENSPC_ADMIN_PASSWORD=… make run   (user OPENSPC_ADMIN_USERNAME, "
                f"default 'admin').\n{rule}"))
