"""The use mapping that every export of consent shares: each Consentry use's counterparts in the
public vocabularies (:data:`USE_MAPPING`: CAWG and C2PA 1.x training-and-mining, RSL 1.0, W3C
TDMRep, IETF AIPREF, ODRL 2.2), the four training-and-mining :data:`CATEGORIES`, and which rule
versions an export counts (:func:`rules_in_force`). ``docs/vocabulary.md`` says why each use
maps as it does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from governance.terms import EFFECTS, USES, RuleContent

USE_NS: Final = "https://consentry.dev/odrl/use#"
CATEGORIES: Final = ("ai_generative_training", "ai_inference", "ai_training", "data_mining")
"""The four pre-defined training-and-mining entries, without their ``cawg.``/``c2pa.`` prefix."""


@dataclass(frozen=True, slots=True)
class UseMapping:
    """One Consentry use in the public vocabularies.

    ``training_mining`` lists the training-and-mining categories the use *is*: refusing it
    refuses the category. ``narrows`` lists categories the use only narrows: refusing it leaves
    the category ``constrained`` ("training allowed, but no voice cloning"). An empty tuple
    means the vocabulary has no term for the use.
    """

    use: str
    label: str
    """How a ``constraint_info`` sentence names the use."""
    odrl_action: str
    """An ODRL 2.2 common-vocabulary action, refined by :attr:`odrl_purpose`."""
    training_mining: tuple[str, ...] = ()
    narrows: tuple[str, ...] = ()
    rsl: tuple[str, ...] = ()
    tdmrep: tuple[str, ...] = ()
    aipref: tuple[str, ...] = ()

    @property
    def odrl_purpose(self) -> str:
        return USE_NS + self.use

    @property
    def cawg(self) -> tuple[str, ...]:
        return tuple(f"cawg.{c}" for c in self.training_mining)

    @property
    def c2pa(self) -> tuple[str, ...]:
        return tuple(f"c2pa.{c}" for c in self.training_mining)


_GENERATIVE: Final = ("ai_generative_training", "ai_inference")

USE_MAPPING: Final[Mapping[str, UseMapping]] = MappingProxyType({
    m.use: m
    for m in (
        UseMapping("train", "training", "reproduce",
                   training_mining=("ai_generative_training", "ai_training"),
                   rsl=("ai-train",), tdmrep=("tdm:mine",), aipref=("train-ai",)),
        UseMapping("reference", "reference use", "use", training_mining=("ai_inference",),
                   rsl=("ai-input", "ai-index"), aipref=("ai-use",)),
        UseMapping("output", "resembling outputs", "distribute", narrows=_GENERATIVE),
        UseMapping("voice", "voice cloning", "derive", narrows=_GENERATIVE),
        UseMapping("style", "style imitation", "derive", narrows=_GENERATIVE),
        UseMapping("lyrics", "lyrics use", "use", narrows=(*_GENERATIVE, "ai_training"),
                   rsl=("ai-train", "ai-input"), tdmrep=("tdm:mine",),
                   aipref=("train-ai", "ai-use")),
        UseMapping("stems", "stem separation", "derive", narrows=("ai_inference",),
                   rsl=("ai-input",)),
        UseMapping("analyze", "analysis", "use", training_mining=("data_mining",),
                   rsl=("ai-index",), tdmrep=("tdm:mine",)),
    )
})  # fmt: skip
"""Each Consentry use (``terms.USES``, same order) and its counterparts; docs/vocabulary.md
says why."""


def rules_in_force(rules: Iterable[RuleContent], *, at: dt.datetime) -> list[RuleContent]:
    """The versions whose window holds ``at`` (end exclusive), ordered by rule id and version.

    Raises ``ValueError`` for a naive ``at`` or a rule using words outside ``terms``.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    kept = []
    for rule in rules:
        if rule.effect not in EFFECTS or not rule.uses <= set(USES):
            raise ValueError(f"rule {rule.rule_id} v{rule.version}: unknown effect or use")
        if (rule.window_start is None or rule.window_start <= at) and (
            rule.window_end is None or at < rule.window_end
        ):
            kept.append(rule)
    return sorted(kept, key=lambda r: (r.rule_id, r.version))
