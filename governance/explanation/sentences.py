"""The sentences an explanation is made of, one per part of a decision trace, in a reader's
language (:class:`~governance.explanation.phrases.Phrases`): how the item named or resembled a
work, which rights a use needs, each holder's answer, where (territories) and when (a part of
the period asked about) that answer holds, the conclusion with its conditions, and the one
sentence of an item that matched nothing or could not be decided.

A holder's share is said only where the trace holds it: a licensee's trace does not
(:mod:`governance.disclosure`), and then the holder is named with its right alone.
:mod:`governance.explanation` puts the sentences in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from governance.evaluation import ELSEWHERE
from governance.explanation.phrases import Phrases
from governance.terms import AI_DECLARATIONS


def where_clause(p: Phrases, territories: Sequence[str], evaluated: Sequence[str]) -> str:
    """Where an answer holds, when it does not hold everywhere that was evaluated."""
    if set(territories) >= set(evaluated):
        return ""
    if ELSEWHERE in territories:
        others = [t for t in evaluated if t not in territories and t != ELSEWHERE]
        return p("outside_one" if len(others) == 1 else "outside_many", codes=p.join(others))
    named = list(territories)
    return p("in_one" if len(named) == 1 else "in_many", codes=p.join(named))


def _moment(p: Phrases, value: str) -> str:
    """A trace's time (RFC 3339, UTC) as people read it: the day alone at midnight."""
    day, _, time = value.partition("T")
    time = time.rstrip("Z").split(".")[0]
    if time in ("", "00:00:00"):
        return day
    return p("period.time", day=day, time=time.removesuffix(":00"))


def span(p: Phrases, period: Mapping[str, Any]) -> str:
    """``from <start> to <end>`` (or ``from <start> on``) in ``p``'s language."""
    start = _moment(p, str(period["start"]))
    if period.get("end") is None:
        return p("period.open", start=start)
    return p("period.span", start=start, end=_moment(p, str(period["end"])))


def when_clause(p: Phrases, entry: Mapping[str, Any], work: Mapping[str, Any]) -> str:
    """When a right's answer holds, when it does not hold for the whole period asked about."""
    parts = work.get("periods") or []
    period = entry.get("period")
    if not period or not parts:
        return ""
    if (period["start"], period["end"]) == (parts[0]["start"], parts[-1]["end"]):
        return ""
    return f"{span(p, period)}, "


def identification_sentences(p: Phrases, work: Mapping[str, Any]) -> list[str]:
    title = p.quote(str(work.get("title") or work.get("work")))
    sentences = []
    for m in work.get("matches", []):
        if "coverage" in m:  # a fingerprint: how many seconds agree, and where
            sentences.append(fingerprint_sentence(p, title, m))
            continue
        if m.get("method") == "presence":  # a fingerprint: how many of its peaks are present
            sentences.append(presence_sentence(p, title, m))
            continue
        if m.get("space") == "composition" and "segments" in m:  # a version of the composition
            sentences.append(composition_sentence(p, title, m))
            continue
        if m.get("space") == "text" and "model" in m:  # lyrics: the work's, translated or not
            sentences.append(
                p("lyrics_match", title=title, model=m["model"], version=m.get("model_version"),
                  score=p.number(m["score"]), threshold=p.number(m["threshold"]))
            )  # fmt: skip
            continue
        score, threshold = p.number(m["score"]), p.number(m["threshold"])
        key = "match" if m["score"] >= m["threshold"] else "near"
        sentences.append(p(key, title=title, space=m["space"], score=score, threshold=threshold))
    if work.get("identified_by"):
        scheme, value = p.identifier(str(work["identified_by"]))
        key = "named_also" if sentences else "named"
        sentences.append(p(key, title=title, scheme=scheme, value=value))
    if (declared := work.get("ai_declaration")) in AI_DECLARATIONS:
        sentences.append(p(f"ai.{declared}"))  # what its label declared, in its feed
    return sentences


def artist_sentences(p: Phrases, artist: Mapping[str, Any]) -> list[str]:
    """How the item matched an artist: the words of the prompt that name them (``text``), or
    the similarity in another space (a voice)."""
    name = str(artist.get("name") or artist.get("artist"))
    sentences = []
    for m in artist.get("matches", []):
        score, threshold = p.number(m["score"]), p.number(m["threshold"])
        if m.get("space") == "text" and m.get("label"):
            span = p.quote(str(m["span"])) if m.get("span") else "…"
            sentences.append(
                p(
                    "artist_named",
                    name=name,
                    span=span,
                    label=p.quote(str(m["label"])),
                    model=m.get("model"),
                    version=m.get("model_version"),
                    score=score,
                    threshold=threshold,
                )
            )
            continue
        if m.get("space") == "voice" and "query_start_seconds" in m:
            sentences.append(
                p("voice_match", name=name, model=m.get("model"), version=m.get("model_version"),
                  score=score, threshold=threshold, start=p.clock(float(m["query_start_seconds"])),
                  end=p.clock(float(m["query_end_seconds"])))
            )  # fmt: skip
            continue
        key = "match" if m["score"] >= m["threshold"] else "near"
        sentences.append(p(key, title=name, space=m["space"], score=score, threshold=threshold))
    return sentences


def fingerprint_sentence(p: Phrases, title: str, m: Mapping[str, Any]) -> str:
    """How the item's audio matched a recording: the seconds that agree (blocks of about a
    second), the threshold, and where the matching part lies in the audio and the recording."""
    block = float(m.get("block_seconds") or 1.0)
    start, end = float(m["query_start_seconds"]), float(m["query_end_seconds"])
    return p(
        "fingerprint",
        title=title,
        model=m.get("model"),
        version=m.get("model_version"),
        agree=round(int(m["coverage"]) * block),
        total=round(int(m["query_blocks"]) * block),
        needed=round(int(m["min_coverage"]) * block),
        start=p.clock(start),
        end=p.clock(end),
        ref=p.clock(float(m["offset_seconds"]) + start),
    )


