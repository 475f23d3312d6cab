"""Gemeinsame Sache: the project atlas of "Niedersachsen packt an".

Layers, lowest first: `geo` (regions, geocoding, geodesy), `store` (database, caches,
migrations), `search` (queries and one back end per database), `core` (projects, placement,
submissions, accounts, outbox, coverage figures; no Flask), `web` (the Flask app) and `cli`.
"""
