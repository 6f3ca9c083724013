"""The offline, deterministic default provider: recognises MSP problem families and answers from a knowledge base."""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from services.assessor.providers.base import ProviderError
from services.assessor.providers.heuristic_rules import (
    CRITICAL,
    FAMILIES,
    UNKNOWN_CAUSES,
    UNKNOWN_MISSING,
    UNKNOWN_STEPS,
    Cause,
    Family,
    MissingFact,
    StepRule,
)
from shared.assessments.schemas import AssessmentDraft, AssessmentInput, LikelyCause, Risk

PROBLEM_FAMILIES: tuple[str, ...] = tuple(family.name for family in FAMILIES)
UNKNOWN_FAMILY = "unknown"

TITLE_WEIGHT = 3.0
NOTE_WEIGHT = 2.5
CONTEXT_WEIGHT = 1.5
STEP_WEIGHT = 1.5
ASSISTANT_FACTOR = 0.5  # the assistant speculates about many topics; the engineer describes the real one
HITS_PER_SOURCE = 3  # a word repeated in one message is still one piece of evidence
MAX_TEXT_CHARS = 2000  # the rest of a long message is a pasted log: slow to scan and mostly noise
# What one assessment reads at most, so that its cost is bounded whatever the session holds.
MAX_STEPS_READ = 50  # the latest steps: a snapshot keeps the last 50
MAX_MESSAGES_READ = 50  # the latest messages
MAX_CONTEXT_LINES = 100
MIN_FAMILY_SCORE = 2.5  # below this the transcript only mentions a topic in passing
SECONDARY_RATIO = 0.4  # a second family this close to the first is worth naming
CAUSE_MASS = 0.9  # a rules engine never claims certainty
UNKNOWN_CAUSE_MASS = 0.5
MAX_CAUSES = 6
MAX_STEPS_PRIMARY = 6
MAX_STEPS_SECONDARY = 2
MIN_USEFUL_STEPS = 3
PROVEN_WEIGHT = 0.5  # per past escalation a step fixed (up to PROVEN_CAP): seniors' word beats the usual order
PROVEN_CAP = 3
RELEVANCE_WEIGHT = 1.5  # how far a likely cause lifts its steps over the usual order (0.06 per position)
MIN_RELEVANCE = 0.05  # a step only for causes this unlikely is noise to a senior
RISK_ORDER: dict[Risk, int] = {"low": 0, "medium": 1, "high": 2}
LAST_RESORT_STEP = (
    "The usual steps for this problem are already recorded as tried: gather the logs and exact errors collected so "
    "far and open a case with the vendor, referencing this ticket"
)

_IRREGULAR = {"ran": "run", "rebuilt": "rebuild", "reran": "rerun", "did": "do", "done": "do", "bound": "bind"}
_SYNONYMS = {"reboot": "restart", "bounc": "restart", "rerun": "retry", "powercycl": "restart", "purg": "clear"}
_STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "to", "of", "on", "in", "for", "with", "at", "by", "from", "it", "its", "is", "was",
    "be", "been", "this", "that", "then", "again", "all", "any", "if", "as", "user", "their", "his", "her", "my", "our",
    "we", "i",
})  # fmt: skip
# Prose saying a step was done ("I already rebooted it") suppresses it like a recorded step.
_DONE_IN_PROSE = re.compile(r"\b(already|tried|i've|we've|i have|we have)\b")
# Prose quoting a result ("WizTree shows ...") only proves a look-up was made, so it suppresses look-ups alone.
_RESULT_IN_PROSE = re.compile(r"\b(shows|showed|returns|returned|output|says)\b")
# "Spooler restarts did not help" in the note or a message turns the matching "done" step into a failed one.
_DID_NOT_HELP = re.compile(
    r"\b(did|does|do) ?n[o']?t (help|work|fix|change)|no (luck|change|difference)"
    r"|made no difference|still (fails|failing|broken|the same|there|happening|comes back)"
)
_SENTENCE_END = re.compile(r"[.!?;]+(?:\s|$)|\n+")  # not the dots inside "pms.harbour.local"


