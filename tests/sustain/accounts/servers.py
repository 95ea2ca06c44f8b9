"""Real servers in a thread for the notification tests: a small SMTP server (RFC 5321's
commands that Python's smtplib sends) and an HTTP server standing in for an SMS provider's API.
Both record what they received; neither is a mock of the code under test."""

import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Mailbox:
    """What the SMTP server received, the addresses it refuses (550), and how many of the next
    messages it turns away as a server in trouble would (451 to MAIL FROM: an outage)."""

    refuse: set[str] = field(default_factory=set)
    refuse_next: int = 0
    hang_next: threading.Event | None = None  # stall at MAIL FROM until set (a slow server)
    conversation: list[str] = field(default_factory=list)
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: "_SmtpServer"

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        box = self.server.mailbox
        sender, recipients = "", []
        self.reply("220 test.invalid ESMTP")
        while raw := self.rfile.readline():
            line = raw.decode().rstrip("\r\n")
            box.conversation.append(line)
            verb = line[:4].upper()
            if verb in {"EHLO", "HELO"}:
                self.reply("250 test.invalid")
            elif verb == "MAIL" and box.hang_next is not None and not box.hang_next.is_set():
                box.hang_next.wait(60)
                return
            elif verb == "MAIL" and box.refuse_next > 0:
                box.refuse_next -= 1
                self.reply("451 4.3.0 mail system unavailable, try again later")
            elif verb == "MAIL":
                sender, recipients = line.split(":", 1)[1].strip(" <>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = line.split(":", 1)[1].strip(" <>")
                if address in box.refuse:
                    self.reply("550 5.1.1 mailbox unavailable")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline().decode()) not in {".\r\n", ""}:
                    lines.append(data)
                box.messages.append((sender, recipients, "".join(lines)))
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:  # RSET, NOOP
                self.reply("250 OK")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    mailbox: Mailbox


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    server = _SmtpServer(("127.0.0.1", 0), _SmtpHandler)
    server.mailbox = Mailbox()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.mailbox
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Provider:
    """The requests the SMS provider received, and the answer it gives (status, JSON body)."""

    answer: tuple[int, dict[str, object]] = (201, {"sid": "SM0001", "status": "queued"})
    requests: list[dict[str, object]] = field(default_factory=list)


@contextmanager
def sms_provider() -> Iterator[tuple[str, Provider]]:
    provider = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            provider.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                    "body": self.rfile.read(length).decode(),
                }
            )
            status, body = provider.answer
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", provider
    finally:
        server.shutdown()
        server.server_close()
