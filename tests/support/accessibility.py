"""Checks a page must pass on a phone and for assistive technology, in a real browser.

axe-core (tests/support/vendor/axe-core, vendored for the tests only by
scripts/vendor_test_assets.py; the atlas never serves it) is injected into the page under test
and run with the WCAG 2.0 and 2.1 level A and AA rules. `sideways_overflow` names what sticks
out of the window when a page scrolls sideways.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
#: The rule tags of WCAG 2.0 and 2.1, levels A and AA (what BITV 2.0 asks of public bodies).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

#: Phone sizes of the issue (an iPhone 12–15 and a small Android phone) and a desk.
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 320, "height": 640}
DESK = {"width": 1280, "height": 860}


def axe_violations(page, exclude: list[str] | None = None) -> list[dict]:
    """axe-core's WCAG 2.0/2.1 A+AA violations on the page as it is now, each with its rule,
    impact, help text and (up to three) offending elements."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol: the page's Content-Security-Policy (script
        # nonces) stays as it is, and would block add_script_tag's inline script.
        page.evaluate(AXE.read_text(encoding="utf-8"))
        assert page.evaluate("() => typeof window.axe === 'object'"), "axe-core did not load"
    result = page.evaluate(
        """async ([tags, exclude]) => {
            const context = exclude.length ? {exclude: exclude.map(s => [s])} : document;
            const r = await axe.run(context, {runOnly: {type: 'tag', values: tags},
                                              resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary),
                count: v.nodes.length,
            }));
        }""",
        [WCAG_TAGS, exclude or []],
    )
    return result


def describe(violations: list[dict]) -> str:
    return "\n".join(
        f"- {v['id']} ({v['impact']}, {v['count']}×): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in violations
    )


def sideways_overflow(page) -> dict:
    """How wide the document is against the window, and the outermost elements that reach past
    the window's right edge (for the failure message)."""
    return page.evaluate("""() => {
        const root = document.documentElement;
        const limit = root.clientWidth;
        const wide = [];
        for (const el of document.body.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > limit + 0.5 && !wide.some(w => w.el.contains(el))) {
                // Clipped by a scrolling ancestor? An absolutely positioned element only by one
                // that holds its containing block (a cause of overflow easy to miss).
                const own = getComputedStyle(el).position;
                let p = own === 'absolute' && el.offsetParent !== undefined ? el.offsetParent : el.parentElement;
                let clipped = own === 'fixed';
                for (; p && p !== document.body && !clipped; p = p.parentElement) {
                    const s = getComputedStyle(p);
                    clipped = s.overflowX !== 'visible' || s.position === 'fixed';
                }
                if (!clipped) { wide.push({el, right: Math.round(box.right)}); }
            }
        }
        const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
            (el.className && typeof el.className === 'string'
                ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
        return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth,
                clientWidth: limit, culprits: wide.slice(0, 8).map(w => name(w.el) + ' → ' + w.right)};
    }""")


def assert_no_sideways_scroll(page, what: str) -> None:
    found = sideways_overflow(page)
    assert found["scrollWidth"] <= found["innerWidth"], f"{what} scrolls sideways: {found}"
    assert found["scrollWidth"] <= found["clientWidth"], f"{what} scrolls sideways: {found}"
