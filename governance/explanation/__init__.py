"""Plain-language rendering of a decision trace (:mod:`governance.evaluation`), for people.

Pure: no Django. The trace is the explanation; this module only words it, in English or
French, one entry per work::

    [{"work": "<id>", "title": "Northern Lights", "outcome": "conditional", "sentences": [
        "“Northern Lights” matched your item in the voice space with similarity 0.93 "
        "(threshold 0.85).",
        "Training needs the consent of the holders of the master, publishing and performer "
        "rights.",
        "Northwind Records (master, 100%) allowed it under rule 3f2c1a9b… version 2.",
        "You may proceed if you: credit “Ada Vale”; label outputs as AI-generated."]}]

A holder's share is said only where the trace holds it: a licensee's trace does not
(:mod:`governance.disclosure`), and then the holder is named with its right alone.

An item that matched nothing gives one entry with ``work`` and ``title`` null. Sentences say
in which territories an answer holds only when the answers differ between territories, and
for which part of the period asked about only when the answers differ between its parts (a
part nothing covers is named: ``consent.period_not_covered``). French follows French
typography: « guillemets », a no-break space before ``:``, ``;`` and ``%``, decimal commas.

This package puts the sentences in order (:func:`explain`, and :func:`summary`'s one
sentence); the words are elsewhere:

- :mod:`~governance.explanation.phrases`: the English and French catalogues, and how each
  language writes numbers, shares, lists and quotations;
- :mod:`~governance.explanation.sentences`: the sentence of each part of a trace (a match, the
  rights a use needs, a holder's answer, where and when it holds, the conclusion, no match);
- :mod:`~governance.explanation.settlement`: a settled review's outcome and its answers' words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from governance.explanation.phrases import SUPPORTED_LANGUAGES, Phrases
from governance.explanation.sentences import (
    artist_sentences,
    conclusion_sentence,
    holder_name,
    holder_sentence,
    identification_sentences,
    needs_sentence,
    span,
    unmatched_sentence,
    when_clause,
    where_clause,
)
from governance.explanation.settlement import review_answers, settled_outcome, settled_sentence

__all__ = ["SUPPORTED_LANGUAGES", "explain", "summary"]

_NO_NAMES: Final[Mapping[str, str]] = MappingProxyType({})


def explain(
    trace: Mapping[str, Any],
    *,
    language: str = "en",
    party_names: Mapping[str, str] = _NO_NAMES,
    settlement: Mapping[str, Any] | None = None,
    notes: Mapping[tuple[str, int], str] = MappingProxyType({}),
) -> list[dict[str, Any]]:
    """Word an item's ``trace`` (or one work's) as sentences per work, in ``language``.

    Parties are named as the trace names them, else by ``party_names``, else by their id.
    ``settlement`` (a settled review, as ``governance.services.reviews.settlement_json``
    renders it) says who answered the review and why, and the works that waited take the
    settled outcome. ``notes`` are the deciding rule versions' notes for licensees, by
    ``(rule id, version)``: the caller passes only those its reader may see.
    Raises :class:`ValueError` for a language other than :data:`SUPPORTED_LANGUAGES`.
    """
    p = Phrases(language)
    works = trace.get("works", [trace])
    artists = trace.get("artists", [])
    if not works and not artists:
        outcome = str(trace.get("outcome") or "no_match")
        return [
            {
                "work": None,
                "title": None,
                "outcome": outcome,
                "sentences": [unmatched_sentence(p, trace)],
            }
        ]
    answers = review_answers(settlement)
    explained = []
    for work in [*works, *artists]:
        artist = "artist" in work
        if artist:
            sentences = artist_sentences(p, work)
            if trace.get("use"):
                sentences.append(p("needs_artist", use=p.use(str(trace["use"]))))
        else:
            sentences = identification_sentences(p, work)
            if trace.get("use"):
                version = trace.get("matrix_version")
                sentences.append(
                    needs_sentence(p, str(trace["use"]), work.get("required_rights", []), version)
                )
        evaluated = work.get("territories", [])
        for entry in work.get("rights", []):
            where = where_clause(p, entry.get("territories", []), evaluated)
            if when := when_clause(p, entry, work):  # a period's part: "In FR, from ... to ..., "
                where = where + when if where else when[:1].upper() + when[1:]
            if not entry.get("holders"):
                sentence = where + p("rights.unknown", right=p.right_of(entry["right"]))
                sentences.append(sentence[:1].upper() + sentence[1:])
            for holder in entry.get("holders", []):
                party = str(holder.get("party"))
                settled = holder.get("answer") == "review" and party in answers
                sentences.append(
                    where
                    + holder_sentence(
                        p, entry["right"], holder, party_names, settled, own="artist" in work
                    )
                )
                if settled:
                    name = holder_name(holder, party_names)
                    sentences.append(settled_sentence(p, answers[party], name))
                rule = holder.get("rule")
                note = notes.get((str(rule["id"]), int(rule["version"]))) if rule else None
                if note:
                    name = holder_name(holder, party_names)
                    sentences.append(p("note", name=name, note=p.quote(note)))
        if work.get("code") == "consent.period_not_covered" and work.get("uncovered"):
            spans = p.join([span(p, u) for u in work["uncovered"]])
            sentences.append(p("consent.period_not_covered", parts=spans))
        outcome = settled_outcome(work, answers) if answers else str(work["outcome"])
        if artist and outcome == "deny":  # no work: the artist's likeness is refused
            sentences.append(p("deny.artist"))
        elif conclusion := conclusion_sentence(p, outcome, work.get("obligations", {})):
            sentences.append(conclusion)
        if artist:  # an artist's likeness: no work; the artist's name is the title
            explained.append(
                {"work": None, "title": work.get("name"), "artist": work["artist"],
                 "outcome": outcome, "sentences": sentences}
            )  # fmt: skip
            continue
        title = work.get("title")
        explained.append(
            {"work": work["work"], "title": title, "outcome": outcome, "sentences": sentences}
        )
    return explained


def summary(
    trace: Mapping[str, Any],
    *,
    language: str = "en",
    party_names: Mapping[str, str] = _NO_NAMES,
    settlement: Mapping[str, Any] | None = None,
) -> str:
    """One sentence that says why the item was answered as it was, in ``language``: who
    settled a review and why; else the deciding holder's answer for a deny or a review; else
    who allowed it (saying so when a holder's default, not a rule, did); else why nothing
    applied (``no_match`` is not a licence)."""
    p = Phrases(language)
    works = [*trace.get("works", [trace]), *trace.get("artists", [])]
    if not works:
        return unmatched_sentence(p, trace)
    answers = review_answers(settlement)
    if settlement and answers:
        deciding = [a for a in answers.values() if a["status"] == "denied"][:1]
        if str(settlement.get("outcome")) != "deny":
            deciding = [a for a in answers.values() if a["status"] == "approved"]
        names = dict(party_names) | {str(a["party"]): str(a.get("name") or "") for a in deciding}
        return " ".join(
            settled_sentence(p, a, names.get(str(a["party"])) or str(a["party"])) for a in deciding
        )
    outcome = str(trace.get("outcome") or works[0].get("outcome"))
    if outcome in ("deny", "review"):
        return _deciding_sentence(p, works, outcome, party_names)
    if str(trace.get("code")) == "consent.no_rights_required" or not any(
        w.get("rights") for w in works
    ):
        return needs_sentence(p, str(trace.get("use") or ""), [], trace.get("matrix_version"))
    holders = [h for w in works for entry in w.get("rights", []) for h in entry.get("holders", [])]
    by_default = sorted(
        {holder_name(h, party_names) for h in holders if h.get("code") == "consent.opt_out_default"}
    )
    if by_default and all(h.get("code") == "consent.opt_out_default" for h in holders):
        key = "summary.default_one" if len(by_default) == 1 else "summary.default_many"
        return p(key, names=p.join(by_default))
    if by_default:
        return p("summary.some_default", names=p.join(by_default))
    return p("summary.conditional" if outcome == "conditional" else "summary.allowed")


def _deciding_sentence(
    p: Phrases, works: Sequence[Mapping[str, Any]], outcome: str, names: Mapping[str, str]
) -> str:
    """The answer that decided a deny or a review: the first deciding work's deciding
    territory, the first right (matrix order) and holder (id order) that answered so."""
    work = next((w for w in works if w.get("outcome") == outcome), works[0])
    territory = work.get("territory")
    sentence = p(outcome)
    for entry in work.get("rights", []):
        here = territory is None or territory in entry.get("territories", [territory])
        if not here or entry.get("answer") != outcome:
            continue
        holders = [h for h in entry.get("holders", []) if h.get("answer") == outcome]
        if holders:
            sentence = holder_sentence(p, entry["right"], holders[0], names, own="artist" in work)
        else:
            text = p("rights.unknown", right=p.right_of(entry["right"]))
            sentence = text[:1].upper() + text[1:]
        break
    if len(works) > 1:
        title = p.quote(str(work.get("title") or work.get("name") or work.get("work")))
        return p("summary.titled", title=title, sentence=sentence)
    return sentence
