"""The web application: the factory, blueprints, forms, maps, charts and assets."""

from .app import create_app

__all__ = ["create_app"]
