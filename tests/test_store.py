"""Saving many records at once: what an import or `atlas init` hands the store."""

from __future__ import annotations

import pytest

from atlas.core.projects import clean_record
from atlas.web.extensions import get_store


@pytest.fixture
def store(app):
    store = get_store(app)
    store.create_schema()
    return store


def _record(name: str, **extra) -> dict:
    return clean_record(
        {
            "name": name,
            "fields": "sprache",
            "city": "Celle",
            "lat": "52.62",
            "lon": "10.08",
            **extra,
        },
        name,
    )


def test_save_all_keeps_every_column_of_records_with_different_optional_fields(store):
    # Rows without a website or organisation between rows with them: the bulk insert batches
    # rows by the columns they carry, and no value may end up in another row.
    records = [
        _record(
            f"Projekt {i}",
            **(
                {"website": f"https://p{i}.example.org", "organisation": f"Verein {i}"}
                if i % 3
                else {}
            ),
        )
        for i in range(30)
    ]
    assert store.save_all(records) == {"added": 30, "updated": 0, "unchanged": 0}
    stored = {p.id: p for p in store.projects()}
    for rec in records:
        p = stored[rec["id"]]
        assert (p.name, p.website, p.organisation) == (
            rec["name"],
            rec.get("website"),
            rec.get("organisation"),
        )
        assert p.fields == ["sprache"] and p.status == "published" and p.created_at is not None
        assert "celle" in p.search_text
    assert store.save_all(records) == {"added": 0, "updated": 0, "unchanged": 30}


def test_save_all_same_id_twice_in_one_batch_the_later_one_wins(store):
    first = _record("Sprachcafé Celle")
    later = {**first, "description": "Jetzt auch samstags."}
    assert store.save_all([first, later]) == {"added": 1, "updated": 1, "unchanged": 0}
    assert [p.description for p in store.projects()] == ["Jetzt auch samstags."]
    assert store.save_all([first], replace=False) == {"added": 0, "updated": 0, "unchanged": 1}
    assert store.save_all([first]) == {"added": 0, "updated": 1, "unchanged": 0}
    assert [p.description for p in store.projects()] == [first.get("description")]
