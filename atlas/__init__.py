"""Gemeinsame Sache: the project atlas of "Niedersachsen packt an"."""
from pathlib import Path

#: Repository root; the curated data files live beside the package, not inside it.
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
