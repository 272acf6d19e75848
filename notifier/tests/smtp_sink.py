"""A real SMTP server on loopback for the notifier's tests (aiosmtpd).

Usage: python3 smtp_sink.py <port> <directory>
Each message is written as <n>.eml (raw bytes) and <n>.json (decoded headers and parts).
Prints READY once listening; exits when stdin closes.
"""

import json
import os
import sys
import uuid
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        name = uuid.uuid4().hex
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


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
