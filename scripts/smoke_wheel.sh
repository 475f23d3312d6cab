#!/usr/bin/env bash
# Smoke test of the package as it installs for real: build the wheel, install it into a fresh
# venv (dependencies from the package index), and from an empty folder outside the checkout run
# `atlas init`, `atlas locate`, `atlas geocode` and `atlas serve`, whose pages, static files and
# API must answer with the 12 curated projects. Nothing of the checkout is on the path there.
#
# Usage: scripts/smoke_wheel.sh            (PYTHON=python3.11 to choose the interpreter;
#                                           SMOKE_KEEP=1 keeps the temporary folder)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/atlas-smoke.XXXXXX")"
SERVER_PID=""

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/run/serve.log" ]; then
    echo "--- atlas serve log:" >&2; tail -n 40 "$WORK/run/serve.log" >&2
  fi
  if [ "${SMOKE_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  [ "$rc" -eq 0 ] && echo "== wheel smoke test passed" || echo "== wheel smoke test FAILED" >&2
}
trap cleanup EXIT
step() { echo "== $*"; }
fail() { echo "smoke test: $*" >&2; exit 1; }

step "building the wheel"
"$PYTHON" -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
# The fresh venv's pip builds it (in an isolated build environment with hatchling), so the
# system Python needs no pip of its own.
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$REPO" >/dev/null
WHEEL="$(ls "$WORK"/dist/*.whl)"

step "installing $(basename "$WHEEL") into the fresh venv"
"$PY" -m pip install --quiet "$WHEEL"
ATLAS="$WORK/venv/bin/atlas"

# Every file git tracks in atlas/, data/ and templates/ is in the wheel (data/ and templates/
# inside the package): a .gitignore pattern that drops files from the build fails here.
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$REPO" ls-files atlas data templates | "$PY" -c '
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
want = [p if p.startswith("atlas/") else "atlas/" + p for p in sys.stdin.read().split()]
missing = [p for p in want if p not in names]
if missing:
    sys.exit(f"the wheel lacks {len(missing)} tracked files, e.g. " + ", ".join(missing[:5]))
print(f"   the wheel holds all {len(want)} tracked files of atlas/, data/, templates/")
' "$WHEEL"
fi

mkdir "$WORK/run"
cd "$WORK/run"
unset ATLAS_INSTANCE_PATH ATLAS_DATABASE_URL ATLAS_TEST_DATABASE_URL PYTHONPATH
export PYTHONNOUSERSITE=1

where="$("$PY" -c 'import atlas, atlas.resources as r; print(atlas.__file__, r.DATA_DIR, r.TEMPLATES_DIR)')"
case "$where" in
  *"$REPO"*) fail "the installed atlas reads from the checkout: $where" ;;
esac

step "atlas init (in $WORK/run)"
init="$("$ATLAS" init)"
echo "   $init"
[[ "$init" == *"12 curated projects added"* ]] || fail "atlas init did not add the 12 curated projects"
[ -f instance/atlas.sqlite3 ] || fail "atlas init did not create ./instance/atlas.sqlite3"

step "atlas locate 52.3759 9.7320"
located="$("$ATLAS" locate 52.3759 9.7320)"
echo "   $located"
[[ "$located" == *'"district_code": "03241"'* && "$located" == *'"region": "leine-weser"'* ]] \
  || fail "atlas locate did not place Hannover in Region Hannover (Leine-Weser)"

step "atlas geocode \"30169 Hannover\""
geocoded="$("$ATLAS" geocode "30169 Hannover")"
echo "   $geocoded"
[[ "$geocoded" == *'"status": "ok"'* && "$geocoded" == *'"postcode": "30169"'* ]] \
  || fail "atlas geocode did not find 30169 Hannover"

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
step "atlas serve --port $PORT"
"$ATLAS" serve --host 127.0.0.1 --port "$PORT" >serve.log 2>&1 &
SERVER_PID=$!

"$PY" - "http://127.0.0.1:$PORT" "$REPO/data/projects.geojson" <<'EOF'
import json, re, sys, time, urllib.error, urllib.request
from pathlib import Path

base, curated_file = sys.argv[1], Path(sys.argv[2])

def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as answer:
        return answer.status, answer.headers.get_content_type(), answer.read()

deadline = time.monotonic() + 60
while True:
    try:
        get("/api/markers")
        break
    except urllib.error.HTTPError as exc:
        sys.exit(f"/api/markers answered {exc.code}")
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("atlas serve did not answer within 60 s")
        time.sleep(0.3)

checks = {
    "/": (b"Projektatlas", "text/html"),
    "/projekte": (b"12 Projekte", "text/html"),
    "/regionen": (b"Projekte in den vier Regionen", "text/html"),
    "/einreichen": (b'name="csrf_token"', "text/html"),
}
static = set()
for path, (needle, ctype) in checks.items():
    status, got_type, body = get(path)
    if status != 200 or got_type != ctype or needle not in body:
        sys.exit(f"{path}: {status} {got_type}, {len(body)} bytes, without {needle!r}")
    static |= set(re.findall(r'"(/static/[^"?#]+)', body.decode()))
    print(f"   {path}: 200, {len(body):,} bytes")

# The compiled catalogues are in the wheel (issue 16): pages in English and Arabic.
for path, needle in [("/projekte?lang=en", b"12 projects"), ("/regionen?lang=ar", b'dir="rtl"')]:
    status, _, body = get(path)
    if status != 200 or needle not in body or b"Projekte in den vier Regionen" in body:
        sys.exit(f"{path}: {status}, without {needle!r} or still German")
    print(f"   {path}: 200, translated")

vendor = sorted(p for p in static if p.startswith("/static/vendor/"))
if not vendor:
    sys.exit("the pages link no vendored file under /static/vendor/")
for path in sorted(static):
    status, _, body = get(path)
    if status != 200 or not body:
        sys.exit(f"{path}: {status}, {len(body)} bytes")
print(f"   {len(static)} static files linked by these pages: 200 ({len(vendor)} vendored, "
      f"e.g. {vendor[0]})")

status, _, body = get("/api/projects")
projects = json.loads(body)
names = sorted(f["properties"]["name"] for f in projects["features"])
if curated_file.exists():
    curated = sorted(f["properties"]["name"]
                     for f in json.loads(curated_file.read_text(encoding="utf-8"))["features"])
else:
    curated = names
if projects["total"] != 12 or len(names) != 12 or names != curated:
    sys.exit(f"/api/projects: total {projects['total']}, {len(names)} features; expected the 12 "
             f"curated projects of data/projects.geojson")
print(f"   /api/projects: the 12 curated projects")

status, _, body = get("/api/regions")
regions = json.loads(body)["features"]
counts = {f["properties"]["region"]: f["properties"]["project_count"] for f in regions}
if len(regions) != 4 or sum(counts.values()) != 12:
    sys.exit(f"/api/regions: {counts}; expected 4 regions holding 12 projects")
print(f"   /api/regions: 4 regions, {counts}")
EOF
