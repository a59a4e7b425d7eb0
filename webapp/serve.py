"""`make run`: serve HTTP on localhost and HTTPS on the LAN with gunicorn, print both URLs and a QR."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import qrcode
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webapp.config import instance_dir


def lan_addresses() -> list[str]:
    """Return this machine's IPv4 addresses other than loopback (no packets are sent)."""
    found: list[str] = []
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
        found = [a for a in out.split() if ":" not in a]
    except (OSError, subprocess.SubprocessError):
        pass
    if not found:
        try:
            found = [socket.gethostbyname(socket.gethostname())]
        except OSError:
            found = []
    return [a for a in found if not a.startswith("127.")] or ["127.0.0.1"]


def ensure_certificate(folder: Path, addresses: list[str]) -> tuple[Path, Path]:
    """Make a self-signed certificate for the LAN addresses on first run (or when they change)."""
    cert_path, key_path = folder / "lan-cert.pem", folder / "lan-key.pem"
    names_path = folder / "lan-cert.names"
    wanted = ",".join(sorted(addresses))
    if cert_path.exists() and key_path.exists() and names_path.exists() and names_path.read_text() == wanted:
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Shopfloor (self-signed)")])
    alt = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses if a != "127.0.0.1"]
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    names_path.write_text(wanted)
    return cert_path, key_path


def gunicorn(bind: str, extra: list[str]) -> subprocess.Popen:
    """Start one gunicorn server for the app."""
    workers = os.environ.get("WEB_WORKERS", "2")
    cmd = [sys.executable, "-m", "gunicorn", "webapp:create_app()", "--bind", bind, "--workers", workers,
           "--threads", "4", "--worker-class", "gthread", "--access-logfile", "-", "--graceful-timeout", "5",
           *extra]
    return subprocess.Popen(cmd)


def main() -> int:
    """Serve until interrupted."""
    port, https_port = int(os.environ.get("PORT", "8000")), int(os.environ.get("HTTPS_PORT", "8443"))
    addresses = lan_addresses()
    cert, key = ensure_certificate(instance_dir(), addresses)
    lan_url = f"https://{addresses[0]}:{https_port}/"
    servers = [
        gunicorn(f"127.0.0.1:{port}", []),
        gunicorn(f"0.0.0.0:{https_port}", ["--certfile", str(cert), "--keyfile", str(key)]),
    ]
    print(f"\nShopfloor is running:\n  on this computer:  http://127.0.0.1:{port}/\n"
          f"  phones on the LAN: {lan_url}  (self-signed certificate: see README, 'LAN with HTTPS')\n",
          flush=True)
    code = qrcode.QRCode(border=2)
    code.add_data(lan_url)
    code.print_ascii(tty=False, invert=True)
    print("Scan this with a phone on the same network. Stop with Ctrl+C.", flush=True)

    def stop(*_args):
        for proc in servers:
            proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # If either server dies (a port already in use, say), stop the other and fail loudly.
    _pid, status = os.wait()
    stop()
    for proc in servers:
        proc.wait()
    if status:
        print("Shopfloor stopped: a server failed to start (see the lines above; is the port in use?)",
              file=sys.stderr)
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
