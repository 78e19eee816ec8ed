"""TLS for ``tls://HOST:PORT`` addresses, and the rule for passwords.

A server's certificate is checked one of two ways (the Rust CLI also has
trust on first use; this package keeps no state on disk):

- ``cafile=PATH``: standard verification of the chain and the host name
  against the CA certificates in a PEM file (for a self-signed server, its
  own ``cert.pem`` works as the CA);
- ``fingerprint="sha256:HEX"``: accept exactly that certificate. The
  handshake runs without verification, then the SHA-256 of the certificate
  the server presented (DER) is compared before anything is sent.
"""

import hashlib
import hmac
import ipaddress
import socket
import ssl
from typing import Optional

from .frame import SockitError

#: ALPN id of the frame protocol; servers advertise it on framed listeners.
ALPN = "sockit/1"


class TlsError(SockitError):
    """The server's certificate was not the expected one, or the TLS options
    were incomplete. ``code``: ``certificate_mismatch`` or ``no_trust``."""


def parse_fingerprint(text: str) -> bytes:
    """``sha256:HEX``, bare ``HEX`` or openssl's ``AB:CD:..`` -> 32 bytes."""
    t = text.strip()
    if t[:7].lower() == "sha256:":
        t = t[7:]
    try:
        raw = bytes.fromhex(t.replace(":", ""))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"bad fingerprint {text!r}: write sha256: and 64 hex digits, "
                         "as `sockit cert show` prints it")
    return raw


def wrap(sock: socket.socket, host: str, cafile: Optional[str],
         fingerprint: Optional[str]) -> ssl.SSLSocket:
    """Runs the TLS handshake on a connected ``sock`` and checks the server.

    Closes ``sock`` and raises on failure: ``ssl.SSLError`` from a failed
    verification against ``cafile``, ``TlsError`` for a fingerprint that does
    not match, or when neither ``cafile`` nor ``fingerprint`` is given.
    """
    if cafile is None and fingerprint is None:
        sock.close()
        raise TlsError("no_trust", "tls:// needs cafile=PATH (PEM) or fingerprint='sha256:HEX' "
                                   "(from `sockit cert show`) to check the server")
    want = parse_fingerprint(fingerprint) if fingerprint is not None else None
    if cafile is not None:
        ctx = ssl.create_default_context(cafile=cafile)
    else:
        # Pinning: the certificate is compared below, after the handshake.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols([ALPN])
    try:
        tls = ctx.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    if want is not None:
        der = tls.getpeercert(binary_form=True) or b""
        got = hashlib.sha256(der).digest()
        if not hmac.compare_digest(got, want):
            tls.close()
            raise TlsError("certificate_mismatch",
                           f"the server presents sha256:{got.hex()}, not the pinned "
                           f"sha256:{want.hex()}; nothing was sent")
    return tls


def plain_remote(sock: socket.socket) -> bool:
    """True for a plain TCP socket whose peer is not this machine: a password
    sent over it could be read by anyone on the path."""
    if isinstance(sock, ssl.SSLSocket) or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    host = sock.getpeername()[0]
    return not ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
