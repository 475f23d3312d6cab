"""What tests and benchmarks share, imported as `tests.support.…` by both:

- `databases`: the database a test runs against (a SQLite file, or a fresh PostgreSQL schema
  when ATLAS_TEST_DATABASE_URL is set) and the check that a test said to need none opens none;
- `live_server`: `atlas …` as a subprocess: free_port, atlas_env, run_atlas, serving/served
  (any server command, or `atlas serve`), and submit (one submitter over HTTP);
- `forms`: reading a page's CSRF token, and the form of a synthetic submission;
- `browser`: Chromium through Playwright against a served instance (a pytest plugin);
- `nominatim_stub`, `smtp_stub`: Nominatim and a mail server on 127.0.0.1.

Nothing here needs pytest except `browser`.
"""
