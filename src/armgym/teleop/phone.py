"""Phone (WebXR) teleoperation: the ``teleop`` package's page, armgym's pose stream.

The PyPI ``teleop`` package (0.1.5) ships a WebXR page (``index.html`` + ``assets/``)
that streams an Android phone's 6-DoF pose and its buttons over a websocket at ``/ws``
(or a VR headset's controller, with the page opened in the headset's browser). armgym
serves that page and that websocket itself, over HTTPS, with ``PoseStreamServer``
(``armgym.teleop.pose_stream``), and feeds a ``PoseTeleop`` with the ``webxr`` frame.
The package's own server is not used: it binds with a key pair published inside the
package, which protects nothing. Instead a certificate is generated per machine on first
use (``ensure_certificate``, with ``cryptography``) and stored with its key under
``config_dir()/teleop/``; the phone trusts it once (docs/teleop.md).

Browsers cannot send an ``Authorization`` header on a websocket, so the key travels in
the URL: open ``https://<this machine>:4443/?key=<key>``; the page is served with its
websocket URL patched to carry the same ``?key=``.

Install: ``pip install 'armgym[phone]'`` (``teleop==0.1.5`` for the page,
``cryptography`` for the certificate). Not tried with a real phone or headset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import ipaddress
import os
import secrets
import socket
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path

from armgym.errors import ConfigError
from armgym.teleop.pose import PoseTeleopConfig
from armgym.teleop.pose_stream import PoseStreamConfig, PoseStreamTeleop

#: The ``teleop`` package's page opens ``/ws`` on its own host; this keeps the query.
WS_URL_JS = "const wsUrl = `${protocol}//${window.location.host}/ws`;"
WS_URL_WITH_KEY_JS = (
    "const wsUrl = `${protocol}//${window.location.host}/ws${window.location.search}`;"
)
CERT_DAYS = 365


def config_dir() -> Path:
    """armgym's per-user config folder: ``$ARMGYM_CONFIG_DIR``, else
    ``$XDG_CONFIG_HOME/armgym``, else ``~/.config/armgym``."""
    if os.environ.get("ARMGYM_CONFIG_DIR"):
        return Path(os.environ["ARMGYM_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "armgym"


def local_ip() -> str:
    """This machine's address on the local network (no packet is sent), or 127.0.0.1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


@dataclass(frozen=True)
class Certificate:
    """A certificate and key on disk; ``sha256`` is the certificate's fingerprint (hex)."""

    cert: Path
    key: Path
    sha256: str
    created: bool

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def _fingerprint(pem: bytes) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode())).hexdigest()


def _covers(pem: bytes, hosts: list[str]) -> bool:
    """Whether the certificate is valid for a week more and names every host."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    if cert.not_valid_after_utc < dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    names |= set(san.get_values_for_type(x509.DNSName))
    return all(h in names for h in hosts)


def ensure_certificate(
    directory: Path | None = None, hosts: list[str] | None = None
) -> Certificate:
    """The machine's certificate for ``hosts`` (IPs or names), generated if missing.

    A new one (EC P-256, self-signed, a CA so a phone can install it as trusted, valid
    ``CERT_DAYS`` days) replaces one that expires within a week or misses a host (the
    machine's LAN address changed). The key file is readable by its owner only.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as exc:
        raise ConfigError(
            "phone teleop needs `pip install 'armgym[phone]'` (cryptography)."
        ) from exc
    directory = directory or config_dir() / "teleop"
    hosts = hosts or sorted({"localhost", "127.0.0.1", local_ip()})
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.exists() and key_path.exists() and _covers(cert_path.read_bytes(), hosts):
        pem = cert_path.read_bytes()
        return Certificate(cert_path, key_path, _fingerprint(pem), created=False)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"armgym teleop {socket.gethostname()}")]
    )
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)
    os.chmod(key_path, 0o600)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path.write_bytes(pem)
    return Certificate(cert_path, key_path, _fingerprint(pem), created=True)


def teleop_page_dir() -> Path:
    """The installed ``teleop`` package's folder (found without importing it)."""
    spec = importlib.util.find_spec("teleop")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "phone teleop serves the WebXR page of the `teleop` package: "
            "`pip install 'armgym[phone]'` (teleop==0.1.5)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def webxr_pages(cert_pem: bytes) -> dict[str, tuple[bytes, str]]:
    """HTTP routes: the page (websocket URL patched to keep ``?key=``), its script, and
    ``/cert.pem`` (to install the certificate on the phone)."""
    root = teleop_page_dir()
    html = (root / "index.html").read_text()
    if WS_URL_JS not in html:
        raise ConfigError(
            f"{root / 'index.html'} does not open its websocket as teleop 0.1.5 does; "
            "install teleop==0.1.5."
        )
    return {
        "/": (html.replace(WS_URL_JS, WS_URL_WITH_KEY_JS).encode(), "text/html; charset=utf-8"),
        "/assets/teleop-ui.js": (
            (root / "assets" / "teleop-ui.js").read_bytes(),
            "text/javascript",
        ),
        "/cert.pem": (cert_pem, "application/x-x509-ca-cert"),
    }


@dataclass(frozen=True)
class PhoneConfig:
    """``--source phone``: an Android phone (or a VR headset's browser) over WebXR."""

    host: str = "0.0.0.0"
    """Bind address (the phone must reach it on the local network)."""
    port: int = 4443
    """HTTPS port of the page and its websocket."""
    api_key: str | None = None
    """Key the page URL carries (default: $ARMGYM_API_KEY, else a fresh random one)."""
    cert_dir: Path | None = None
    """Certificate folder (default: config_dir()/teleop)."""
    pose: PoseTeleopConfig = field(default_factory=lambda: PoseTeleopConfig(frame="webxr"))
    """Mapping, filtering and limits (WebXR frame: x right, y up, z towards the user)."""


class PhoneTeleop(PoseStreamTeleop):
    """``TeleopDevice`` for a phone: serves the WebXR page over HTTPS and prints its URL.

    ``page_url`` is the address to open on the phone (it carries the key).
    """

    page_url: str

    def __init__(self, config: PhoneConfig | None = None):
        cfg = config or PhoneConfig()
        key = cfg.api_key or os.environ.get("ARMGYM_API_KEY") or secrets.token_urlsafe(12)
        hosts = {"localhost", "127.0.0.1", local_ip()}
        if cfg.host not in ("0.0.0.0", ""):
            hosts.add(cfg.host)
        cert = ensure_certificate(cfg.cert_dir, sorted(hosts))
        pages = webxr_pages(cert.cert.read_bytes())
        stream = PoseStreamConfig(host=cfg.host, port=cfg.port, api_key=key, pose=cfg.pose)
        self.certificate = cert
        super().__init__(stream, ssl_context=cert.ssl_context(), pages=pages)

    def announce(self) -> None:
        host = local_ip() if self.server.host in ("0.0.0.0", "") else self.server.host
        self.page_url = f"https://{host}:{self.thread.port}/?key={self.server.api_key}"
        cert = self.certificate
        print(
            f"phone teleop: open {self.page_url} in Chrome on an Android phone "
            f"(certificate sha256 {cert.sha256[:16]}…, {'new' if cert.created else 'kept'}: "
            f"{cert.cert}); see docs/teleop.md",
            file=sys.stderr,
        )
