"""Serve plotly.js from the plotly package's own bundle (no CDN: plants run air-gapped)."""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

BUNDLE_DIR = Path(plotly.__file__).resolve().parent / "package_data"
BUNDLE_NAME = "plotly.min.js"
STATIC_PATH = f"vendor/{BUNDLE_NAME}"


class PlotlyFinder(BaseFinder):
    """Exposes only plotly.min.js as static/vendor/plotly.min.js, not the rest of package_data."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=BUNDLE_DIR)
        self.storage.prefix = "vendor"

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != STATIC_PATH:
            return []  # what Django's own finders answer for "not here"
        match = str(BUNDLE_DIR / BUNDLE_NAME)
        return [match] if find_all or kwargs.get("all") else match

    def list(self, ignore_patterns):
        yield BUNDLE_NAME, self.storage
