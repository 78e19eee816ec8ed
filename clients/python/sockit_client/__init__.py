"""sockit_client: a stdlib-only Python client for the sockit frame protocol.

>>> from sockit_client import Client
>>> with Client.connect("tcp://127.0.0.1:7878") as c:   # doctest: +SKIP
...     c.hello()["server"]
...     c.echo(b"hello", note="hi").body
'sockit/0.1.0'
b'hello'

``frame`` holds the wire format (pure, no sockets); ``client`` the socket side.
"""

from .client import DEFAULT_ADDRESS, PROTOCOL_VERSION, Client, Reply, ServerError
from .frame import MAX_BODY, MAX_HEADER, FrameDecoder, ProtocolError, SockitError, encode_frame
from .tls import TlsError

__all__ = [
    "DEFAULT_ADDRESS", "MAX_BODY", "MAX_HEADER", "PROTOCOL_VERSION",
    "Client", "FrameDecoder", "ProtocolError", "Reply", "ServerError", "SockitError",
    "TlsError", "encode_frame",
]
__version__ = "0.1.0"