@dataclass(frozen=True)
class _Matcher:
    """A lower-case pattern matched on whole words only, run only on texts that hold one of its needles.

    Every pattern starts with a look-behind, so the regex engine tries it at every position of a text;
    a plain substring test first skips the texts it cannot match (most texts, for most of the 150 signals).
    """

    pattern: re.Pattern[str]
    needles: tuple[str, ...]

    def _may_match(self, text: str) -> bool:
        return not self.needles or any(needle in text for needle in self.needles)

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text) if self._may_match(text) else None

    def findall(self, text: str) -> list[Any]:
        return self.pattern.findall(text) if self._may_match(text) else []


def _pattern(regex: str) -> _Matcher:
    """A lower-case pattern matched on whole words only."""
    return _Matcher(re.compile(rf"(?<!\w)(?:{regex})(?!\w)"), _needles(regex))


_REGEX_SPECIAL = frozenset("\\()[]{}.^$|?*+")


def _top_level_branches(regex: str) -> list[str]:
    branches, depth, start, index = [], 0, 0, 0
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 1
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(regex[start:index])
            start = index + 1
        index += 1
    return [*branches, regex[start:]]


def _needles(regex: str) -> tuple[str, ...]:
    """Plain strings one of which any match of `regex` must contain; () when some branch has none.

    A signal's regex is only run on a text holding one of them: `str in str` costs a fraction of a
    regex scan, and most texts hold few of the 150 signals.
    """
    needles = []
    for branch in _top_level_branches(regex):
        literal = ""
        for char in branch:
            if char in _REGEX_SPECIAL:
                if char in "?*{" and literal:
                    literal = literal[:-1]  # the quantified character may be absent
                break
            literal += char
        if not literal:
            return ()
        needles.append(literal)
    return tuple(needles)


@functools.lru_cache(maxsize=1 << 16)  # words repeat: a transcript has a few hundred distinct ones
def _stem(word: str) -> str:
    """A light suffix stripper: enough for "restarted", "restarting" and "restarts" to meet "restart"."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith(("ies", "ied")):
        word = word[:-3] + "y"
    elif (len(word) > 5 and word.endswith("ing")) or (len(word) > 4 and word.endswith("ed")):
        word = word[:-3] if word.endswith("ing") else word[:-2]
        if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]  # stopped -> stop, running -> run
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return _SYNONYMS.get(word, word)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stem(word) for word in _words(text))


@dataclass(frozen=True)
class _StepKeys:
    """A step's key groups, stemmed: every group needs one alternative whose words all appear."""

    groups: tuple[tuple[tuple[str, ...], ...], ...]

    @classmethod
    def parse(cls, keys: Iterable[str]) -> _StepKeys:
        groups = []
        for group in keys:
            alternatives = []
            for alternative in group.split("|"):
                words = alternative.split()
                alternatives.append(tuple(w if w.endswith("*") else _stem(w) for w in words))
            groups.append(tuple(alternatives))
        return cls(tuple(groups))

    def satisfied_groups(self, words: frozenset[str], stems: frozenset[str]) -> int:
        return sum(1 for group in self.groups if any(_has_all(alt, words, stems) for alt in group))

    @property
    def terms(self) -> frozenset[str]:
        return frozenset(w.rstrip("*") for group in self.groups for alt in group for w in alt)


def _has_all(alternative: tuple[str, ...], words: frozenset[str], stems: frozenset[str]) -> bool:
    for term in alternative:
        if term.endswith("*"):
            if not any(word.startswith(term[:-1]) for word in words):
                return False
        elif term not in stems:
            return False
    return True


@dataclass(frozen=True)
class _Step:
    rule: StepRule
    keys: _StepKeys
    stems: frozenset[str]  # of the step's own text, for the overlap fallback


@dataclass(frozen=True)
class _CompiledFamily:
    family: Family
    signals: tuple[tuple[_Matcher, float], ...]
    hints: dict[str, tuple[tuple[_Matcher, float], ...]]
    steps: tuple[_Step, ...]
    missing: tuple[tuple[MissingFact, _Matcher], ...]
    risk_rules: tuple[tuple[Risk, tuple[_Matcher, ...]], ...]


