"""Security headers on every response, and the Content-Security-Policy the viewer runs under.

CesiumJS 1.145's bundles need two relaxations, found by loading the viewer under a
strict policy: knockout (bundled with Cesium) finds the global object with
``(0,eval)("this")`` when the bundle loads (``'unsafe-eval'``), and Cesium compiles its
WebAssembly decoders at start-up (``'wasm-unsafe-eval'``); its credit display injects a
``<style>`` element and DOMPurify probes style attributes (``style-src 'unsafe-inline'``;
styles only, never scripts). Workers come from ``/cesium/``
or ``blob:``. Only documents and scripts (a worker runs under its script's policy) get
this policy; every other response gets ``default-src 'none'``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_SCRIPTED = ("text/html", "text/javascript", "application/javascript")


def viewer_policy(imagery_origin: str | None = None) -> str:
    """The viewer's CSP: same origin only, plus the imagery server when one is configured."""
    extra = f" {imagery_origin}" if imagery_origin else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'",
        "worker-src 'self' blob:",
        f"connect-src 'self' data: blob:{extra}",
        f"img-src 'self' data: blob:{extra}",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """ASGI middleware: nosniff, referrer policy, frame denial and the CSP for the content type."""

    def __init__(self, app: ASGIApp, viewer_csp: str) -> None:
        self.app = app
        self.viewer_csp = viewer_csp
        self.headers = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                scripted = headers.get("content-type", "").startswith(_SCRIPTED)
                headers.setdefault("Content-Security-Policy", self.viewer_csp if scripted else STRICT_POLICY)
                if scope.get("scheme") == "https":  # only over TLS (RFC 6797 §7.2: ignored over plain HTTP)
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)
