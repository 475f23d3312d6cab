"""Compile the gettext catalogues into the wheel (issue 16): the `.mo` files are built from
atlas/translations/*/LC_MESSAGES/messages.po, never kept in git."""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class TranslationsHook(BuildHookInterface):
    PLUGIN_NAME = "translations"

    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        root = Path(self.root)
        for po in sorted((root / "atlas" / "translations").glob("*/LC_MESSAGES/messages.po")):
            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as f:
                write_mo(f, catalog)
            build_data["force_include"][str(po.with_suffix(".mo"))] = str(
                po.with_suffix(".mo").relative_to(root)
            )