def _compile_steps(rules: Iterable[StepRule]) -> tuple[_Step, ...]:
    return tuple(_Step(rule, _StepKeys.parse(rule.keys), _stems(rule.text)) for rule in rules)


def _compile_missing(facts: Iterable[MissingFact]) -> tuple[tuple[MissingFact, _Matcher], ...]:
    return tuple((fact, _pattern(fact.known_if)) for fact in facts)


def _compile(family: Family) -> _CompiledFamily:
    return _CompiledFamily(
        family=family,
        signals=tuple((_pattern(regex), weight) for regex, weight in family.signals),
        hints={cause.key: tuple((_pattern(regex), factor) for regex, factor in cause.hints) for cause in family.causes},
        steps=_compile_steps(family.steps),
        missing=_compile_missing(family.missing),
        risk_rules=tuple((rule.level, tuple(_pattern(p) for p in rule.all_of)) for rule in family.risk_rules),
    )


_FAMILIES = {family.name: _compile(family) for family in FAMILIES}
_UNKNOWN_STEPS = _compile_steps(UNKNOWN_STEPS)
_UNKNOWN_MISSING = _compile_missing(UNKNOWN_MISSING)
_CRITICAL = _pattern(CRITICAL)


@dataclass(frozen=True)
class _TriedStep:
    """A step the engineer recorded, with its normalised words for matching against candidate steps."""

    content: str
    status: str  # done | failed | skipped
    words: frozenset[str]
    stems: frozenset[str]

    @classmethod
    def of(cls, content: str, status: str) -> _TriedStep:
        return cls(content, status, frozenset(_words(content)), _stems(content))

    def failed_per(self, sentence_stems: frozenset[str]) -> bool:
        """Whether a "did not help" sentence names this step: it mentions every one of the step's own words."""
        own = self.stems - _STOPWORDS
        return bool(own) and own <= sentence_stems

    def is_same_action(self, step: _Step) -> bool:
        """Whether this tried step performs the candidate step, by its key groups or a strong word overlap."""
        satisfied = step.keys.satisfied_groups(self.words, self.stems)
        if satisfied == len(step.keys.groups):
            return True
        own = self.stems - _STOPWORDS
        # A tried step that restates most of a candidate's own words is the same action even without every key.
        return satisfied > 0 and len(own) >= 3 and len(own & (step.stems | step.keys.terms)) >= 0.75 * len(own)


