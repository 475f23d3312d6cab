"""Copy, word for word, the lines of the source documents that the curated descriptions take a
figure from, into data/sources/<document> (issue 21).

The documents themselves lie outside the repository (../shared/seeds/); the excerpts let
tests/test_sources.py check every figure on a clean checkout, and check the excerpts against the
documents where those are at hand. Run it after changing a description:

    .venv/bin/python scripts/build_source_excerpts.py [--seeds ../shared/seeds]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from atlas.resources import DATA_DIR

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
SOURCES = DATA_DIR / "sources"
RECORD_FILES = ("projects.curated.json", "programmes.json")
#: A figure: digits, with German thousands dots or decimal commas ("27.500", "6,5").
FIGURE = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*")


def figures(text: str) -> list[str]:
    return FIGURE.findall(text or "")


def contains(text: str, figure: str) -> bool:
    """Whether `figure` stands in `text` as a whole figure ("600" is not in "6.600")."""
    return re.search(rf"(?<!\d)(?<!\d[.,]){re.escape(figure)}(?![.,]?\d)", text) is not None


def sources_of(record: dict) -> list[str]:
    src = record.get("source")
    return [src] if isinstance(src, str) else list(src or [])


def records() -> list[dict]:
    return [r for name in RECORD_FILES for r in json.loads((DATA_DIR / name).read_text("utf-8"))]


def excerpts(seeds: Path) -> dict[str, list[str]]:
    """Per document, lines (whole, unchanged) that hold the figures the descriptions quote: for
    each figure of a record, the first line of its sources that has it."""
    wanted: dict[str, list[str]] = {}
    for rec in records():
        for figure in figures(rec["description"]):
            found = [
                (name, line)
                for name in sources_of(rec)
                for line in (seeds / name).read_text(encoding="utf-8").splitlines()
                if contains(line, figure)
            ]
            if not found:
                raise SystemExit(f"error: {rec['id']}: {figure} is in none of its sources")
            name, line = found[0]
            if line not in wanted.setdefault(name, []):
                wanted[name].append(line)
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    args = parser.parse_args(argv)
    if not args.seeds.is_dir():
        print(f"error: no source documents at {args.seeds}", file=sys.stderr)
        return 1
    for name, lines in sorted(excerpts(args.seeds).items()):
        order = (args.seeds / name).read_text(encoding="utf-8").splitlines()
        lines.sort(key=order.index)
        (SOURCES / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}: {len(lines)} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
