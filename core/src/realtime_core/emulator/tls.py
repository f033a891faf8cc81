"""A throwaway certificate authority for emulators that must speak TLS.

Official SDKs insist on ``wss://``/``https://`` for some providers (google-genai's live client, AWS's
HTTP/2 client). The emulator serves a certificate for ``127.0.0.1``/``localhost`` issued by a CA made at
run time; clients trust that CA explicitly (``ca_file=...``), never by turning verification off.
"""

from __future__ import annotations

import atexit
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["TestCertificateAuthority", "shared_test_ca"]


class TestCertificateAuthority:
    """A CA and a loopback server certificate, written to a private temp directory."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        import trustme

        self._ca: Any = trustme.CA(organization_name="realtime-core emulator CA")
        self._cert: Any = self._ca.issue_cert("127.0.0.1", "localhost", "::1")
        self.directory = Path(tempfile.mkdtemp(prefix="realtime-emulator-ca-"))
        self.ca_file = str(self.directory / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)
        self.cert_file = str(self.directory / "server.pem")
        self._cert.private_key_and_cert_chain_pem.write_to_path(self.cert_file)

    def server_context(self, *, alpn: list[str] | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cafile=self.ca_file)
        return ctx

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


_shared: TestCertificateAuthority | None = None


def shared_test_ca() -> TestCertificateAuthority:
    """One CA per process (made on first use, deleted at exit)."""
    global _shared
    if _shared is None:
        _shared = TestCertificateAuthority()
        atexit.register(_shared.cleanup)
    return _shared
