"""Operator sign-in in the console (Chromium): password + TOTP in the header form, then a scenario
write from the page with the session cookie and its CSRF token."""

from __future__ import annotations

import json
import subprocess

import pyotp
import pytest

from tests.browser.serving import CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.twin.fixtures_city import TWIN

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
PASSWORD = "correct horse battery staple"
RUN = {"city": "nowhere", "scenario": "cloudburst-100mm"}
POST_RUN = """async ([body, withToken]) => {
  const { sessionHeaders } = await import("/src/signin.js");
  const headers = { "Content-Type": "application/json", ...(withToken ? sessionHeaders() : {}) };
  const response = await fetch("/api/scenarios", { method: "POST", headers, body: JSON.stringify(body) });
  return [response.status, (await response.json()).type];
}"""


def test_an_operator_signs_in_runs_a_write_and_signs_out(tmp_path):
    home = tmp_path / "data"
    created = subprocess.run([TWIN, "users", "create", "--name", "sato", "--role", "staff", "--password-stdin",
                              "--json", "--data-dir", str(home)], input=PASSWORD + "\n", capture_output=True,
                             text=True, check=True)
    secret = json.loads(created.stdout)["totp_secret"]
    playwright = pytest.importorskip("playwright.sync_api")
    with running_server(home) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(base + "/")
        page.wait_for_selector("#signin-name")
        page.fill("#signin-name", "sato")
        page.fill("#signin-password", PASSWORD)
        page.fill("#signin-code", pyotp.TOTP(secret).now())
        page.click("#signin-submit")
        page.wait_for_selector('#signin[data-signed-in="staff"]', state="attached", timeout=20_000)
        assert page.inner_text("#signin-who") == "sato (staff)"
        session = next(c for c in page.context.cookies() if c["name"] == "twin_session")
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert page.evaluate("document.cookie").count("twin_session") == 0  # the page cannot read it
        # The write passes the role check (then: no such city) only with the CSRF token.
        assert page.evaluate(POST_RUN, [RUN, True]) == [404, "/problems/unknown-city"]
        assert page.evaluate(POST_RUN, [RUN, False]) == [403, "/problems/csrf"]
        page.click("#signin-out")
        page.wait_for_selector('#signin[data-signed-in=""]', state="attached", timeout=20_000)
        assert page.evaluate(POST_RUN, [RUN, True])[0] == 401
        browser.close()
