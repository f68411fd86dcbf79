"""Re-exports of the policy contract (:mod:`armgym.contracts.policy`), its home since the
restructure; import from there in new code."""

from armgym.contracts.policy import (
    BatchPolicy,
    FeatureSpec,
    Observation,
    Policy,
    PolicyMetadata,
    SessionPolicy,
)

__all__ = ["BatchPolicy", "FeatureSpec", "Observation", "Policy", "PolicyMetadata", "SessionPolicy"]
