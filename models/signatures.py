"""What an embedded digital signature proves, as facts; the verdict is derived, never stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class SignatureStatus(StrEnum):
    """Contract values of `signatures[].status`."""

    VALID = "valid"
    INVALID = "invalid"            # not intact, or the cryptographic signature is wrong
    UNTRUSTED = "untrusted"        # no chain to a configured trust root
    MODIFIED = "modified"          # the document was changed after signing, not harmlessly
    EXPIRED = "expired"            # the certificate was not valid at the signing time
    REVOKED = "revoked"
    UNSUPPORTED = "unsupported"    # a signature kind we do not validate (e.g. other SubFilter)
    MALFORMED = "malformed"        # the signature could not be read or validated at all


class SigningTimeSource(StrEnum):
    TIMESTAMP = "timestamp"                  # a trusted RFC 3161 token
    SIGNED_ATTRIBUTE = "signed_attribute"    # the signer's own claim, in the CMS signingTime
    M = "M"                                  # the signer's own claim, in the PDF /M entry


# Modification levels after signing that cannot change what the document says: more
# signatures or form filling, and validation data (DSS, document timestamps).
HARMLESS_MODIFICATIONS = frozenset({"NONE", "LTA_UPDATES", "FORM_FILLING"})


@dataclass(frozen=True)
class SignatureReport:
    field_name: str
    signer_name: str                  # certificate CN, NFC
    signer_org: str | None            # O and OU joined with ", "
    uids: tuple[str, ...]             # UID attributes, e.g. "CCCD:079123456789", "MST:…"
    issuer: str                       # issuer CN (or the whole issuer DN without a CN)
    serial: str                       # certificate serial, lowercase hex
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    signing_time: dt.datetime | None
    signing_time_source: SigningTimeSource | None
    intact: bool                      # the signed bytes hash to the signed digest
    valid: bool                       # the CMS signature verifies with the certificate
    trusted: bool                     # a chain to a trust root, valid at the signing time
    revocation_checked: bool          # revocation data in the file was actually consulted
    revoked: bool
    coverage: str                     # "ENTIRE_FILE", "ENTIRE_REVISION", … or "UNKNOWN"
    modification_level: str | None    # "NONE", "FORM_FILLING", "ANNOTATIONS", "OTHER", …
    modified_after_signing: bool      # changed after signing in a way that is not harmless
    lenient_parse: bool               # the PDF only opened with the lenient parser
    docmdp_ok: bool | None
    is_timestamp: bool                # a document timestamp, not a person's or agency's
    reason: str                       # one human line, English
    expired: bool = False             # the certificate was outside its validity at signing
    unsupported: bool = False
    malformed: bool = False

    @property
    def status(self) -> SignatureStatus:
        if self.malformed:
            return SignatureStatus.MALFORMED
        if self.unsupported:
            return SignatureStatus.UNSUPPORTED
        if not (self.intact and self.valid):
            return SignatureStatus.INVALID
        if self.modified_after_signing:
            return SignatureStatus.MODIFIED
        if self.revoked:
            return SignatureStatus.REVOKED
        if self.expired:
            return SignatureStatus.EXPIRED
        if not self.trusted:
            return SignatureStatus.UNTRUSTED
        return SignatureStatus.VALID

    def to_json(self) -> dict:
        def iso(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "signer_name": self.signer_name,
            "signer_org": self.signer_org,
            "signing_time": iso(self.signing_time),
            "intact": self.intact,
            "trusted": self.trusted,
            "valid": self.valid,
            "modified_after_signing": self.modified_after_signing,
            "status": self.status.value,
            "field_name": self.field_name,
            "uids": list(self.uids),
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "signing_time_source": self.signing_time_source.value
            if self.signing_time_source else None,
            "revocation_checked": self.revocation_checked,
            "revoked": self.revoked,
            "expired": self.expired,
            "coverage": self.coverage,
            "modification_level": self.modification_level,
            "lenient_parse": self.lenient_parse,
            "docmdp_ok": self.docmdp_ok,
            "is_timestamp": self.is_timestamp,
            "reason": self.reason,
        }
