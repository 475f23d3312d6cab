"""The offices' own lists brought in: read a spreadsheet, map its columns, check and place every
row (the import plan), then apply the plan in one transaction, or undo an import as a whole.

The one implementation behind `atlas import` and the officers' page /verwaltung/import.

- Files as offices have them: .xlsx and .ods (calamine), CSV in any common dialect
  (delimiter `,` `;` or tab sniffed; UTF-8 with or without byte order mark, else Windows-1252),
  GeoJSON and GeoPackage (pyogrio). The first sheet or layer, or the one named.
- Column headers in German or English with their common variants, case and umlauts aside
  ("PLZ", "Postleitzahl", "Träger", "Webseite"…); columns the atlas does not know are reported.
- Every row passes through `projects.clean_each` like every other way into the store; a row's
  key is its `id` column, else a slug of name and place, so importing a list again changes
  nothing.
"""

from __future__ import annotations

import csv
import io
import os
import re
import struct
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select, update

from atlas.core import projects, tables
from atlas.core.fields import FIELDS
from atlas.core.placement import Problem
from atlas.core.text import normalize
from atlas.store import Project
from atlas.store.models import AuditEntry, ImportLog, PendingImport

#: Formats read, by file name ending.
FORMATS = (".xlsx", ".ods", ".csv", ".txt", ".tsv", ".geojson", ".json", ".gpkg")

#: Column headers the atlas knows, by property: English names first, then German and variants.
HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("id", "kennung", "schlüssel", "projekt-id", "projektnummer"),
    "name": ("name", "projekt", "projektname", "name des projekts", "titel", "bezeichnung"),
    "organisation": (
        "organisation",
        "organization",
        "träger",
        "traeger",
        "trägerin",
        "träger/organisation",
        "organisation/träger",
        "einrichtung",
        "verein",
    ),
    "description": ("description", "beschreibung", "kurzbeschreibung", "angebot", "ziel"),
    "fields": ("fields", "field", "handlungsfeld", "handlungsfelder", "themenfeld", "themenfelder"),
    "tags": ("tags", "schlagworte", "schlagwörter", "stichworte", "stichwörter", "themen"),
    "city": ("city", "ort", "stadt", "gemeinde", "stadt/gemeinde", "kommune"),
    "postcode": ("postcode", "postal code", "zip", "plz", "postleitzahl"),
    "street": (
        "street",
        "address",
        "straße",
        "strasse",
        "str",
        "straße und hausnummer",
        "straße, hausnummer",
        "adresse",
        "anschrift",
    ),
    "website": ("website", "url", "webseite", "internet", "internetseite", "homepage", "web"),
    "source": ("source", "quelle"),
    "precision": ("precision", "genauigkeit"),
    "location_note": ("location_note", "location note", "hinweis zum ort", "ortshinweis"),
    "status": ("status",),
    "synthetic": ("synthetic", "testdaten"),
    "lat": ("lat", "latitude", "breite", "breitengrad", "y"),
    "lon": ("lon", "lng", "longitude", "länge", "laenge", "längengrad", "x"),
}
#: Columns of the atlas's own exports that it derives from the point (or keeps private): read
#: back without a word, never from the file.
DERIVED = ("district_code", "district", "region", "kreisschlüssel", "landkreis", "contact_email")


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", normalize(header))


_BY_HEADER = {_key(h): prop for prop, names in HEADERS.items() for h in names}
_DERIVED = {_key(h) for h in DERIVED}
_BY_HEADER.update(
    {_key(projects.GERMAN_HEADERS[k]): k for k in HEADERS if k in projects.GERMAN_HEADERS}
)


def _field_key(text: str) -> str:
    return "".join(w for w in normalize(text).split() if w not in ("und", "and"))


_FIELD_SLUGS = {_field_key(k): k for k in FIELDS} | {_field_key(v): k for k, v in FIELDS.items()}
_FIELD_SLUGS |= {_field_key(v.split()[-1]): k for k, v in FIELDS.items()}  # "Engagement"


