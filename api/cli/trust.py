"""`kiemchung trust`: import trust roots and intermediates, pinned by their SHA-256 fingerprint.

Imported certificates are kept as PEM files in the data directory's `trust/` folder, which
every command trusts together with KIEMCHUNG_TRUST_ROOTS and --trust-root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from cryptography.hazmat.primitives.serialization import Encoding
from rich.table import Table

from kiemchung.api.cli import common
from kiemchung.api.cli.common import console, run
from kiemchung.extractors.signatures import fingerprint_sha256, read_certificates
from kiemchung.models.errors import KiemchungError
from kiemchung.verifier.settings import load_settings

trust_app = typer.Typer(help="Manage trusted root and intermediate certificates.",
                        no_args_is_help=True)


def _normalise(fingerprint: str) -> str:
    hex_digits = "".join(c for c in fingerprint.upper() if c in "0123456789ABCDEF")
    return ":".join(hex_digits[i:i + 2] for i in range(0, len(hex_digits), 2))


def import_certificate(path: Path, pin: str | None, trust_dir: Path) -> list[tuple[str, str]]:
    """Copy the certificates in `path` into `trust_dir`; with `pin`, only if one matches it."""
    if not path.is_file():
        raise KiemchungError(f"{path}: no such file")
    certificates = read_certificates(path)
    found = [(fingerprint_sha256(c), c) for c in certificates]
    if pin is not None:
        wanted = _normalise(pin)
        found = [(fp, c) for fp, c in found if fp == wanted]
        if not found:
            raise KiemchungError(f"{path}: no certificate has the pinned fingerprint {wanted}; "
                                 "compare with the value the CA publishes before trusting it")
    trust_dir.mkdir(parents=True, exist_ok=True)
    imported = []
    for fingerprint, certificate in found:
        target = trust_dir / (fingerprint.replace(":", "").lower()[:16] + ".pem")
        target.write_bytes(certificate.public_bytes(Encoding.PEM))
        imported.append((fingerprint, certificate.subject.rfc4514_string()))
    return imported


@trust_app.command("add")
def add(file: Annotated[Path, typer.Argument(help="certificate file: PEM, DER or PKCS#7 (.p7b)")],
        pin: Annotated[Optional[str], typer.Option(
            help="expected SHA-256 fingerprint (hex, colons optional); refuse on mismatch")] = None,
        ) -> None:
    """Import a root or intermediate certificate and show its SHA-256 fingerprint."""
    settings = load_settings()
    for fingerprint, subject in run(lambda: import_certificate(file, pin, settings.trust_dir)):
        console.print(f"trusted [bold]{subject}[/bold]\n  SHA-256 {fingerprint}")


@trust_app.command("list")
def list_() -> None:
    """Show every trusted certificate with its fingerprint and validity."""
    store = common.trust(None)
    table = Table(title="trusted certificates", title_justify="left")
    for column in ("kind", "subject", "valid until", "SHA-256"):
        table.add_column(column, overflow="fold")
    for kind, certificates in (("root", store.roots), ("intermediate", store.intermediates)):
        for c in certificates:
            table.add_row(kind, c.subject.rfc4514_string(),
                          c.not_valid_after_utc.date().isoformat(), fingerprint_sha256(c))
    console.print(table)
