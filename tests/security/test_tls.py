"""``twin serve --certfile/--keyfile`` serves HTTPS; session cookies are Secure over TLS."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.browser.serving import free_port
from tests.security.conftest import PASSWORD, add_operator, make_app, served
from tests.twin.fixtures_city import TWIN
from twin.cli import main


def self_signed(folder: Path, name: str = "tls") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_https_sign_in_sets_secure_cookies_and_plain_http_gets_no_answer(tmp_path):
    cert, key = self_signed(tmp_path)
    app = make_app(tmp_path / "home")
    sato = add_operator(app, "sato", "staff")
    with served(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trusting(cert)) as client:
            assert client.get("/api/cities").status_code == 200
            assert "strict-transport-security" in client.get("/api/config").headers
            signed = client.post("/api/session", json={"name": "sato", "password": PASSWORD, "code": sato.code()})
            assert signed.status_code == 200, signed.text
            cookies = [h.lower() for h in signed.headers.get_list("set-cookie")]
            assert len(cookies) == 2 and all("; secure" in c and "samesite=strict" in c for c in cookies)
            assert client.get("/api/me").json() == {"name": "sato", "role": "staff"}
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/cities", timeout=5)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/api/cities", timeout=5)  # not trusted by default


def test_twin_serve_with_certfile_and_keyfile_serves_https(tmp_path):
    cert, key = self_signed(tmp_path)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([TWIN, "serve", "--data-dir", str(tmp_path / "home"), "--port", str(port),
                                "--certfile", str(cert), "--keyfile", str(key)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"https://127.0.0.1:{port}/api/cities", verify=trusting(cert), timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "serve.log").read_text()) from None
                time.sleep(0.3)
        assert response.status_code == 200 and response.json() == {"cities": []}
        assert response.headers["strict-transport-security"] == "max-age=31536000"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    assert f"https://127.0.0.1:{port}/" in (tmp_path / "serve.log").read_text()


@pytest.mark.parametrize("which", ["only-cert", "missing-key", "mismatched"])
def test_bad_tls_options_are_one_line_and_exit_2(tmp_path, which, monkeypatch, capsys):
    cert, key = self_signed(tmp_path)
    _, other_key = self_signed(tmp_path, "other")
    args = {"only-cert": ["--certfile", str(cert)],
            "missing-key": ["--certfile", str(cert), "--keyfile", str(tmp_path / "nope.key")],
            "mismatched": ["--certfile", str(cert), "--keyfile", str(other_key)]}[which]
    monkeypatch.setattr(sys, "argv", ["twin", "serve", "--data-dir", str(tmp_path / "home"), *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err.count("\n") == 0 and "Traceback" not in err
    assert {"only-cert": "go together", "missing-key": "no such file", "mismatched": "not a matching"}[which] in err
