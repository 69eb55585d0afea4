"""The axe-core accessibility audit the browser tests run on a loaded page (axe-core from npm in
viewer/node_modules; no CDN): the violations of WCAG 2.x A/AA and best practice that axe rates serious or
critical.

axe-core is evaluated in the page through Playwright rather than added as a ``<script>`` element: the pages'
Content-Security-Policy allows no inline script (so an added element would be refused), but it allows
``'unsafe-eval'`` for CesiumJS, which axe's message templates also need. The audited page therefore runs
under its own policy, as it does for its users.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO

AXE = REPO / "viewer" / "node_modules" / "axe-core" / "axe.min.js"
#: The impacts the audit fails on (axe's four are minor, moderate, serious, critical).
FAILING = ("serious", "critical")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def needs_axe() -> None:
    """Skip the test where axe-core is not installed."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: cd viewer && npm ci")


def audit(page) -> list[dict]:
    """axe-core's violations of the WCAG 2.x A/AA rules and best practices at FAILING impact on ``page``
    as it is now (id, impact, help and the first five elements of each)."""
    needs_axe()
    loaded = page.evaluate("source => { (0, eval)(source); return typeof window.axe; }",
                           AXE.read_text(encoding="utf-8"))
    assert loaded == "object", loaded
    result = page.evaluate("""async (tags) => (await axe.run(document, {
        runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})).violations""", TAGS)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result if v["impact"] in FAILING]
