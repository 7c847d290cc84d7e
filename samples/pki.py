"""A small demo PKI shaped like Vietnam's Government CA, for signing generated documents.

Root "kiemchung Demo Root CA" → intermediate "kiemchung Demo CA phục vụ các cơ quan Nhà nước"
→ person certificates (CN = full name, O/OU = unit hierarchy, UID = CCCD:…) and agency (seal)
certificates (CN = agency, O = parent, L, C=VN, UID = MST:…/MNS:…); also a time-stamping
authority for signature and document timestamps, and CRLs signed by the intermediate.

Keys are EC P-256 derived from the seed and a label, so the same seed gives the same keys and
serial numbers; certificate bytes still differ between runs because ECDSA signatures are
randomised. Nothing here is secret: these keys exist only to make test evidence.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiemchung.models.document import nfc

UTC = dt.timezone.utc
ROOT_NAME = "kiemchung Demo Root CA"
INTERMEDIATE_NAME = "kiemchung Demo CA phục vụ các cơ quan Nhà nước"
DEMO_ORG = "kiemchung Demo"

# Wide defaults so that "now" and typical signing dates (2023–2026) fall inside every window.
DEFAULT_CA_VALIDITY = (dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2045, 1, 1, tzinfo=UTC))
DEFAULT_VALIDITY = (dt.datetime(2023, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC))
# Real Government CA certificates name a CRL; validators only consult CRLs for certificates
# that declare one, so demo certificates do too (the .invalid host is never fetched).
DEFAULT_CRL_URL = "http://ca.kiemchung.invalid/crl/demo-ca.crl"

# The P-256 group order: private scalars must lie in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _digest(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"kiemchung-pki|{seed}|{label}".encode()).digest()


def derive_key(seed: str, label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key fixed by (seed, label): cheap, reproducible, no key files to keep."""
    scalar = int.from_bytes(_digest(seed, "key|" + label), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


@functools.lru_cache(maxsize=None)
def cached_rsa_key(seed: str, label: str) -> rsa.RSAPrivateKey:
    """RSA-2048, for the TSA only (pyHanko's in-process TSA signs with RSA). RSA keys cannot be
    derived from a seed, so each is generated once per process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def derive_serial(seed: str, label: str) -> int:
    # 63 bits, positive and non-zero as RFC 5280 asks.
    return int.from_bytes(_digest(seed, "serial|" + label)[:8], "big") >> 1 | 1


@dataclass(frozen=True)
class Identity:
    """A certificate, its private key, and the issuing chain (intermediate first, root last)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def common_name(self) -> str:
        value = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert isinstance(value, str)   # bytes are for X500UniqueIdentifier values only
        return value

    @property
    def serial(self) -> int:
        return self.cert.serial_number

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def subject_name(common_name: str, *, org: str | None = None, units: tuple[str, ...] = (),
                 locality: str | None = None, province: str | None = None,
                 uids: tuple[str, ...] = (), country: str = "VN",
                 bmp: bool = False) -> x509.Name:
    """A Vietnamese-style subject DN. `bmp=True` encodes the text as BMPString (older CAs do)."""
    string_type = _ASN1Type.BMPString if bmp else _ASN1Type.UTF8String

    def attr(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute:
        return x509.NameAttribute(oid, nfc(value), _type=string_type)

    attrs = [attr(NameOID.USER_ID, uid) for uid in uids]
    attrs.append(attr(NameOID.COMMON_NAME, common_name))
    attrs += [attr(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units]
    if org:
        attrs.append(attr(NameOID.ORGANIZATION_NAME, org))
    if locality:
        attrs.append(attr(NameOID.LOCALITY_NAME, locality))
    if province:
        attrs.append(attr(NameOID.STATE_OR_PROVINCE_NAME, province))
    if country:
        # countryName is PrintableString by definition (RFC 5280).
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    return x509.Name(attrs)


def _build_cert(*, subject: x509.Name, issuer: x509.Name,
                public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
                signing_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
                issuer_key_id: x509.SubjectKeyIdentifier,
                serial: int, validity: tuple[dt.datetime, dt.datetime], ca: bool,
                path_length: int | None = None, crl_url: str | None = None,
                time_stamping: bool = False) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(serial)
               .not_valid_before(validity[0]).not_valid_after(validity[1])
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
               .add_extension(ski, critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                   issuer_key_id), critical=False))
    if ca:
        usage = dict(digital_signature=False, content_commitment=False, key_cert_sign=True,
                     crl_sign=True)
    elif time_stamping:
        # RFC 3161 requires timeStamping as the only, critical, extended key usage.
        usage = dict(digital_signature=True, content_commitment=False, key_cert_sign=False,
                     crl_sign=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    else:
        # Signing keys of the Government CA carry digitalSignature + nonRepudiation.
        usage = dict(digital_signature=True, content_commitment=True, key_cert_sign=False,
                     crl_sign=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False)
    builder = builder.add_extension(x509.KeyUsage(
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False, **usage), critical=True)
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None,
            reasons=None, crl_issuer=None)]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@dataclass(frozen=True)
