"""Import historical samples of one characteristic from a CSV or .xlsx file, all or nothing."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from plants.access import may
from plants.roles import Action
from spc.importing import ImportInvalid, import_file
from spc.models import Characteristic


def _shown(moment) -> str:
    return timezone.localtime(moment).isoformat(sep=" ", timespec="seconds")


class Command(BaseCommand):
    help = ("Import historical samples of one characteristic from a CSV or .xlsx file "
            "(columns: timestamp, value or value1..valueN or count/sample_size, optional batch, "
            "operator, comment). Nothing is imported if any row is invalid.")

    def add_arguments(self, parser):
        parser.add_argument("plant_code", help="Code of the plant, e.g. HAM-01.")
        parser.add_argument("characteristic_id", type=int, help="Id of the characteristic.")
        parser.add_argument("file", help="The .csv or .xlsx file to import.")
        parser.add_argument("--user", help="Username recorded as the one who entered the samples "
                                           "(must be allowed to enter data at the plant).")

    def handle(self, *args, plant_code, characteristic_id, file, user=None, **options):
        characteristic = Characteristic.objects.select_related("plant").filter(
            pk=characteristic_id, plant__code=plant_code.upper()
        ).first()
        if characteristic is None:
            raise CommandError(f"no characteristic {characteristic_id} at plant {plant_code}")
        entered_by = None
        if user:
            entered_by = get_user_model().objects.filter(username=user).first()
            if entered_by is None:
                raise CommandError(f"no user {user}")
            if not may(entered_by, characteristic.plant_id, Action.ENTER_DATA):
                raise CommandError(f"user {user} may not enter data at plant {plant_code}")
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        try:
            result = import_file(data, path.name, characteristic, entered_by)
        except ImportInvalid as exc:
            report = "\n".join(exc.lines())
            raise CommandError(f"{len(exc.errors)} error(s) in {path.name}; nothing was "
                               f"imported:\n{report}") from None
        self.stdout.write(
            f"Imported {result.samples} samples ({result.violations} violations) "
            f"from {_shown(result.first_timestamp)} to {_shown(result.last_timestamp)}"
        )
