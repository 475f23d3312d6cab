"""The web application: the factory (`atlas.web.app.create_app`), blueprints, forms, maps,
charts and assets. Empty on purpose: its modules import `atlas.web`, so it imports none of them."""
