"""The rules engine ranks a suggested step higher once seniors said it fixed past escalations of the same problem."""

from __future__ import annotations

from services.assessor.providers.heuristic import assess_transcript
from shared.assessments.schemas import AssessmentInput

DNS = AssessmentInput(
    title="DNS resolution fails for the intranet site",
    note="nslookup intranet.corp times out from the office",
    messages=[
        {"role": "engineer", "content": "Users cannot resolve internal names since this morning", "kind": "message"}
    ],
)


def test_a_step_that_fixed_past_escalations_ranks_higher_than_before() -> None:
    before = assess_transcript(DNS).suggested_steps
    last = before[-1]
    proven = AssessmentInput(title=DNS.title, note=DNS.note, messages=DNS.messages, proven_steps={last: 2})
    after = assess_transcript(proven).suggested_steps
    assert after.index(last) < before.index(last)
    assert sorted(after) == sorted(before)  # the same steps, in a new order


def test_feedback_on_a_step_of_another_problem_changes_nothing() -> None:
    before = assess_transcript(DNS).suggested_steps
    printer = "Clear the print spooler folder and restart the Print Spooler service"
    proven = AssessmentInput(title=DNS.title, note=DNS.note, messages=DNS.messages, proven_steps={printer: 3})
    assert assess_transcript(proven).suggested_steps == before
