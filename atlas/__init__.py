"""Gemeinsame Sache: the project atlas of "Niedersachsen packt an"."""
from pathlib import Path

#: Repository root; the curated data files live beside the package, not inside it.
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
PROJECTS_FILE = DATA_DIR / "projects.geojson"


def create_app(test_config=None):
    from .app import create_app as factory
    return factory(test_config)