def field_slugs(value) -> list[str]:
    """Fields of action as slugs from slugs or German labels ("Sprache; Arbeit & Ausbildung");
    a value that is neither stays as written, so the check names it."""
    items = value if isinstance(value, list) else re.split(r"[;,|/\n]", str(value or ""))
    return [_FIELD_SLUGS.get(_field_key(v), v.strip()) for v in items if str(v).strip()]


#: How the example row of the empty templates starts its name: such a row is never imported.
EXAMPLE_MARK = "BEISPIEL"
#: The templates' columns, with German headers, and their example row.
TEMPLATE_COLUMNS = [
    ("name", "Name"),
    ("organisation", "Träger"),
    ("description", "Beschreibung"),
    ("fields", "Handlungsfelder"),
    ("tags", "Schlagworte"),
    ("street", "Straße"),
    ("postcode", "PLZ"),
    ("city", "Ort"),
    ("website", "Webseite"),
    ("id", "Kennung"),
]
TEMPLATE_EXAMPLE = {
    "name": f"{EXAMPLE_MARK} (wird nicht importiert): Sprachcafé am Markt",
    "organisation": "Beispielverein e. V.",
    "description": "Offener Treff zum Deutschsprechen, dienstags 16–18 Uhr.",
    "fields": "Sprache; Gesellschaftliche Teilhabe",
    "tags": "Frauen",
    "street": "Am Markt 1",
    "postcode": "21335",
    "city": "Lüneburg",
    "website": "https://example.org",
    "id": "",
}


def template_csv(out) -> None:
    """The empty list as CSV for German spreadsheets (`;`, byte order mark): headers, example."""
    table = tables.Table(
        out, [k for k, _ in TEMPLATE_COLUMNS], tables.EXCEL, dict(TEMPLATE_COLUMNS)
    )
    table.record(TEMPLATE_EXAMPLE)


