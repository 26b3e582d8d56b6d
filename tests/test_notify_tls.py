"""What a test of notifications must be able to catch (issue 18's red team): messages are queued
in their step's transaction, and e-mail goes over TLS only to a server whose certificate
verifies, never in clear when STARTTLS was asked for."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from notify_servers import Received, free_port
from test_notify import CAF_CONTROLLERS, contacts

from conftest import REQUEST, Ctg, State
from served import self_signed


def test_messages_commit_with_their_step_or_not_at_all(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the messages are queued and before the commit leaves neither the step's
    event nor a message (queued after the commit, they would be lost or sent for nothing)."""
    from ctg_exchange.notify.outbox import enqueue
    from ctg_exchange.services import session as sessions

    ctg = contacts(state)
    ctg.ok("notify", "smtp", "--host", "127.0.0.1", "--port", str(free_port()), "--security",
           "none", "--sender", "ctg@ville.example")  # fmt: skip
    before = ctg.snapshot()

    def queued_then_crash(*args: Any) -> int:
        assert enqueue(*args) > 0
        raise RuntimeError("crash before the commit")

    monkeypatch.setattr(sessions, "enqueue", queued_then_crash)
    with pytest.raises(RuntimeError):
        ctg(*REQUEST, as_="v.agent")
    monkeypatch.setattr(sessions, "enqueue", enqueue)
    assert ctg.snapshot() == before
    assert ctg.json("notify", "status")["pending"] == []


@contextmanager
def starttls_server(tls: tuple[Path, Path] | None) -> Iterator[tuple[int, Received]]:
    """An SMTP server that offers STARTTLS with ``tls`` (and takes nothing before it), or
    offers no STARTTLS at all."""
    from aiosmtpd.controller import Controller

    received = Received()
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
    controller = Controller(
        received, hostname="127.0.0.1", port=free_port(), tls_context=context,
        require_starttls=tls is not None,
    )  # fmt: skip
    controller.start()
    try:
        yield controller.port, received
    finally:
        controller.stop()


def _use_starttls(ctg: Ctg, port: int) -> None:
    ctg.ok("notify", "smtp", "--host", "127.0.0.1", "--port", str(port), "--security",
           "starttls", "--sender", "ctg@ville.example", "--language", "en")  # fmt: skip


def test_starttls_refuses_a_certificate_it_cannot_verify(
    state: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctg = contacts(state)
    tls = self_signed(tmp_path, "smtp")
    monkeypatch.setenv("CTG_SMTP_USERNAME", "ctg")
    monkeypatch.setenv("CTG_SMTP_PASSWORD", "synthetic-password")
    with starttls_server(tls) as (port, received):
        _use_starttls(ctg, port)
        ctg.file_request()
        assert received.take() == []
    pending = ctg.json("notify", "status")["pending"]
    assert sorted(m["to"] for m in pending) == list(CAF_CONTROLLERS)
    assert all(m["last_error"].startswith("TLS CERTIFICATE_VERIFY_FAILED") for m in pending)
    with starttls_server(tls) as (port, received):
        _use_starttls(ctg, port)
        monkeypatch.setenv("SSL_CERT_FILE", str(tls[0]))  # the CA trusted on this machine
        monkeypatch.delenv("CTG_SMTP_USERNAME")
        monkeypatch.delenv("CTG_SMTP_PASSWORD")
        ctg.ok("notify", "flush")
        assert len(received.take()) == len(CAF_CONTROLLERS)


def test_starttls_never_falls_back_to_clear_text(state: State) -> None:
    ctg = contacts(state)
    with starttls_server(None) as (port, received):  # no STARTTLS offered
        _use_starttls(ctg, port)
        ctg.file_request()
        assert received.take() == []
    pending = ctg.json("notify", "status")["pending"]
    assert len(pending) == len(CAF_CONTROLLERS)
    assert {m["last_error"] for m in pending} == {"SMTPNotSupportedError"}