@dataclass
class _Transcript:
    """What the heuristic reads from an AssessmentInput: weighted texts, known facts and the steps tried."""

    weighted: list[tuple[str, float]] = field(default_factory=list)
    facts: str = ""  # everything but the assistant's words, lower-case: what the engineer actually said
    tried: list[_TriedStep] = field(default_factory=list)  # done or failed: never suggested again
    skipped: list[_TriedStep] = field(default_factory=list)
    mentioned: list[_TriedStep] = field(default_factory=list)  # "I already ..." in prose: suppressed, not reported
    looked_up: list[_TriedStep] = field(default_factory=list)  # "nslookup returns ..." in prose: look-ups suppressed
    proven: dict[str, int] = field(default_factory=dict)  # step text -> past escalations of the account it fixed

    @classmethod
    def of(cls, request: AssessmentInput) -> _Transcript:
        transcript = cls(proven=dict(request.proven_steps))
        context_lines = itertools.islice(_flatten(request.context), MAX_CONTEXT_LINES)
        title, note, context = _text(request.title), _text(request.note), [_text(t) for t in context_lines]
        facts = [title, note, *context]
        transcript.weighted += [(title, TITLE_WEIGHT), (note, NOTE_WEIGHT), *((t, CONTEXT_WEIGHT) for t in context)]
        seen: set[tuple[str, str]] = set()
        messages = request.messages[-MAX_MESSAGES_READ:]
        steps = [*request.steps_tried[-MAX_STEPS_READ:], *(m for m in messages if m.get("kind") == "step")]
        for message in steps:
            content, status = _text(message.get("content")), _step_status(message.get("step_status"))
            if not content or (content.lower(), status) in seen:
                continue
            seen.add((content.lower(), status))
            facts.append(content)
            transcript.weighted.append((content, STEP_WEIGHT))
            (transcript.skipped if status == "skipped" else transcript.tried).append(_TriedStep.of(content, status))
        prose = [m for m in messages if m.get("kind") != "step"]
        complaints = [s for s in _SENTENCE_END.split(note.lower()) if _DID_NOT_HELP.search(s)]
        for position, message in enumerate(prose):
            content, role = _text(message.get("content")), message.get("role")
            recency = 0.6 + 0.6 * (position + 1) / len(prose)  # the latest messages describe where things stand
            transcript.weighted.append((content, recency * (1.0 if role == "engineer" else ASSISTANT_FACTOR)))
            if role != "assistant":
                facts.append(content)
            if role == "engineer":
                for sentence in _SENTENCE_END.split(content.lower()):
                    if _DID_NOT_HELP.search(sentence):
                        complaints.append(sentence)
                    if _DONE_IN_PROSE.search(sentence):
                        transcript.mentioned.append(_TriedStep.of(sentence, "done"))
                    elif _RESULT_IN_PROSE.search(sentence):
                        transcript.looked_up.append(_TriedStep.of(sentence, "done"))
        transcript.facts = "\n".join(facts).lower()
        complained = [_stems(sentence) for sentence in complaints]
        transcript.tried = [
            replace(step, status="failed") if any(step.failed_per(c) for c in complained) else step
            for step in transcript.tried
        ]
        return transcript

    def already_done(self, step: _Step) -> bool:
        if any(tried.is_same_action(step) for tried in (*self.tried, *self.mentioned)):
            return True
        # A step that fixes nothing (no evidence to weigh once tried) is a look-up.
        return not step.rule.if_tried and any(seen.is_same_action(step) for seen in self.looked_up)


def _step_status(value: Any) -> str:
    """ "failed", "skipped" or "done": a step recorded without a known status was still taken."""
    return value if value in ("failed", "skipped") else "done"


def _text(value: Any) -> str:
    return value.strip()[:MAX_TEXT_CHARS] if isinstance(value, str) else ""


def _flatten(value: Any, key: str = "", depth: int = 0) -> Iterator[str]:
    """Context as "key: value" lines, so both the field names and the values can be recognised."""
    if depth > 4:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, str(k), depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item, key, depth + 1)
    elif value is not None:
        yield f"{key}: {value}" if key else str(value)


def _family_scores(transcript: _Transcript) -> dict[str, float]:
    scores = dict.fromkeys(PROBLEM_FAMILIES, 0.0)
    for text, weight in transcript.weighted:
        lowered = text.lower()
        if not lowered:
            continue
        for name, family in _FAMILIES.items():
            hits = sum(signal * min(len(p.findall(lowered)), HITS_PER_SOURCE) for p, signal in family.signals)
            scores[name] += weight * hits
    return scores


def _rank_families(transcript: _Transcript) -> list[tuple[str, float]]:
    """Families with enough evidence, best first, each with its share of the evidence (0..1)."""
    scores = {name: score for name, score in _family_scores(transcript).items() if score >= MIN_FAMILY_SCORE}
    if not scores:
        return [(UNKNOWN_FAMILY, 0.0)]
    total = sum(scores.values())
    ranked = sorted(scores.items(), key=lambda item: (-item[1], PROBLEM_FAMILIES.index(item[0])))
    return [(name, round(score / total, 4)) for name, score in ranked]


def classify(request: AssessmentInput) -> list[tuple[str, float]]:
    """Problem families ranked best first with their share of the evidence; [("unknown", 0.0)] when none fits."""
    return _rank_families(_Transcript.of(request))


@dataclass(frozen=True)
class _Finding:
    """A family the transcript points at, its share of the evidence and its causes weighed against the transcript."""

    compiled: _CompiledFamily
    share: float
    causes: list[tuple[Cause, float]]  # best first, shares summing to 1

    @property
    def cause_shares(self) -> dict[str, float]:
        return {cause.key: share for cause, share in self.causes}


