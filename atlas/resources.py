"""Where the data files and templates are, installed or not.

The repository keeps `data/` and `templates/` at its top level; the wheel carries them into
the package (`atlas/data`, `atlas/templates`, see pyproject.toml). Either way they are found
here, so no other module guesses a path.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


DATA_DIR = _find("data")
TEMPLATES_DIR = _find("templates")
STATIC_DIR = PACKAGE_DIR / "static"
#: gettext catalogues (`<lang>/LC_MESSAGES/messages.po`), inside the package.
TRANSLATIONS_DIR = PACKAGE_DIR / "translations"
PROJECTS_FILE = DATA_DIR / "projects.geojson"
REGIONS_DIR = DATA_DIR / "regions"
GAZETTEER_FILE = DATA_DIR / "gazetteer" / "gazetteer.json.gz"
