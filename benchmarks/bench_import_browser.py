"""The browser import of bench_import.py's list (issue 18): the same synthetic rows as an .xlsx
workbook with German headers, uploaded to /verwaltung/import of a real `atlas serve` by an
administrator (statewide: the rows lie in every region), then imported in one step.

Timed: the preview request (the upload POST: reading the workbook, checking, geocoding and
locating every row, keeping the checked list in the database; plus the GET of the preview page
with every row and the map), then the import request (POST …/importieren). Called by
bench_import.main in the same run as the CSV import; not run on its own.
"""

from __future__ import annotations

import csv
import io
import subprocess
import time
from pathlib import Path

from common import ATLAS, served, tail

from tests.support.forms import csrf_token
from tests.support.http_client import Browser

PASSWORD = "Benchmark-Passwort 123"
ADMIN = "bench-admin@land.example"
#: German headers as an office's list has them, for bench_import's English columns.
GERMAN = {
    "id": "Kennung",
    "name": "Name",
    "organisation": "Träger",
    "description": "Beschreibung",
    "fields": "Handlungsfelder",
    "tags": "Schlagworte",
    "street": "Straße",
    "postcode": "PLZ",
    "city": "Ort",
    "website": "Webseite",
    "synthetic": "Testdaten",
}


def write_xlsx(csv_text: str, path: Path) -> None:
    """The CSV's rows as an .xlsx workbook (openpyxl), German headers, postcodes as numbers."""
    import openpyxl

    rows = list(csv.reader(io.StringIO(csv_text)))
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("Projekte")
    ws.append([GERMAN.get(h, h) for h in rows[0]])
    postcode = rows[0].index("postcode")
    for row in rows[1:]:
        cells = [c or None for c in row]
        if cells[postcode]:
            cells[postcode] = int(cells[postcode])
        ws.append(cells)
    book.save(path)


def browser_import(env: dict, xlsx: Path, folder: Path) -> dict:
    """Preview and import of `xlsx` through a real server on a migrated, empty store."""
    subprocess.run(
        [str(ATLAS), "users", "add", ADMIN, "--admin"],
        input=PASSWORD + "\n",
        env=env,
        text=True,
        check=True,
        capture_output=True,
    )
    log = folder / "serve-import.log"
    with served(env, probe=None, log_path=log, timeout=120) as (_, base):
        try:
            browser = Browser(base)
            token = csrf_token(browser.get("/verwaltung/login"))
            browser.post(
                "/verwaltung/login", {"email": ADMIN, "password": PASSWORD, "csrf_token": token}
            )
            token = csrf_token(browser.get("/verwaltung/import"))
            data = xlsx.read_bytes()
            t0 = time.perf_counter()
            page = browser.post(
                "/verwaltung/import", {"csrf_token": token}, ("datei", xlsx.name, data)
            )
            t1 = time.perf_counter()
            ready = page.count('class="import-ok"')
            token = csrf_token(page)
            preview = browser.last_url[len(base) :]
            done = browser.post(f"{preview}/importieren", {"csrf_token": token})
            t2 = time.perf_counter()
        except Exception:
            print(tail(log))
            raise
    message = done.split('class="notice" role="status">', 1)[-1].split("<", 1)[0].strip()
    return {
        "preview": t1 - t0,
        "import": t2 - t1,
        "ready": ready,
        "bytes": len(data),
        "page_bytes": len(page.encode()),
        "message": message,
    }
