"""A real SMTP server on loopback for tests (aiosmtpd), started by `common::testing::SmtpSink`.

Usage: python3 -c <this file> <directory> [<certificate.pem> <key.pem>]
With a certificate and key, the server offers STARTTLS with them (the upgrade is optional).
Listens on a port of its own choosing on 127.0.0.1 (bound once, never released) and prints
`READY <port>` once it accepts connections; exits when stdin closes.
Each message is written as <n>.eml (raw bytes) and <n>.json (decoded headers and parts), <n>
counting up from 000001 in arrival order; the .json appears (atomically) after the .eml.
"""

import json
import os
import socket
import ssl
import sys
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        self.received += 1
        name = f"{self.received:06d}"
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({"content_type": part.get_content_type(), "text": part.get_content()})
        decoded = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content_type": msg.get_content_type(),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "parts": parts,
        }
        path = os.path.join(self.directory, name)
        with open(path + ".eml", "wb") as f:
            f.write(raw)
        with open(path + ".tmp", "w") as f:
            json.dump(decoded, f)
        os.rename(path + ".tmp", path + ".json")
        return "250 OK"


class HeldSocketController(Controller):
    """aiosmtpd's controller, serving a socket bound beforehand (port 0: the kernel's pick)."""

    def __init__(self, handler, sock, **smtp_parameters):
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **smtp_parameters)
        self.sock = sock

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


def main():
    directory = sys.argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    smtp_parameters = {}
    if len(sys.argv) >= 4:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(sys.argv[2], sys.argv[3])
        smtp_parameters = {"tls_context": tls_context, "require_starttls": False}
    controller = HeldSocketController(Sink(directory), sock, **smtp_parameters)
    controller.start()
    print(f"READY {controller.port}", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