class DemoPKI:
    seed: str
    root: Identity
    intermediate: Identity

    @classmethod
    def create(cls, seed: str = "kiemchung", *,
               root_validity: tuple[dt.datetime, dt.datetime] = DEFAULT_CA_VALIDITY,
               intermediate_validity: tuple[dt.datetime, dt.datetime] = DEFAULT_CA_VALIDITY
               ) -> DemoPKI:
        root_key = derive_key(seed, "root")
        root_name = subject_name(ROOT_NAME, org=DEMO_ORG)
        root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
        root_cert = _build_cert(subject=root_name, issuer=root_name,
                                public_key=root_key.public_key(), signing_key=root_key,
                                issuer_key_id=root_ski, serial=derive_serial(seed, "root"),
                                validity=root_validity, ca=True)
        root = Identity(root_cert, root_key)

        ca_key = derive_key(seed, "intermediate")
        ca_cert = _build_cert(subject=subject_name(INTERMEDIATE_NAME, org=DEMO_ORG),
                              issuer=root_name, public_key=ca_key.public_key(),
                              signing_key=root_key, issuer_key_id=root_ski,
                              serial=derive_serial(seed, "intermediate"),
                              validity=intermediate_validity, ca=True, path_length=0)
        return cls(seed, root, Identity(ca_cert, ca_key, (root_cert,)))

    # -- issuing ---------------------------------------------------------------------------

    def issue(self, subject: x509.Name, *, label: str,
              validity: tuple[dt.datetime, dt.datetime] = DEFAULT_VALIDITY,
              self_signed: bool = False, crl_url: str | None = DEFAULT_CRL_URL,
              time_stamping: bool = False) -> Identity:
        """Any end-entity certificate; `label` fixes its key and serial within this seed."""
        key = cached_rsa_key(self.seed, label) if time_stamping \
            else derive_key(self.seed, "ee|" + label)
        serial = derive_serial(self.seed, "ee|" + label)
        if self_signed:
            cert = _build_cert(subject=subject, issuer=subject, public_key=key.public_key(),
                               signing_key=key,
                               issuer_key_id=x509.SubjectKeyIdentifier.from_public_key(
                                   key.public_key()),
                               serial=serial, validity=validity, ca=False, crl_url=crl_url,
                               time_stamping=time_stamping)
            return Identity(cert, key, ())
        ca = self.intermediate
        cert = _build_cert(subject=subject, issuer=ca.cert.subject, public_key=key.public_key(),
                           signing_key=ca.key,
                           issuer_key_id=x509.SubjectKeyIdentifier.from_public_key(
                               ca.key.public_key()),
                           serial=serial, validity=validity, ca=False, crl_url=crl_url,
                           time_stamping=time_stamping)
        return Identity(cert, key, (ca.cert, self.root.cert))

    def person(self, name: str, org: str, uid: str | tuple[str, ...] = (), *,
               units: tuple[str, ...] = (), locality: str | None = None,
               validity: tuple[dt.datetime, dt.datetime] = DEFAULT_VALIDITY,
               self_signed: bool = False, bmp: bool = False,
               crl_url: str | None = DEFAULT_CRL_URL) -> Identity:
        """A personal signing certificate: CN = the full name, O = the agency, OU = its units."""
        uids = (uid,) if isinstance(uid, str) else tuple(uid)
        subject = subject_name(name, org=org, units=units, locality=locality, uids=uids, bmp=bmp)
        label = f"person|{nfc(name)}|{nfc(org)}|{'|'.join(uids)}|{validity}|{self_signed}|{bmp}"
        return self.issue(subject, label=label, validity=validity, self_signed=self_signed,
                          crl_url=crl_url)

    def agency(self, name: str, parent_org: str, uid: str | tuple[str, ...] = (), *,
               locality: str | None = None,
               validity: tuple[dt.datetime, dt.datetime] = DEFAULT_VALIDITY,
               self_signed: bool = False, bmp: bool = False,
               crl_url: str | None = DEFAULT_CRL_URL) -> Identity:
        """An agency (seal) certificate: CN = the agency, O = its superior body."""
        uids = (uid,) if isinstance(uid, str) else tuple(uid)
        subject = subject_name(name, org=parent_org, locality=locality, uids=uids, bmp=bmp)
        label = f"agency|{nfc(name)}|{nfc(parent_org)}|{'|'.join(uids)}|{validity}|{self_signed}"
        return self.issue(subject, label=label + f"|{bmp}", validity=validity,
                          self_signed=self_signed, crl_url=crl_url)

    def tsa(self, name: str = "kiemchung Demo TSA", *,
            validity: tuple[dt.datetime, dt.datetime] = DEFAULT_CA_VALIDITY) -> Identity:
        """A time-stamping authority certificate, for signature and document timestamps."""
        return self.issue(subject_name(name, org=DEMO_ORG), label=f"tsa|{nfc(name)}",
                          validity=validity, crl_url=None, time_stamping=True)

    # -- revocation ------------------------------------------------------------------------

    def make_crl(self, revoked_serials: list[int] | tuple[int, ...] = (), *,
                 revocation_date: dt.datetime | None = None,
                 this_update: dt.datetime | None = None,
                 next_update: dt.datetime | None = None) -> x509.CertificateRevocationList:
        """A CRL signed by the intermediate listing `revoked_serials`."""
        now = dt.datetime.now(UTC)
        this_update = this_update or now - dt.timedelta(hours=1)
        next_update = next_update or this_update + dt.timedelta(days=30)
        revoked_at = revocation_date or this_update
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.intermediate.cert.subject)
                   .last_update(this_update).next_update(next_update)
                   .add_extension(x509.CRLNumber(1), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.intermediate.key.public_key()), critical=False))
        for serial in revoked_serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(revoked_at).build())
        return builder.sign(self.intermediate.key, hashes.SHA256())

    # -- publishing ------------------------------------------------------------------------

    def root_pem(self) -> bytes:
        return self.root.cert_pem()

    def intermediate_pem(self) -> bytes:
        return self.intermediate.cert_pem()

    def write_trust_dir(self, path: Path | str) -> Path:
        """Write root.pem and intermediate.pem, the files an operator would configure."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "root.pem").write_bytes(self.root_pem())
        (path / "intermediate.pem").write_bytes(self.intermediate_pem())
        return path