def template_xlsx() -> bytes:
    """The empty list as an .xlsx workbook: headers, the example row in grey italics."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Projekte"
    ws.append([label for _, label in TEMPLATE_COLUMNS])
    ws.append([TEMPLATE_EXAMPLE[k] for k, _ in TEMPLATE_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for cell in ws[2]:
        cell.font = Font(italic=True, color="777777")
    for column, width in zip("ABCDEFGHIJ", (40, 25, 50, 30, 15, 25, 8, 18, 30, 15)):
        ws.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class FileError(Exception):
    """A file that cannot be read as a list at all: the message says why (in English, for the
    command line); `code` and `details` let the web pages word it in German."""

    def __init__(self, message: str, code: str = "unreadable", **details):
        super().__init__(message)
        self.code = code
        self.details = details


@dataclass
class Sheet:
    """The rows of one sheet (or layer) with the properties their columns stand for."""

    file_name: str
    sheet: str | None
    columns: dict[str, str]  # header as written → property
    unknown: list[str]  # headers the atlas does not know (their cells are not imported)
    rows: list[tuple[int, dict]]  # (row number as the office's software shows it, values)
    #: What a row number counts: "row" of a sheet, "line" of a CSV, "feature" of GeoJSON.
    unit: str = "row"


def map_columns(headers: list) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """Which column holds which property: (index → property, header → property, unknown)."""
    by_index, columns, unknown = {}, {}, []
    for i, header in enumerate(headers):
        text = "" if header is None else str(header).strip()
        if not text:
            continue
        key = _key(text)
        prop = _BY_HEADER.get(key)
        if prop and prop not in by_index.values():
            by_index[i] = prop
            columns[text] = prop
        elif key not in _DERIVED:
            unknown.append(text)
    return by_index, columns, unknown


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # a postcode a spreadsheet keeps as a number
    if isinstance(value, datetime | date):
        return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    text = str(value).strip()
    return text or None


def _table(file_name: str, sheet: str | None, table: list[list], first: int = 1) -> Sheet:
    """A sheet from its cells: the first non-empty row is the header."""
    start = next((i for i, row in enumerate(table) if any(_cell(c) for c in row)), None)
    if start is None:
        raise FileError(f"{file_name}: the sheet is empty", "empty")
    by_index, columns, unknown = map_columns(table[start])
    if "name" not in by_index.values():
        found = ", ".join(str(h) for h in table[start] if h not in (None, ""))
        raise FileError(
            f"{file_name}: no column for the name of a project (a header 'Name' or 'Projekt'); "
            f"headers found: {found}",
            "no_name",
            headers=found,
        )
    rows = []
    for n, row in enumerate(table[start + 1 :], start=start + first + 1):
        values = {prop: _cell(row[i]) if i < len(row) else None for i, prop in by_index.items()}
        if not any(values.values()) or (values.get("name") or "").startswith(EXAMPLE_MARK):
            continue
        rows.append((n, _tidy(values)))
    return Sheet(file_name, sheet, columns, unknown, rows)


def _tidy(values: dict) -> dict:
    """Cells as the checks read them: fields as slugs, neutralised text restored."""
    for k, v in values.items():
        if isinstance(v, str):
            values[k] = tables.restore(v)
    if values.get("fields"):
        values["fields"] = field_slugs(values["fields"])
    return values


def read_file(data: bytes, file_name: str, sheet: str | None = None) -> Sheet:
    """The list in a file's bytes; FileError says why a file cannot be read."""
    ending = os.path.splitext(file_name.lower())[1]
    if data[:4] == b"PK\x03\x04" and ending not in (".ods", ".xlsx"):
        ending = ".ods" if b"opendocument" in data[:200] else ".xlsx"
    readers = {
        ".xlsx": _spreadsheet,
        ".ods": _spreadsheet,
        ".gpkg": _gpkg,
        ".geojson": _geojson,
        ".json": _geojson,
    }
    reader = readers.get(ending)
    if reader is None and data.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{"):
        reader = _geojson
    return (reader or _csv)(data, file_name, sheet)


def _spreadsheet(data: bytes, file_name: str, sheet: str | None) -> Sheet:
    """An .xlsx or .ods workbook, read by calamine (Rust): a 10,000-row list in a fraction of a
    second, where openpyxl takes seconds."""
    from python_calamine import CalamineWorkbook

    kind = "an .ods spreadsheet" if file_name.lower().endswith(".ods") else "an .xlsx workbook"
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # a damaged or foreign file: say so, whatever calamine raises
        raise FileError(f"{file_name}: not a readable {kind} ({exc})") from None
    name = _pick(book.sheet_names, sheet, file_name, book.sheet_names)
    try:
        cells = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception as exc:  # a sheet calamine cannot read
        raise FileError(f"{file_name}: sheet '{name}' cannot be read ({exc})") from None
    return _table(file_name, name, cells)


def _pick(names: list[str], wanted: str | None, file_name: str, items: list):
    if wanted is None:
        if not items:
            raise FileError(f"{file_name}: the workbook has no sheet", "empty")
        return items[0]
    for name, item in zip(names, items):
        if name == wanted or name.strip().lower() == wanted.strip().lower():
            return item
    raise FileError(
        f"{file_name}: no sheet '{wanted}'; sheets: {', '.join(names)}",
        "no_sheet",
        wanted=wanted,
        sheets=", ".join(names),
    )


def decode(data: bytes) -> str:
    """Text of a CSV: UTF-8 (with or without byte order mark), else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _csv(data: bytes, file_name: str, sheet: str | None) -> Sheet:
    text = decode(data)
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        delimiter = max(",;\t", key=first.count)
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise FileError(f"{file_name}: not valid CSV ({exc})") from None
    sheet_ = _table(file_name, None, table)
    sheet_.unit = "line"
    return sheet_


def _geojson(data: bytes, file_name: str, sheet: str | None) -> Sheet:
    try:
        features = projects.read_rows(decode(data), file_name)
    except projects.RowError as exc:
        raise FileError(str(exc)) from None
    sheet_ = _features(file_name, None, [props for _, props in features])
    sheet_.unit = "feature"
    return sheet_


def _features(file_name: str, layer: str | None, features: list[dict]) -> Sheet:
    headers = list(dict.fromkeys(k for props in features for k in props if k != "__error__"))
    by_index, columns, unknown = map_columns(headers)
    columns.update({"lat": "lat", "lon": "lon"} if "lat" in headers else {})
    rows = []
    for n, props in enumerate(features, start=1):
        values = {prop: props.get(headers[i]) for i, prop in by_index.items()}
        values = {k: v if isinstance(v, list) else _cell(v) for k, v in values.items()}
        if "__error__" in props:
            values["__error__"] = props["__error__"]
        rows.append((n, _tidy(values)))
    return Sheet(file_name, layer, columns, unknown, rows)


def _gpkg(data: bytes, file_name: str, sheet: str | None) -> Sheet:
    import pyogrio

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "list.gpkg")
        with open(path, "wb") as f:
            f.write(data)
        try:
            layers = [name for name, _ in pyogrio.list_layers(path)]
            layer = _pick(layers, sheet, file_name, layers)
            meta, _, geometry, values = pyogrio.raw.read(path, layer=layer)
        except FileError:
            raise
        except Exception as exc:  # not a GeoPackage, or a damaged one
            raise FileError(f"{file_name}: not a readable GeoPackage ({exc})") from None
    crs = (meta.get("crs") or "").upper()
    if crs and crs not in ("EPSG:4326", "OGC:CRS84"):
        raise FileError(
            f"{file_name}: coordinates in {crs}; please save the layer in EPSG:4326", "crs", crs=crs
        )
    names = list(meta["fields"])
    features = []
    for i in range(len(geometry) if geometry is not None else len(values[0]) if values else 0):
        props = {name: _plain(col[i]) for name, col in zip(names, values)}
        point = _wkb_point(geometry[i]) if geometry is not None else None
        if point == "bad":
            props["__error__"] = projects.NOT_A_POINT_GEOMETRY
        elif point:
            props["lon"], props["lat"] = point
        features.append(props)
    return _features(file_name, layer, features)


def _plain(value):
    """A numpy value as a plain Python one."""
    return value.item() if hasattr(value, "item") else value


def _wkb_point(wkb) -> tuple[float, float] | None | str:
    """(lon, lat) of a WKB point (2D, Z or M), None for no geometry, "bad" for another shape."""
    if wkb is None or len(wkb) == 0:
        return None
    order = "<" if wkb[0] == 1 else ">"
    kind = struct.unpack(order + "I", wkb[1:5])[0]
    if kind % 1000 != 1 and kind & 0xFF != 1:
        return "bad"
    return struct.unpack(order + "dd", wkb[5:21])


# --- the plan -----------------------------------------------------------------------------------

OK, AMBIGUOUS, NOT_FOUND, OUTSIDE_REGION, INVALID = (
    "ok",
    "ambiguous",
    "not_found",
    "outside_region",
    "invalid",
)


@dataclass
class PlannedRow:
    """One row of a list, checked and placed: what would happen to it."""

    row: int
    values: dict
    status: str
    reasons: list[projects.Reason] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    record: dict | None = None

    @property
    def point(self) -> tuple[float, float] | None:
        return (self.record["lat"], self.record["lon"]) if self.record else None

    def as_json(self) -> dict:
        return {
            "row": self.row,
            "values": self.values,
            "status": self.status,
            "reasons": [projects.Reason.from_json(r).as_json() for r in self.reasons],
            "candidates": self.candidates,
            "record": self.record,
        }

    @classmethod
    def from_json(cls, data: dict) -> PlannedRow:
        """A row as `as_json` keeps it; reasons kept as plain text (before they had codes) too."""
        reasons = [projects.Reason.from_json(r) for r in data.get("reasons") or []]
        return cls(**dict(data, reasons=reasons))


def plan(
    rows: list[tuple[int, dict]], *, geocode, region: str | None = None, progress=None
) -> list[PlannedRow]:
    """Every row checked and placed; rows whose point lies outside `region` are refused."""
    outcomes = projects.clean_each(
        [(f"row {n}", values) for n, values in rows], progress=progress, geocode=geocode
    )
    planned = []
    for (n, values), outcome in zip(rows, outcomes):
        planned.append(_planned(n, values, outcome, region))
    return planned


def _planned(n: int, values: dict, outcome, region: str | None) -> PlannedRow:
    if isinstance(outcome, projects.RowError):
        found = outcome.found
        status = INVALID
        candidates = []
        if found is not None and found.problem is Problem.AMBIGUOUS:
            status = AMBIGUOUS
            candidates = [_candidate(c) for c in found.candidates]
        elif found is not None and found.problem is Problem.NOT_FOUND:
            status = NOT_FOUND
        return PlannedRow(n, values, status, list(outcome.reasons), candidates)
    rec = dict(outcome, precision=outcome.get("precision") and str(outcome["precision"]))
    if region and rec["region"] != region:
        return PlannedRow(
            n,
            values,
            OUTSIDE_REGION,
            [
                projects.Reason(
                    f"the point lies in region '{rec['region']}', not in '{region}'",
                    "outside_region",
                    region=rec["region"],
                    wanted=region,
                )
            ],
            record=rec,
        )
    return PlannedRow(n, values, OK, record=rec)


def _candidate(c: dict) -> dict:
    keys = ("label", "lat", "lon", "postcode", "district", "region", "precision")
    return {k: (str(c[k]) if k == "precision" and c.get(k) else c.get(k)) for k in keys}


def replan(row: PlannedRow, changes: dict, *, geocode, region: str | None) -> PlannedRow:
    """A row checked again after an officer's fix: a picked candidate or a point placed by hand
    (lat, lon, precision) or an edited address (street, postcode, city)."""
    values = dict(row.values)
    values.update({k: v for k, v in changes.items() if k in HEADERS})
    if not ("lat" in changes and "lon" in changes):
        values.pop("lat", None), values.pop("lon", None)
        if values.get("precision") == "manual":
            values.pop("precision")
    return plan([(row.row, values)], geocode=geocode, region=region)[0]


def key_of(row: PlannedRow) -> str | None:
    return row.record["id"] if row.record else None


# --- applying and undoing -----------------------------------------------------------------------


@dataclass
class Result:
    """What an import did (or, in a dry run, would do)."""

    import_id: str | None
    counts: dict
    outcomes: dict  # record id → "added" | "updated" | "unchanged"


def apply(
    store,
    planned: list[PlannedRow],
    *,
    file_name: str,
    sheet: str | None,
    region: str | None,
    actor: str,
    dry_run: bool = False,
    pending_id: str | None = None,
) -> Result:
    """The good rows of a plan stored in ONE transaction with the import's log entry and one
    audit entry (and the checked list `pending_id` dropped); an import that changes nothing
    leaves no trace."""
    import_id = uuid.uuid4().hex
    records = [
        dict(p.record, import_id=import_id, import_row=p.row) for p in planned if p.status == OK
    ]
    outcomes: dict = {}

    def log(s, counts):
        if pending_id:
            s.execute(delete(PendingImport).where(PendingImport.id == pending_id))
        if not counts["added"] and not counts["updated"]:
            return
        changes = {
            "added": [k for k, (what, _) in outcomes.items() if what == "added"],
            "updated": {k: before for k, (what, before) in outcomes.items() if what == "updated"},
        }
        summary = dict(counts, refused=sum(p.status != OK for p in planned))
        s.add(
            ImportLog(
                id=import_id,
                region=region,
                actor=actor,
                file_name=file_name[:255],
                sheet=sheet,
                counts=summary,
                changes=changes,
            )
        )
        s.add(
            AuditEntry(
                actor=actor,
                action="import",
                project_id=f"import:{import_id}",
                region=region,
                changes=_as_changes({"file": file_name, "sheet": sheet, **summary}),
            )
        )

    counts = store.save_all(
        records, outcomes=outcomes, keep=("import_id", "import_row"), within=log, dry_run=dry_run
    )
    done = counts["added"] or counts["updated"]
    return Result(
        import_id if done and not dry_run else None,
        counts,
        {k: what for k, (what, _) in outcomes.items()},
    )


UNDO_WINDOW = timedelta(hours=24)


class UndoError(Exception):
    """Why an import cannot be undone: `code` is "missing", "undone" or "too_late"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def undo(store, import_id: str, actor: str, *, now: datetime | None = None) -> dict:
    """Undo an import as a whole within 24 hours, in one transaction: its added records go, its
    updated ones get their previous values back (each only while this import is the last that
    wrote it). Returns counts of removed and restored records."""
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)  # SQLite gives times without a zone
    with store.session.begin() as s:
        entry = s.get(ImportLog, import_id, with_for_update=True)
        if entry is None:
            raise UndoError("missing")
        if entry.undone_at is not None:
            raise UndoError("undone")
        created = entry.created_at
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        if now - created > UNDO_WINDOW:
            raise UndoError("too_late")
        ours = Project.import_id == import_id
        removed = s.execute(
            delete(Project).where(ours, Project.id.in_(entry.changes.get("added") or []))
        ).rowcount
        restored = 0
        for pid, before in (entry.changes.get("updated") or {}).items():
            restored += s.execute(
                update(Project).where(ours, Project.id == pid).values(**before)
            ).rowcount
        entry.undone_at = now
        counts = {"removed": removed, "restored": restored}
        s.add(
            AuditEntry(
                actor=actor,
                action="import_undone",
                project_id=f"import:{import_id}",
                region=entry.region,
                changes=_as_changes({"file": entry.file_name, **counts}),
            )
        )
    return counts


