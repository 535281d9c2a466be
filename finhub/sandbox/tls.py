"""The sandbox behind the providers' real HTTPS hosts: a local HTTP CONNECT proxy that terminates
TLS for ``*.yahoo.com``, ``api.coingecko.com`` and ``www.alphavantage.co`` with leaf certificates
signed by a test CA made on the spot, and hands each request to the sandbox's own handler.

The processes under test keep their real clients (yfinance's curl_cffi session with its browser
impersonation, pycoingecko's and finhub's ``requests`` sessions) and reach them through
environment variables both libraries honour (see :meth:`HttpsSandbox.env`):

- ``https_proxy`` / ``HTTPS_PROXY``: libcurl reads the lower-case one (and the upper-case one for
  https), ``requests`` both; ``no_proxy`` keeps Redis, PostgreSQL and the plain-HTTP sandbox direct;
- ``REQUESTS_CA_BUNDLE`` (and ``CURL_CA_BUNDLE``): ``requests`` reads either per request; curl_cffi's
  ``Session`` reads them when it is built (``session.py``: REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE).

Faults, per host (:meth:`HttpsSandbox.fault`), for the ones no HTTP answer can express:
``dns`` (the proxy cannot resolve the host: ``502`` with squid's ``ERR_DNS_FAIL``), ``refused``
(``503``, ``ERR_CONNECT_FAIL``), ``proxy`` (``403`` from the proxy), ``untrusted`` (a leaf signed
by another CA), ``wronghost`` (a trusted leaf for another name), ``reset`` (half a body, then a TCP
RST), ``close`` (the connection closed without an answer), ``hang`` (no answer until the client
gives up). HTTP statuses and bodies are the sandbox's controls (``status``/``body``/``content_type``).

Needs the ``cryptography`` package (test-only: see requirements.txt).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import socket
import socketserver
import ssl
import struct
import tempfile
import threading

from finhub.sandbox import Sandbox
from finhub.sandbox.server import Handler

#: The hosts the proxy answers for; any other CONNECT is refused (nothing reaches the internet).
HOSTS = ("query1.finance.yahoo.com", "query2.finance.yahoo.com", "fc.yahoo.com", "guce.yahoo.com",
         "consent.yahoo.com", "finance.yahoo.com", "api.coingecko.com", "pro-api.coingecko.com",
         "www.alphavantage.co")
#: The hosts of each provider, for faults set by provider name.
PROVIDER_HOSTS = {
    "yahoo": tuple(h for h in HOSTS if h.endswith("yahoo.com")),
    "coingecko": ("api.coingecko.com", "pro-api.coingecko.com"),
    "alphavantage": ("www.alphavantage.co",),
}
#: Faults answered to the CONNECT itself: status line and squid-style error header.
TUNNEL_FAULTS = {"dns": (502, "Bad Gateway", "ERR_DNS_FAIL"), "refused": (503, "Service Unavailable",
                 "ERR_CONNECT_FAIL"), "proxy": (403, "Forbidden", "ERR_ACCESS_DENIED")}
FAULTS = (*TUNNEL_FAULTS, "untrusted", "wronghost", "reset", "close", "hang")


class TestCA:
    """A certificate authority made for one test run: ``path`` is its PEM bundle for clients."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: str, name: str = "finhub sandbox test CA") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._ser, self._ec = x509, hashes, serialization, ec
        os.makedirs(folder, exist_ok=True)
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256()))
        self.path = os.path.join(folder, name.replace(" ", "-") + ".pem")
        with open(self.path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self, hostname: str) -> ssl.SSLContext:
        """A server context presenting a leaf for ``hostname`` signed by this CA (HTTP/1.1 only)."""
        with self._lock:
            if hostname not in self._contexts:
                certfile, keyfile = self._issue(hostname)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(certfile, keyfile)
                context.set_alpn_protocols(["http/1.1"])  # curl_cffi offers h2 too; the sandbox speaks 1.1
                self._contexts[hostname] = context
            return self._contexts[hostname]

    def _issue(self, hostname: str) -> tuple[str, str]:
        x509, ser = self._x509, self._ser
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = self._ec.generate_private_key(self._ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        try:
            names = [x509.IPAddress(ipaddress.ip_address(hostname))]
        except ValueError:
            names = [x509.DNSName(hostname)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, self._hashes.SHA256()))
        certfile = os.path.join(self.folder, f"leaf-{hostname}.pem")
        keyfile = os.path.join(self.folder, f"leaf-{hostname}.key")
        with open(certfile, "wb") as f:
            f.write(cert.public_bytes(ser.Encoding.PEM) + self.cert.public_bytes(ser.Encoding.PEM))
        with open(keyfile, "wb") as f:
            f.write(key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()))
        return certfile, keyfile


