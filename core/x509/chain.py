"""Chains: putting certificates in leaf-to-root order, and deciding whether a device's
certificate chain would be accepted for TLS client authentication up to a trust anchor.

The validation is done here rather than by `cryptography.x509.verification` because a
technician needs to hear *which* certificate is wrong and *why* ("the intermediate 'X'
expired on ..."), and because the anchor is often an intermediate (the certificate proven to
IoT Central), not a self-signed root. Its rules follow RFC 5280 and what OpenSSL's
`verify -partial_chain -purpose sslclient` enforces (the tests cross-check the two).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from certbench.core.errors import InputError
from certbench.core.x509.inspect import (
    EXPIRY_WARNING_DAYS,
    display_name,
    extended_key_usage_names,
    is_ca,
    key_usage_names,
)
from certbench.core.x509.keys import PrivateKey, PublicKey, same_public_key
from certbench.core.x509.parse import to_der

# Longer paths than this are not a device PKI; the limit also bounds the search.
MAX_PATH_LENGTH = 8


class ChainError(InputError):
    """A set of certificates is not a chain, or the chain would not be accepted."""

    def __init__(self, message: str, hint: str | None = None, *, problems: Sequence[str] = ()) -> None:
        super().__init__(message, hint)
        self.problems = list(problems) or [message]


class KeyMismatchError(InputError):
    """A private key does not belong to the certificate it was paired with."""


def verify_signed_by(cert: x509.Certificate, issuer_cert: x509.Certificate) -> bool:
    """True when `issuer_cert`'s key made `cert`'s signature (names are not compared)."""
    try:
        public_key = issuer_cert.public_key()
        params = cert.signature_algorithm_parameters
        if isinstance(public_key, rsa.RSAPublicKey):
            # params is PKCS1v15() or PSS(...), as the certificate says.
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, params, cert.signature_hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if not isinstance(params, ec.ECDSA):
                return False
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, params)
        elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    except Exception:  # unsupported algorithm or key: cannot be shown to verify
        return False
    return True


def _issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    return child.issuer == parent.subject and verify_signed_by(child, parent)


def _dedupe(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    unique: dict[bytes, x509.Certificate] = {}
    for cert in certs:
        unique.setdefault(to_der(cert), cert)
    return list(unique.values())


def order_chain(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """Leaf first, each certificate followed by its issuer; duplicates dropped.

    Raises ChainError if the certificates are not one chain (a stray certificate, two leaves,
    a fork)."""
    unique = _dedupe(certs)
    if not unique:
        raise ChainError("No certificates were given.", "Give the device certificate and its chain.")
    parents = {i: [j for j, p in enumerate(unique) if j != i and _issued(c, p)] for i, c in enumerate(unique)}
    has_child = {j for js in parents.values() for j in js}
    bottoms = [i for i in range(len(unique)) if i not in has_child]
    if not bottoms:
        raise ChainError(
            "The certificates issue one another in a loop (cross-signed CAs), so there is no leaf.",
            "Give the device certificate together with its chain.",
        )

    def walk(start: int) -> list[int]:
        path = [start]
        while True:
            nexts = [j for j in parents[path[-1]] if j not in path]
            if not nexts:
                return path
            if len(nexts) > 1:
                names = " and ".join(f"'{display_name(unique[j])}'" for j in nexts)
                raise ChainError(
                    f"'{display_name(unique[path[-1]])}' has two possible issuers in the input ({names}).",
                    "Remove the certificate that does not belong (e.g. an old or cross-signed copy).",
                )
            path.append(nexts[0])

    walks = [walk(i) for i in bottoms]
    # The chain is the longest walk; prefer a non-CA leaf when lengths tie.
    best = max(walks, key=lambda w: (len(w), not is_ca(unique[w[0]])))
    strays = [i for i in range(len(unique)) if i not in best]
    if strays:
        leaf = display_name(unique[best[0]])
        problems = [
            f"The certificate '{display_name(unique[i])}' does not belong to the chain of '{leaf}'"
            + (" (it is another certificate from the same issuer; a chain has one leaf)."
               if parents[i] and parents[i][0] in best else
               " (it neither issued a certificate in it nor was issued by one).")
            for i in strays
        ]
        raise ChainError(" ".join(problems), "Remove the certificates that are not part of this chain.",
                         problems=problems)
    return [unique[i] for i in best]


@dataclass
class ChainReport:
    """A chain that passed: `path` runs from the leaf to the anchor it reached."""

    path: list[x509.Certificate]
    at: datetime
    warnings: list[str] = field(default_factory=list)

    @property
    def leaf(self) -> x509.Certificate:
        return self.path[0]

    @property
    def anchor(self) -> x509.Certificate:
        return self.path[-1]

    @property
    def intermediates(self) -> list[x509.Certificate]:
        return self.path[1:-1]

    @property
    def partial(self) -> bool:
        """True when the anchor is not a self-signed root (an intermediate was trusted)."""
        return self.anchor.subject != self.anchor.issuer or not verify_signed_by(self.anchor, self.anchor)

    def __bool__(self) -> bool:
        return True


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(timezone.utc)
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _role(index: int, cert: x509.Certificate) -> str:
    if index == 0:
        return "leaf"
    return "root" if cert.subject == cert.issuer else "intermediate"


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def validate_client_chain(
    leaf: x509.Certificate,
    intermediates: Iterable[x509.Certificate],
    anchors: Iterable[x509.Certificate],
    *,
    at: datetime | None = None,
) -> ChainReport:
    """Check that `leaf` (with `intermediates`) chains to one of `anchors` and is fit for TLS
    client authentication at time `at` (default now). Raises ChainError naming the
    certificate at fault; returns a ChainReport otherwise."""
    now = _utc(at)
    anchor_list = _dedupe(anchors)
    if not anchor_list:
        raise ChainError("No trust anchor was given to validate the chain against.",
                         "Give the intermediate or root CA certificate that the chain must lead to.")
    anchor_ders = {to_der(a) for a in anchor_list}
    leaf_der = to_der(leaf)
    pool = [c for c in _dedupe(intermediates) if to_der(c) not in anchor_ders and to_der(c) != leaf_der]

    first_problems: list[str] | None = None
    for path in _find_paths(leaf, pool, anchor_list, anchor_ders):
        problems = _check_path(path, now)
        if not problems:
            return ChainReport(path=path, at=now, warnings=_path_warnings(path, now))
        # Another path (e.g. through a renewed copy of an expired CA) may still pass; if none
        # does, the first one found is the one explained.
        first_problems = first_problems or problems
    if first_problems is None:
        raise _no_path_error(leaf, pool, anchor_list)
    problems = first_problems
    message = problems[0] if len(problems) == 1 else (
        f"The chain of '{display_name(leaf)}' has {len(problems)} problems: "
        + " ".join(f"({n}) {p}" for n, p in enumerate(problems, start=1))
    )
    raise ChainError(message, _hint_for(problems), problems=problems)


# Enough alternatives for renewed or cross-signed CAs; bounds the work on hostile input.
MAX_PATHS = 16


def _find_paths(
    leaf: x509.Certificate,
    pool: list[x509.Certificate],
    anchors: list[x509.Certificate],
    anchor_ders: set[bytes],
) -> Iterator[list[x509.Certificate]]:
    """Candidate paths leaf..anchor, linked by name and signature, shortest-first per step."""
    if to_der(leaf) in anchor_ders:
        yield [leaf]
        return
    found = 0

    def extend(path: list[x509.Certificate]) -> Iterator[list[x509.Certificate]]:
        nonlocal found
        current = path[-1]
        for anchor in anchors:  # an anchor ends a path, so anchors are tried first
            if found < MAX_PATHS and _issued(current, anchor):
                found += 1
                yield [*path, anchor]
        if len(path) >= MAX_PATH_LENGTH:
            return
        for candidate in pool:
            if found >= MAX_PATHS:
                return
            if any(candidate is c for c in path) or candidate.subject == candidate.issuer:
                continue  # a self-issued certificate outside the anchors cannot lead to one
            if _issued(current, candidate):
                yield from extend([*path, candidate])

    yield from extend([leaf])


def _no_path_error(
    leaf: x509.Certificate, pool: list[x509.Certificate], anchors: list[x509.Certificate]
) -> ChainError:
    """Explain the first break in the chain as precisely as the input allows."""
    # Follow the chain as far as it goes, then describe the break at its top.
    path = [leaf]
    while len(path) < MAX_PATH_LENGTH:
        nxt = next((c for c in pool if all(c is not p for p in path) and _issued(path[-1], c)), None)
        if nxt is None:
            break
        path.append(nxt)
    top = path[-1]
    role = "leaf" if top is leaf else "intermediate"
    top_name = display_name(top)
    wanted = _issuer_name(top)
    offered = anchors + [c for c in pool if all(c is not p for p in path)]
    same_name = [c for c in offered if c.subject == top.issuer]
    hint = ("Choose the intermediate that issued this certificate, or give the missing "
            "certificates of the chain.")
    if same_name:
        other = same_name[0]
        return ChainError(
            f"The {role} '{top_name}' is not signed by {_label(other, anchors)} '{display_name(other)}': "
            "the names match but the signature does not verify with that certificate's key "
            "(a different or renewed CA with the same name, or a damaged certificate).",
            "Get the current certificate of that CA, or re-issue the certificate from it.",
        )
    signed_by_other_name = [c for c in offered if verify_signed_by(top, c)]
    if signed_by_other_name:
        other = signed_by_other_name[0]
        return ChainError(
            f"The {role} '{top_name}' names '{wanted}' as its issuer, but it was signed by "
            f"'{display_name(other)}' whose name differs: the names do not chain.",
            "Re-issue the certificate with the issuer name of the CA that signs it.",
        )
    anchor_names = ", ".join(f"'{display_name(a)}'" for a in anchors)
    if top is leaf and leaf.subject == leaf.issuer and verify_signed_by(leaf, leaf):
        return ChainError(
            f"The leaf '{top_name}' is self-signed: no CA issued it, so it cannot chain to {anchor_names}.",
            "Use a device certificate issued by the intermediate CA.",
        )
    if top is leaf and len(anchors) == 1 and not pool and anchors[0].subject != anchors[0].issuer:
        return ChainError(
            f"The leaf '{top_name}' is not signed by {_label(anchors[0], anchors)} "
            f"'{display_name(anchors[0])}': it was issued by '{wanted}'.",
            hint,
        )
    if top is leaf and pool:
        names = ", ".join(f"'{display_name(c)}'" for c in pool)
        return ChainError(
            f"The leaf '{top_name}' is not signed by intermediate {names}: it was issued by '{wanted}'.",
            hint,
        )
    return ChainError(
        f"The chain of '{display_name(leaf)}' does not reach the trust anchor {anchor_names}: "
        f"it stops at the {role} '{top_name}', issued by '{wanted}', which was not given.",
        "Add the missing intermediate certificate, or choose the trust anchor that issued this chain.",
    )


def _label(cert: x509.Certificate, anchors: list[x509.Certificate]) -> str:
    return "root" if cert.subject == cert.issuer else "intermediate"


def _issuer_name(cert: x509.Certificate) -> str:
    from certbench.core.x509.inspect import common_name

    return common_name(cert.issuer) or cert.issuer.rfc4514_string()


def _check_path(path: list[x509.Certificate], now: datetime) -> list[str]:
    problems: list[str] = []
    for index, cert in enumerate(path):
        role = _role(index, cert)
        name = display_name(cert)
        if now > cert.not_valid_after_utc:
            problems.append(f"The {role} '{name}' expired on {_date(cert.not_valid_after_utc)}.")
        elif now < cert.not_valid_before_utc:
            problems.append(f"The {role} '{name}' is not valid yet: it becomes valid on "
                            f"{_date(cert.not_valid_before_utc)}.")
        ekus = extended_key_usage_names(cert)
        if ekus is not None and not {"clientAuth", "anyExtendedKeyUsage"} & set(ekus):
            if index == 0:
                problems.append(f"The leaf '{name}' is not allowed for client authentication: its "
                                f"extended key usage is {', '.join(ekus)} without clientAuth.")
            else:
                problems.append(f"The {role} '{name}' limits its extended key usage to "
                                f"{', '.join(ekus)}, which excludes client authentication.")
        usages = key_usage_names(cert)
        if index == 0:
            if usages is not None and "digitalSignature" not in usages:
                problems.append(f"The leaf '{name}' may not sign (its keyUsage lacks digitalSignature), "
                                "so it cannot authenticate a TLS client.")
            continue
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            why = "it has no basicConstraints" if constraints is None else "basicConstraints CA:FALSE"
            problems.append(f"The {role} '{name}' is not a CA certificate ({why}), so it cannot "
                            f"issue '{display_name(path[index - 1])}'.")
        elif constraints.path_length is not None:
            below = sum(1 for c in path[1:index] if c.subject != c.issuer)
            if below > constraints.path_length:
                problems.append(
                    f"The {role} '{name}' allows at most {constraints.path_length} intermediate CA(s) "
                    f"below it (pathLen {constraints.path_length}), but the chain has {below}."
                )
        if usages is not None and "keyCertSign" not in usages:
            problems.append(f"The {role} '{name}' may not sign certificates (its keyUsage lacks keyCertSign).")
    return problems


def _hint_for(problems: list[str]) -> str:
    text = " ".join(problems)
    if "expired" in text or "not valid yet" in text:
        return ("Check the bench computer's clock; renew or replace the certificate outside its "
                "validity period.")
    if "not a CA" in text or "keyCertSign" in text or "pathLen" in text:
        return "Use the intermediate CA certificate that issued the device certificates, not another certificate."
    return "Re-issue the certificate from the correct intermediate with the client-authentication profile."


def _path_warnings(path: list[x509.Certificate], now: datetime) -> list[str]:
    warnings = []
    for index, cert in enumerate(path[1:], start=1):
        days = (cert.not_valid_after_utc - now).days
        if days < EXPIRY_WARNING_DAYS:
            warnings.append(f"'{display_name(cert)}' expires in {days} days "
                            f"({_date(cert.not_valid_after_utc)}).")
    return warnings


def check_key_matches_certificate(key: PrivateKey | PublicKey, cert: x509.Certificate) -> None:
    """Raise KeyMismatchError (an InputError) unless `key` is the key pair of `cert`."""
    try:
        cert_key = cert.public_key()
        matches = same_public_key(key, cert_key)
    except Exception:
        matches = False
    if not matches:
        raise KeyMismatchError(
            f"The private key does not belong to the certificate '{display_name(cert)}' "
            "(their public keys differ).",
            "Pair the certificate with the key it was issued for; if that key is lost, issue a new certificate.",
        )