def _as_changes(facts: dict) -> dict:
    """An import's facts in the audit log's shape (column → [before, after])."""
    return {k: [None, v] for k, v in facts.items() if v is not None}


def imports(store, region: str | None = None, limit: int = 20) -> list[ImportLog]:
    """The latest imports, of one region (None: all)."""
    stmt = select(ImportLog).order_by(ImportLog.created_at.desc()).limit(limit)
    if region:
        stmt = stmt.where(ImportLog.region == region)
    with store.session() as s:
        return list(s.scalars(stmt))


def import_entry(store, import_id: str) -> ImportLog | None:
    with store.session() as s:
        return s.get(ImportLog, import_id)


def provenance(store, project) -> dict | None:
    """Where an imported record came from: region (the office), file, sheet, row and date."""
    import_id = getattr(project, "import_id", None)
    if not import_id:
        return None
    with store.session() as s:
        entry = s.get(ImportLog, import_id)
    if entry is None:
        return None
    return {
        "region": entry.region,
        "file_name": entry.file_name,
        "sheet": entry.sheet,
        "row": project.import_row,
        "date": entry.created_at,
    }


# --- lists checked in the browser, kept between the preview and the import ----------------------

PENDING_KEPT = timedelta(hours=24)


def keep_pending(store, *, user_id: int, region: str | None, sheet: Sheet, planned) -> str:
    """Keep a checked list for its officer (older ones of a day ago go); returns its id."""
    pending_id = uuid.uuid4().hex
    with store.session.begin() as s:
        s.execute(
            delete(PendingImport).where(PendingImport.created_at < datetime.now(UTC) - PENDING_KEPT)
        )
        s.add(
            PendingImport(
                id=pending_id,
                user_id=user_id,
                region=region,
                file_name=sheet.file_name[:255],
                sheet=sheet.sheet,
                unknown_columns=sheet.unknown,
                rows=[p.as_json() for p in planned],
            )
        )
    return pending_id


def pending(store, pending_id: str, user_id: int) -> tuple[PendingImport, list[PlannedRow]] | None:
    """An officer's checked list and its rows (None: not theirs, or gone)."""
    with store.session() as s:
        entry = s.get(PendingImport, pending_id)
    if entry is None or entry.user_id != user_id:
        return None
    return entry, [PlannedRow.from_json(r) for r in entry.rows]


def replace_pending_row(store, pending_id: str, row: PlannedRow) -> None:
    with store.session.begin() as s:
        entry = s.get(PendingImport, pending_id, with_for_update=True)
        entry.rows = [row.as_json() if r["row"] == row.row else r for r in entry.rows]