class _Tunnelled(Handler):
    """The sandbox's handler on a decrypted tunnel, with the connection-level faults of its host."""

    server: _Tunnel  # type: ignore[assignment]

    def _serve(self, method: str) -> None:
        fault = self.server.front.faults.get(self.server.host)
        if fault == "hang":
            self.server.front.stopping.wait(self.server.front.hang_for)
            self.close_connection = True
            return
        if fault == "close":
            self.close_connection = True
            return
        if fault == "reset":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"")
            self.wfile.flush()
            raw = self.server.raw
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
            self.close_connection = True
            return
        super()._serve(method)


class _Tunnel:
    """What :class:`_Tunnelled` finds as its ``server``: the sandbox's state plus the tunnel's host."""

    def __init__(self, front: HttpsSandbox, host: str, raw) -> None:
        self.front, self.host, self.raw = front, host, raw
        self.state = front.sandbox.state
        self.stopping = front.sandbox._server.stopping


class _Connect(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        front: HttpsSandbox = self.server.front  # type: ignore[attr-defined]
        sock: socket.socket = self.request
        sock.settimeout(60)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            host = target.rpartition(":")[0].strip("[]").lower()
            front.connects.append(host)
            if method != "CONNECT":
                sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            fault = front.faults.get(host)
            if host not in HOSTS:
                fault = "proxy"
            if fault in TUNNEL_FAULTS:
                status, reason, squid = TUNNEL_FAULTS[fault]
                sock.sendall(f"HTTP/1.1 {status} {reason}\r\nX-Squid-Error: {squid} 0\r\n"
                             f"Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
                return
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if fault == "untrusted":
                context = front.rogue.context(host)
            elif fault == "wronghost":
                context = front.ca.context("wrong.example")
            else:
                context = front.ca.context(host)
            tls = context.wrap_socket(sock, server_side=True)
        except (OSError, ValueError):
            return  # the client gave up or refused our certificate: that is the test
        front._tunnels.add((host, tls))
        try:
            _Tunnelled(tls, self.client_address, _Tunnel(front, host, tls))  # type: ignore[arg-type]
        except OSError:
            pass
        finally:
            front._tunnels.discard((host, tls))
            with contextlib.suppress(OSError):
                tls.close()


class _ProxyServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class HttpsSandbox:
    """A :class:`~finhub.sandbox.Sandbox` reachable at the providers' real HTTPS URLs through a proxy.

        with HttpsSandbox() as hs:
            env = hs.env()              # https_proxy, no_proxy, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE
            hs.fault("yahoo", "dns")    # or a host; hs.fault("yahoo", None) clears it
            hs.sandbox.configure("alphavantage", status=503, body=b"<html>...", content_type="text/html")
    """

    def __init__(self, sandbox: Sandbox | None = None, folder: str | None = None, hang_for: float = 30.0) -> None:
        self.folder = folder or tempfile.mkdtemp(prefix="finhub-test-ca-")
        self.ca = TestCA(self.folder)
        self.rogue = TestCA(os.path.join(self.folder, "rogue"), name="rogue CA")
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox()
        self.faults: dict[str, str] = {}
        self.connects: list[str] = []
        self._tunnels: set = set()
        self.hang_for = hang_for
        self.stopping = threading.Event()
        self._server = _ProxyServer(("127.0.0.1", 0), _Connect)
        self._server.front = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """What a process needs to reach this sandbox through its real clients and URLs."""
        return {"https_proxy": self.proxy_url, "HTTPS_PROXY": self.proxy_url,
                "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
                "REQUESTS_CA_BUNDLE": self.ca.path, "CURL_CA_BUNDLE": self.ca.path}

    def fault(self, target: str, fault: str | None) -> None:
        """Set (or with None clear) a connection-level fault for a provider's hosts or one host."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        for host in PROVIDER_HOSTS.get(target, (target,)):
            if fault is None:
                self.faults.pop(host, None)
            else:
                self.faults[host] = fault
        self.drop(target)

    def drop(self, target: str | None = None) -> None:
        """Close the open tunnels (to a provider's hosts, or all): the next request connects anew
        and meets the faults now set."""
        hosts = PROVIDER_HOSTS.get(target, (target,)) if target else None
        for host, tls in list(self._tunnels):
            if hosts is None or host in hosts:
                with contextlib.suppress(OSError):
                    tls.shutdown(socket.SHUT_RDWR)

    def clear(self) -> None:
        self.faults.clear()
        self.connects.clear()
        self.drop()

    def start(self) -> HttpsSandbox:
        if self._own_sandbox:
            self.sandbox.start()
        self._thread = threading.Thread(target=self._server.serve_forever, name="finhub-https-sandbox",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._own_sandbox:
            self.sandbox.stop()

    def __enter__(self) -> HttpsSandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
