from django.core.management.base import BaseCommand

from plants.demo import load_demo


class Command(BaseCommand):
    help = "Create the demo plants, hierarchy and one user per role; prints their passwords."

    def handle(self, *args, **options):
        passwords = load_demo()
        self.stdout.write(self.style.SUCCESS("Demo plants ready: Demo Plant (DEMO), East Plant (EAST)."))
        self.stdout.write("Log in at http://127.0.0.1:8000/ with one of (new passwords each run):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<16} {password}")
