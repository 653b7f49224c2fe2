"""Location evidence for EU B2C supplies of electronic services.

EU rules (Council Implementing Regulation 282/2011, Art. 24b and 24f) let a seller of
electronically supplied services to consumers rely on two non-contradictory pieces of evidence
of where the customer is: billing address, IP address geolocation, the bank or card country...
This module judges the pieces the caller recorded and never guesses: too few pieces, pieces that
disagree, or pieces that point elsewhere than the customer's declared country produce review
reasons instead of a country.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lms_billing.domain.tax import LocationEvidence


@dataclass(frozen=True, slots=True)
class EvidenceAssessment:
    """The outcome: ``country`` when the evidence supports one, else review ``reasons``."""

    country: str | None
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.country is not None and not self.reasons


def _describe(pieces: dict[str, str]) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(pieces.items()))


def assess_location(
    evidence: LocationEvidence | None,
    declared_country: str,
    *,
    required: int = 2,
    allow_majority: bool = False,
) -> EvidenceAssessment:
    """Judge ``evidence`` for a customer who declared ``declared_country``.

    :param required: how many agreeing pieces are needed (the EU rule: 2).
    :param allow_majority: when pieces disagree, accept a country that at least ``required``
        pieces agree on (off by default: a conflict goes to review).
    """
    pieces = evidence.pieces() if evidence is not None else {}
    if not pieces:
        return EvidenceAssessment(None, ("location_evidence_missing",))
    counts = Counter(pieces.values())
    if len(counts) > 1:
        country, votes = counts.most_common(1)[0]
        majority = votes >= required and list(counts.values()).count(votes) == 1
        if not (allow_majority and majority):
            return EvidenceAssessment(None, (f"location_evidence_conflict: {_describe(pieces)}",))
    else:
        country, votes = next(iter(counts.items()))
    if votes < required:
        return EvidenceAssessment(
            None,
            (f"location_evidence_insufficient: {votes} of {required} ({_describe(pieces)})",),
        )
    if country != declared_country:
        return EvidenceAssessment(
            None,
            (f"location_evidence_mismatch: evidence={country}, customer={declared_country}",),
        )
    return EvidenceAssessment(country)


__all__ = ["EvidenceAssessment", "assess_location"]
