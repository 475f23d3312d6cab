"""The curated records say what their sources say (issue 21): every figure in a description stands
in one of the record's documents, and every record carries its document's date.

The documents lie outside the repository; word-for-word excerpts in data/sources/ make the figure
check run on a clean checkout, and where the documents are at hand the excerpts are checked
against them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from atlas.resources import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCES = DATA_DIR / "sources"
SEEDS = ROOT.parent / "shared" / "seeds"

_spec = importlib.util.spec_from_file_location(
    "build_source_excerpts", ROOT / "scripts" / "build_source_excerpts.py"
)
excerpts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(excerpts)

INDEX = json.loads((SOURCES / "index.json").read_text(encoding="utf-8"))
RECORDS = excerpts.records()


def _excerpt(name: str) -> str:
    path = SOURCES / name
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_every_figure_in_a_description_stands_in_its_source():
    missing = {
        rec["id"]: figure
        for rec in RECORDS
        for figure in excerpts.figures(rec["description"])
        if not any(excerpts.contains(_excerpt(name), figure) for name in excerpts.sources_of(rec))
    }
    assert missing == {}


def test_the_figure_check_catches_the_old_slips():
    """The statements issue 21 found wrong would fail the check today."""
    sprint = _excerpt("000_4d34a03740fa0f29.txt")
    assert excerpts.contains(sprint, "6.600")
    assert not excerpts.contains(sprint, "9.000")  # the 9,000 are school measures, in 002
    assert not excerpts.contains(sprint, "600" + "0")
    assert excerpts.figures("fast 9.000 Schüler, Niveau B2, seit 2015") == ["9.000", "2015"]
    assert not excerpts.contains("mehr als 6.600 Schüler", "600")


def test_quoted_statements_follow_the_source():
    by_id = {r["id"]: r for r in RECORDS}
    assert "6.600" in by_id["sprint"]["description"]
    assert "27.500 Lehrbücher ausgegeben" not in by_id["lehr-und-lernmaterialien"]["description"]
    assert "Dafür wurden" not in by_id["basissprachkurse"]["description"]
    for rid in ("qik-interkulturelle-kompetenz-jugendarbeit", "nextkultur"):
        assert "erfolgreich umgesetzt" in by_id[rid]["description"]
    workshop = by_id["workshopreihe-arbeitsmarkt-arl-braunschweig"]
    assert "tried out" in workshop["location_note"]
    for rid in ("nachbarschaft-asendorf", "ichor-harzer-land"):
        assert "Mehr sagt die Quelle" in by_id[rid]["description"]


def test_every_record_has_its_source_and_the_source_date():
    for rec in RECORDS:
        names = excerpts.sources_of(rec)
        assert names and set(names) <= set(INDEX), rec["id"]
        dates = [INDEX[n]["date"] for n in names if INDEX[n]["date"]]
        assert rec["source_date"] == max(dates), rec["id"]


def test_the_map_file_carries_the_source_date():
    collection = json.loads((DATA_DIR / "projects.geojson").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in RECORDS}
    for feature in collection["features"]:
        props = feature["properties"]
        assert props["source_date"] == by_id[props["id"]]["source_date"]


def test_excerpts_are_word_for_word_lines_of_their_documents():
    if not SEEDS.is_dir():
        pytest.skip(f"source documents not at {SEEDS}: the excerpts cannot be compared here")
    assert {p.name for p in SOURCES.glob("*.txt")} <= set(INDEX)
    for path in SOURCES.glob("*.txt"):
        document = set((SEEDS / path.name).read_text(encoding="utf-8").splitlines())
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines and [line for line in lines if line not in document] == [], path.name


def test_index_covers_every_document():
    if not SEEDS.is_dir():
        pytest.skip(f"source documents not at {SEEDS}")
    assert {p.name for p in SEEDS.glob("*.txt")} == set(INDEX)