def _cause_shares(compiled: _CompiledFamily, transcript: _Transcript) -> list[tuple[Cause, float]]:
    weights = {}
    for cause in compiled.family.causes:
        weight = cause.prior
        for pattern, factor in compiled.hints[cause.key]:
            if pattern.search(transcript.facts):
                weight *= factor
        weights[cause.key] = weight
    for tried in transcript.tried:
        # A failed step is strong evidence against what it fixes; a done one (the ticket is still open) weaker.
        strength = 1.0 if tried.status == "failed" else 0.5
        for step in compiled.steps:
            if tried.is_same_action(step):
                for key, factor in step.rule.if_tried:
                    weights[key] *= factor**strength
    total = sum(weights.values())
    shares = [(cause, weights[cause.key] / total) for cause in compiled.family.causes]
    return sorted(shares, key=lambda item: -item[1])


def _findings(transcript: _Transcript) -> list[_Finding]:
    """The leading family and, when it is nearly as strong, the runner-up; empty when nothing fits."""
    ranking = _rank_families(transcript)
    if ranking[0][0] == UNKNOWN_FAMILY:
        return []
    best = ranking[0][1]
    return [
        _Finding(_FAMILIES[name], share, _cause_shares(_FAMILIES[name], transcript))
        for name, share in ranking[:2]
        if share >= SECONDARY_RATIO * best
    ]


def _ranked_steps(finding: _Finding, transcript: _Transcript) -> list[_Step]:
    shares = finding.cause_shares
    leading = max(shares.values(), default=0.0)

    def relevance(step: _Step) -> float:
        # A step for no cause in particular narrows them all, so it is as urgent as the leading cause.
        return max((shares.get(key, 0.0) for key in step.rule.addresses), default=leading)

    def score(indexed: tuple[int, _Step]) -> tuple[float, int]:
        index, step = indexed
        lift = 0.0 if step.rule.follow_up else RELEVANCE_WEIGHT * relevance(step)
        # Step texts are unique to their family, so a match is a step that fixed this same kind of problem.
        lift += PROVEN_WEIGHT * min(transcript.proven.get(step.rule.text, 0), PROVEN_CAP)
        return (-(1.0 - 0.06 * index + lift), index)

    candidates = [s for s in finding.compiled.steps if relevance(s) >= MIN_RELEVANCE and not transcript.already_done(s)]
    return [step for _, step in sorted(enumerate(candidates), key=score)]


def _suggested_steps(findings: list[_Finding], transcript: _Transcript) -> list[str]:
    chosen: list[_Step] = []
    for rank, finding in enumerate(findings):
        fresh = [step for step in _ranked_steps(finding, transcript) if step not in chosen]
        chosen += fresh[: MAX_STEPS_PRIMARY if rank == 0 else MAX_STEPS_SECONDARY]
    if len(chosen) < MIN_USEFUL_STEPS:
        # Unknown problems get every generic step; known ones only enough to stay useful once their own ran out.
        generic = [step for step in _UNKNOWN_STEPS if not transcript.already_done(step)]
        chosen += generic[: (MIN_USEFUL_STEPS if findings else len(generic)) - len(chosen)]
    return [step.rule.text for step in chosen] or [LAST_RESORT_STEP]


def _likely_causes(findings: list[_Finding]) -> list[LikelyCause]:
    if not findings:
        return [
            LikelyCause(cause=cause.text, confidence=math.floor(UNKNOWN_CAUSE_MASS * cause.prior * 100) / 100)
            for cause in UNKNOWN_CAUSES
        ]
    out: list[tuple[float, int, str]] = []
    for rank, finding in enumerate(findings):
        kept = finding.causes if rank == 0 else finding.causes[:1]  # a runner-up family adds its leading cause
        for order, (cause, share) in enumerate(kept):
            confidence = math.floor(CAUSE_MASS * finding.share * share * 100) / 100  # floor keeps the sum <= 1
            if confidence >= 0.02:
                out.append((confidence, rank * 100 + order, cause.text))
    out.sort(key=lambda item: (-item[0], item[1]))
    return [LikelyCause(cause=text, confidence=confidence) for confidence, _, text in out[:MAX_CAUSES]]