def presence_sentence(p: Phrases, title: str, m: Mapping[str, Any]) -> str:
    """How the item's audio matched a recording by the presence of its peaks: how many are
    present, against chance, the z and its threshold, and where the audio lies in it."""
    return p(
        "fingerprint_presence",
        title=title,
        model=m.get("model"),
        version=m.get("model_version"),
        present=int(m["present"]),
        peaks=int(m["peaks"]),
        seconds=round(float(m["query_seconds"])),
        expected=round(float(m["expected"])),
        z=f"{float(m['z']):.1f}".replace(".", p.words["decimal"]),
        min_z=f"{float(m['min_z']):.1f}".replace(".", p.words["decimal"]),
        ref=p.clock(round(float(m["offset_seconds"]))),
    )


def composition_sentence(p: Phrases, title: str, m: Mapping[str, Any]) -> str:
    """How the item's audio matched a work's composition: its similarity and the threshold."""
    return p(
        "composition",
        title=title,
        model=m.get("model"),
        version=m.get("model_version"),
        score=p.number(m["score"]),
        threshold=p.number(m["threshold"]),
    )


def needs_sentence(p: Phrases, use: str, rights: Sequence[str], version: object) -> str:
    if not rights:
        return p("needs_none", use=p.use(use), version=version)
    if len(rights) == 1:
        return p("needs_one", use=p.use(use), right=p.right_of(rights[0]))
    return p("needs_many", use=p.use(use), rights=p.join([p.right(r) for r in rights]))


def holder_name(h: Mapping[str, Any], names: Mapping[str, str]) -> str:
    party = str(h.get("party", ""))
    return str(h.get("name") or names.get(party) or party)


def holder_sentence(
    p: Phrases,
    right: str,
    h: Mapping[str, Any],
    names: Mapping[str, str],
    settled: bool = False,
    own: bool = False,
) -> str:
    """The sentence of one holder's answer; ``settled``: a review it has since answered;
    ``own``: an artist the item matched, answering for their own likeness (not as an artist
    credited on a work)."""
    name = holder_name(h, names)
    if own:
        detail = p.right(right)
    elif h.get("share") is not None:
        detail = f"{p.right(right)}, {p.percent(str(h['share']))}"
    elif h.get("credited") or "share" in h:
        detail = p("credited", right=p.right(right))
    else:  # the reader may not see the share (governance.disclosure)
        detail = p.right(right)
    rule = h.get("rule")
    values: dict[str, object] = {
        "who": f"{name} ({detail})",
        "poss": p("poss_artist" if h.get("kind") == "artist" else "poss_other"),
        "answer": h.get("answer"),
        "rule": "" if not rule else p("rule", id=_short(str(rule["id"])), version=rule["version"]),
    }
    similarity = h.get("similarity")
    if similarity:
        values |= {
            "limit": p.number(similarity["max_similarity"]),
            "score": p.number(similarity["score"]),
            "space": similarity["space"],
        }
    code = str(h.get("code"))
    if code == "consent.review" and settled:
        code = "consent.reviewed"
    needs_rule = code in (
        "consent.allowed", "consent.conditional", "consent.denied_by_rule", "consent.reviewed"
    )  # fmt: skip
    if (
        code not in p.words
        or (needs_rule and not rule)
        or (code.endswith("exceeded") and not similarity)
    ):
        code = "holder"
    return p(code, **values)


def _short(rule_id: str) -> str:
    """A UUID's first eight digits, as people quote commit hashes; the trace has it whole."""
    return rule_id if len(rule_id) <= 12 else f"{rule_id[:8]}…"


def conclusion_sentence(p: Phrases, outcome: str, obligations: Mapping[str, Any]) -> str:
    if outcome != "conditional":
        return p(outcome) if outcome in ("allow", "deny", "review") else ""
    items = []
    if attribution := str(obligations.get("attribution") or "").splitlines():
        items.append(p("credit", texts=p.join([p.quote(t) for t in attribution])))
    if obligations.get("ai_disclosure"):
        items.append(p("disclose"))
    if obligations.get("max_similarity") is not None:
        items.append(p("similarity", limit=p.number(obligations["max_similarity"])))
    if refs := str(obligations.get("compensation_ref") or "").splitlines():
        items.append(p("compensation", refs=p.join(refs)))
    return p("conditional", items=p("separator").join(items))


def unmatched_sentence(p: Phrases, trace: Mapping[str, Any]) -> str:
    outcome = str(trace.get("outcome") or "no_match")
    searched = trace.get("searched")
    if outcome == "no_match" and searched and searched.get("kind") in ("prompt", "lyrics"):
        nearest = searched.get("nearest")
        near = ""
        if nearest:
            near = p("nearest", label=p.quote(str(nearest["label"])),
                     score=p.number(nearest["score"]))  # fmt: skip
        return p(
            f"no_match.{searched['kind']}",
            model=searched.get("model"),
            version=searched.get("model_version"),
            parts=searched.get("spans", searched.get("stanzas")),
            threshold=p.number(searched["threshold"]),
            nearest=near,
        )
    if outcome == "no_match":
        return p("no_match")
    key = f"error.{trace.get('code')}"
    # A French reader gets the code's French sentence: the stored reason is English.
    reason = str(trace.get("reason") or "").rstrip(".")
    return p(key if key in p.words else "error", reason=reason)
