#!/bin/sh
# Update the interface translations (issue 16): extract every _() from atlas/ and templates/
# into atlas/translations/messages.pot, merge it into each language's messages.po (new texts
# arrive empty, changed ones fuzzy) and compile the .mo files. Then translate what is empty or
# fuzzy in the .po files (tests/test_i18n.py fails until none is left) and run this again.
#   scripts/translations.sh            extract, update, compile
#   scripts/translations.sh compile    only compile (the app also does this on start)
set -eu
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-$(command -v .venv/bin/pybabel || command -v pybabel)}"
DIR=atlas/translations
LANGS="en ar uk fa tr ru"
if [ "${1:-}" != compile ]; then
  "$PYBABEL" extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 -k _l -k _plural:1,2 --no-location \
    --sort-output --project="Gemeinsame Sache" --copyright-holder="Gemeinsame Sache" \
    --msgid-bugs-address="" -o "$DIR/messages.pot" .
  for lang in $LANGS; do
    if [ -f "$DIR/$lang/LC_MESSAGES/messages.po" ]; then
      "$PYBABEL" update -i "$DIR/messages.pot" -d "$DIR" -l "$lang" --no-wrap --ignore-obsolete
    else
      "$PYBABEL" init -i "$DIR/messages.pot" -d "$DIR" -l "$lang" --no-wrap
    fi
  done
fi
"$PYBABEL" compile -d "$DIR" --statistics
