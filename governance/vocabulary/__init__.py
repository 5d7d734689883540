"""Consent exported into public vocabularies: an ODRL 2.2 policy, and the CAWG
``cawg.training-mining`` assertion (with C2PA 1.x's older ``c2pa.training-mining`` form), plus
the use mapping to RSL 1.0, W3C TDMRep and IETF AIPREF. ``docs/vocabulary.md`` gives the
sources, the reasons for each mapping and what every export loses.

Pure: no Django. Functions take rule versions (:class:`~governance.terms.RuleContent`) and the
moment ``at`` to read them at; a version counts only if ``window_start <= at < window_end``.

The public names are importable from here (docs/vocabulary.md lists them); each lives in:

- :mod:`~governance.vocabulary.mapping`: each use's counterparts in every vocabulary
  (:data:`USE_MAPPING`), the training-and-mining categories, and which versions count
  (:func:`rules_in_force`);
- :mod:`~governance.vocabulary.odrl`: the ODRL 2.2 policy (:func:`odrl_policy`);
- :mod:`~governance.vocabulary.training_mining`: the CAWG and C2PA 1.x assertions
  (:func:`cawg_training_mining`, :func:`c2pa_training_mining`), and one assertion for several
  rights holders (:func:`combine_training_mining`).
"""

from governance.vocabulary.mapping import (
    CATEGORIES,
    USE_MAPPING,
    USE_NS,
    UseMapping,
    rules_in_force,
)
from governance.vocabulary.odrl import ODRL_CONTEXT, PROFILE, PURPOSE_NS, TERMS_NS, odrl_policy
from governance.vocabulary.training_mining import (
    ALLOWED,
    C2PA_LABEL,
    CAWG_LABEL,
    CONSTRAINED,
    NOT_ALLOWED,
    c2pa_training_mining,
    cawg_training_mining,
    combine_training_mining,
)

__all__ = [
    "ALLOWED",
    "C2PA_LABEL",
    "CATEGORIES",
    "CAWG_LABEL",
    "CONSTRAINED",
    "NOT_ALLOWED",
    "ODRL_CONTEXT",
    "PROFILE",
    "PURPOSE_NS",
    "TERMS_NS",
    "USE_MAPPING",
    "USE_NS",
    "UseMapping",
    "c2pa_training_mining",
    "cawg_training_mining",
    "combine_training_mining",
    "odrl_policy",
    "rules_in_force",
]
