"""``ctg-exchange serve``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import options


@click.command()
@click.option(
    "--listen",
    default="127.0.0.1:8443",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen (0.0.0.0:8443 for every interface).",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The server's certificate (PEM), to serve HTTPS directly.",
)
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Its private key (PEM).",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The URL clients use, when a reverse proxy stands in front (signatures cover it).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1024),
    default=1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="The largest body a call may carry (413 beyond).",
)
@click.option(
    "--max-package",
    type=click.IntRange(min=1024),
    default=8 << 30,
    show_default=True,
    metavar="BYTES",
    help="The largest package a member may upload (413 beyond).",
)
@click.option(
    "--reminders-at",
    type=click.IntRange(0, 23),
    default=7,
    show_default=True,
    metavar="HOUR",
    help="The hour (Europe/Paris) from which each day's digests are e-mailed.",
)
def serve(
    listen: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    public_url: str | None,
    max_body: int,
    max_package: int,
    reminders_at: int,
) -> None:
    """Host this workspace for both parties over HTTP(S); every call is signed by a member.

    The server holds no member's key: members run the same commands from their own machines
    against a remote workspace (`ctg-exchange remote add`). Each request is logged as one JSON
    line on stderr, without personal data; GET /healthz says it runs. The server also sends the
    e-mails and webhooks of the steps taken (`ctg-exchange notify`), and each day's reminders.

    \b
    Example:
      ctg-exchange --workspace /srv/ctg serve --listen 0.0.0.0:8443 \\
          --tls-cert /etc/ctg/cert.pem --tls-key /etc/ctg/key.pem
    """
    from ..remote.served import Settings
    from ..remote.server import check_public_url, parse_listen, run

    parse_listen(listen)  # a bad address is refused before the workspace is opened
    settings = Settings(
        root=options().workspace_dir,
        public_url=check_public_url(public_url),
        max_body=max_body,
        max_package=max_package,
        reminders_at=reminders_at,
    )
    run(settings, listen, tls_cert, tls_key)
