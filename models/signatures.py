"""What an embedded digital signature proves, as facts; the verdict is derived, never stored."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Literal

from kiemchung.models.document import BBox, nfc


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
    # Sound, but the operator's policy refuses an algorithm it uses (SHA-1): as EU DSS does
    # with its cryptographic constraints, "cannot conclude", not "failed".
    INDETERMINATE = "indeterminate"


class SignatureRole(StrEnum):
    """Who a signature speaks for on the document (Decree 30/2020 e-documents)."""

    SIGNER = "signer"        # the competent person who signs the document
    AGENCY = "agency"        # the issuing agency's seal, once per page group or appendix
    INITIALS = "initials"    # "ký nháy": the drafter's or checker's initials, not the signer
    COPY = "copy"            # an e-copy (SAO Y …) or a publication (gazette, portal) signature
    OTHER = "other"          # a document timestamp, or a signature we cannot place


class SigningTimeSource(StrEnum):
    TIMESTAMP = "timestamp"                  # a trusted RFC 3161 token
    SIGNED_ATTRIBUTE = "signed_attribute"    # the signer's own claim, in the CMS signingTime
    M = "M"                                  # the signer's own claim, in the PDF /M entry


# UID attribute prefixes of people's and of agencies' certificates (Government CA practice).
PERSON_UIDS = frozenset({"CMND", "CCCD", "HC", "PASSPORT"})
AGENCY_UIDS = frozenset({"MST", "MNS"})
# An agency certificate without UIDs names a body in its CN.
AGENCY_WORDS = re.compile(r"^(?:ủy ban|hội đồng|sở|ban|văn phòng|trung tâm|phòng|chi cục|cục|"
                          r"tổng cục|thanh tra|trường|bộ|công an|đài|bệnh viện|cổng)\b")


# Bodies that sign what they publish, not what they issue: the provincial gazette centres
# ("Trung tâm Công báo và Tin học") and the Government portal.
PUBLISHERS = re.compile(r"công báo|cổng thông tin điện tử")


def _folded(text: str) -> str:
    return nfc(text).lower().replace("uỷ", "ủy")


# Modification levels after signing that cannot change what the document says: more
# signatures or form filling, and validation data (DSS, document timestamps).
HARMLESS_MODIFICATIONS = frozenset({"NONE", "LTA_UPDATES", "FORM_FILLING"})


@dataclass(frozen=True)
class SignaturePolicy:
    """What the operator accepts; the defaults are the safe choice."""

    # SHA-1 is collision-prone, but the provincial e-office and gazette tools still sign with
    # it in 2025: by default an intact, trusted SHA-1 signature keeps its status and carries a
    # warning; `allow_sha1=False` makes it `indeterminate`.
    allow_sha1: bool = True
    require_non_repudiation: bool = False     # demand nonRepudiation key usage
    accept_unchecked_revocation: bool = True  # only recorded: the rule set decides

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChangedWord:
    page: int                                 # 1-based
    text: str
    bbox: BBox                                # in the revision the word comes from
    kind: Literal["added", "removed"]

    def to_json(self) -> dict:
        return {"page": self.page, "text": self.text, "bbox": self.bbox.as_list(),
                "kind": self.kind}


@dataclass(frozen=True)
class SignatureChanges:
    """What the updates appended after a signature did to the signed revision."""

    later_revisions: tuple[str, ...]          # one line per later revision, harmless or not
    changed_fields: tuple[str, ...] = ()      # non-signature form fields whose value changed
    changed_words: tuple[ChangedWord, ...] = ()
    changed_pages: tuple[int, ...] = ()       # pages whose rendering differs (1-based)
    summary: str = ""                         # the first change, in one line

    @property
    def changes_content(self) -> bool:
        """Whether what a reader sees or the form says is different from what was signed."""
        return bool(self.changed_fields or self.changed_words or self.changed_pages)

    def to_json(self) -> dict:
        return {"later_revisions": list(self.later_revisions),
                "changed_fields": list(self.changed_fields),
                "changed_words": [w.to_json() for w in self.changed_words],
                "changed_pages": list(self.changed_pages),
                "summary": self.summary}


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
    changes: SignatureChanges | None = None   # only when later revisions exist
    digest_algorithm: str | None = None       # e.g. "sha256"
    digest_rejected: bool = False             # the policy refuses the digest (SHA-1)
    key_usage_rejected: bool = False          # the policy refuses the key usage
    policy: SignaturePolicy = field(default_factory=SignaturePolicy)
    claimed_signing_time: dt.datetime | None = None   # the CMS signingTime attribute
    timestamp_time: dt.datetime | None = None         # genTime of the timestamp token
    signing_time_note: str | None = None
    timestamp_untrusted: bool = False         # a token is there but does not chain to a root
    timestamp_issuer: str | None = None       # CN of the token's TSA certificate issuer
    rewritten: bool = False                   # the file was saved again: signed bytes are gone
    # New signature fields after a certification signature that permits only signing the
    # existing ones (DocMDP P=2), with nothing else changed: e-office tools do this.
    fields_added_after_certification: bool = False
    role: SignatureRole = SignatureRole.OTHER
    role_basis: str = ""                      # what the role was read from, one short phrase
    page: int | None = None                   # 1-based page of the visible widget
    box: BBox | None = None                   # the widget's rectangle on that page
    appearance_text: str = ""                 # the words drawn in the widget

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
        if not self.trusted or self.key_usage_rejected:
            return SignatureStatus.UNTRUSTED
        if self.digest_rejected:
            # Only a signature sound in every other respect: a weaker fault is never hidden.
            return SignatureStatus.INDETERMINATE
        return SignatureStatus.VALID

    @property
    def is_agency_certificate(self) -> bool:
        """An agency's (seal) certificate rather than a person's: by its UIDs (MST/MNS for
        agencies, CCCD/CMND for people), else by whether its CN names a body."""
        kinds = {uid.split(":", 1)[0].strip().upper() for uid in self.uids if ":" in uid}
        if kinds & PERSON_UIDS:
            return False
        if kinds & AGENCY_UIDS:
            return True
        return bool(AGENCY_WORDS.match(_folded(self.signer_name)))

    @property
    def is_publisher_certificate(self) -> bool:
        """A gazette centre's or portal's certificate: it signs copies it publishes."""
        return bool(PUBLISHERS.search(_folded(f"{self.signer_name} {self.signer_org or ''}")))

    @property
    def weak_digest(self) -> bool:
        return self.digest_algorithm in ("sha1", "md5", "md2")

    @property
    def warnings(self) -> tuple[str, ...]:
        """Facts a reader should know that do not change the status, one short line each."""
        found = []
        if self.weak_digest and not self.digest_rejected:
            # weak_digest: the algorithm is known
            digest = (self.digest_algorithm or "").upper()
            found.append(f"{digest.replace('SHA', 'SHA-')} digest "
                         "(collision-prone)")
        if self.timestamp_untrusted:
            found.append("timestamp token not trusted"
                         + (f" (TSA certified by {self.timestamp_issuer})"
                            if self.timestamp_issuer else ""))
        if self.signing_time_note:
            found.append(self.signing_time_note)
        if not self.revocation_checked and not (self.malformed or self.unsupported):
            found.append("revocation not checked")
        if self.fields_added_after_certification:
            found.append("signature fields added after the certification signature")
        if self.lenient_parse:
            found.append("PDF read with the lenient parser")
        return tuple(found)

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
            "changes": self.changes.to_json() if self.changes else None,
            "digest_algorithm": self.digest_algorithm,
            "policy": self.policy.to_json(),
            "claimed_signing_time": iso(self.claimed_signing_time),
            "timestamp_time": iso(self.timestamp_time),
            "signing_time_note": self.signing_time_note,
            "role": self.role.value,
            "role_basis": self.role_basis,
            "warnings": list(self.warnings),
            "page": self.page,
            "box": self.box.as_list() if self.box else None,
            "rewritten": self.rewritten,
        }