def _missing_info(findings: list[_Finding], transcript: _Transcript) -> list[str]:
    facts = findings[0].compiled.missing if findings else _UNKNOWN_MISSING
    missing = [fact.text for fact, known in facts if not known.search(transcript.facts)]
    missing += [
        f'Whether the skipped step "{_clip(step.content, 120)}" can be done now, or why it was skipped'
        for step in transcript.skipped[:2]
    ]
    return missing[:12]


def _risk(findings: list[_Finding], transcript: _Transcript, urgency: str) -> Risk:
    level: Risk = findings[0].compiled.family.risk if findings else "medium"
    if findings:
        rules = findings[0].compiled.risk_rules
        matched = [lvl for lvl, patterns in rules if all(p.search(transcript.facts) for p in patterns)]
        higher = [lvl for lvl in matched if RISK_ORDER[lvl] > RISK_ORDER[level]]
        lower = [lvl for lvl in matched if RISK_ORDER[lvl] < RISK_ORDER[level]]
        if higher:
            level = max(higher, key=RISK_ORDER.__getitem__)
        elif lower:
            level = min(lower, key=RISK_ORDER.__getitem__)
    if urgency.strip().lower() in {"high", "urgent", "critical"} or _CRITICAL.search(transcript.facts):
        level = "high"
    return level


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0] + "..."


def _as_clause(content: str) -> str:
    text = _clip(content, 100).rstrip(".")
    # Lower-case a leading capital unless it starts an acronym ("DNS", "VPN").
    return text[0].lower() + text[1:] if len(text) > 1 and text[0].isupper() and not text[1].isupper() else text


def _tried_sentence(transcript: _Transcript) -> str:
    ordered = sorted(transcript.tried, key=lambda step: step.status != "failed")  # stable: failures first
    parts = [f"{_as_clause(s.content)} ({'did not help' if s.status == 'failed' else 'done'})" for s in ordered[:4]]
    if len(ordered) > 4:
        parts.append(f"and {len(ordered) - 4} more")
    if transcript.skipped:
        parts.append("skipped: " + ", ".join(_as_clause(s.content) for s in transcript.skipped[:2]))
    return "Tried so far: " + "; ".join(parts) + "." if parts else "No troubleshooting steps are recorded yet."


def _summary(findings: list[_Finding], transcript: _Transcript) -> str:
    if not findings:
        first = (
            "The transcript does not clearly match a common MSP problem family; pin down the exact error, "
            "who is affected and what changed first."
        )
    else:
        label = findings[0].compiled.family.label
        article = "an" if label[0].lower() in "aeio" else "a"
        also = f", possibly together with {findings[1].compiled.family.label}" if len(findings) > 1 else ""
        first = f"Likely {article} {label} problem{also}, most probably {findings[0].causes[0][0].short}."
    return _clip(f"{first} {_tried_sentence(transcript)}", 2000)


def assess_transcript(request: AssessmentInput) -> AssessmentDraft:
    """The heuristic assessment of one escalation; pure and deterministic."""
    transcript = _Transcript.of(request)
    findings = _findings(transcript)
    return AssessmentDraft(
        summary=_summary(findings, transcript),
        likely_causes=_likely_causes(findings),
        suggested_steps=_suggested_steps(findings, transcript),
        missing_info=_missing_info(findings, transcript),
        risk=_risk(findings, transcript, request.urgency),
    )


class HeuristicProvider:
    """The default AI provider: offline rules, no network, same input same answer."""

    name = "heuristic"
    model = "msp-rules-v1"
    prompt_version: str | None = None  # rules, not a prompt

    async def assess(self, request: AssessmentInput) -> AssessmentDraft:
        """A validated draft assessment built from the knowledge base."""
        # Pure CPU work: in a thread, so the event loop (and every request it serves) keeps going meanwhile.
        draft = await asyncio.to_thread(assess_transcript, request)
        try:
            return msgspec.convert(msgspec.to_builtins(draft), AssessmentDraft)
        except msgspec.ValidationError as exc:  # a knowledge-base bug, not the engineer's input
            raise ProviderError(f"heuristic draft failed validation: {exc}") from exc

    async def close(self) -> None:
        """Nothing to release: the rules live in memory."""
