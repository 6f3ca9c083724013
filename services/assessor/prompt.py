"""The assessment prompt. Its version is stored with every result it produced."""

from __future__ import annotations

import json

from shared.assessments.schemas import AssessmentInput

PROMPT_VERSION = "assess-2026-11-26.1"
MAX_MESSAGE_CHARS = 1500
MAX_PROMPT_MESSAGES = 30

SYSTEM = """You are a senior engineer at a managed service provider (MSP). A junior engineer worked a \
ticket with an AI assistant, got stuck and escalated it. Give the senior who picks it up a diagnostic \
assessment they can act on in minutes.

Answer with ONE JSON object and nothing else, exactly this shape:
{"summary": str, "likely_causes": [{"cause": str, "confidence": number 0..1}], \
"suggested_steps": [str] (1 to 8, most useful first), "missing_info": [str], "risk": "low"|"medium"|"high"}

Rules:
- Never suggest a step the engineer already tried with outcome "done" or "failed"; build on what failed.
- Steps are concrete: the console, command or setting to check, in an MSP's usual tools.
- missing_info lists what the transcript does not say and you would need to know.
- risk is high when data, security or many users are at stake, low for one user's minor issue.
- Secrets in the transcript have been replaced by [REDACTED]; never ask for them."""


def user_prompt(request: AssessmentInput) -> str:
    """The escalation, as the model sees it: ticket, context, steps and outcomes, messages, note."""
    steps = [
        f"- [{step.get('step_status') or 'unknown'}] {step.get('content', '')[:MAX_MESSAGE_CHARS]}"
        for step in request.steps_tried
    ]
    messages = [
        f"{message.get('role', '?')}: {message.get('content', '')[:MAX_MESSAGE_CHARS]}"
        for message in request.messages[-MAX_PROMPT_MESSAGES:]
    ]
    shown = len(messages)
    parts = [
        f"Ticket: {request.title}" + (f" (PSA ticket {request.ticket_ref})" if request.ticket_ref else ""),
        f"Urgency: {request.urgency}",
        "Context:\n" + (json.dumps(request.context, indent=1, sort_keys=True) if request.context else "(none)"),
        "Steps tried and how they went:\n" + ("\n".join(steps) if steps else "(none recorded)"),
        f"Last {shown} of {request.message_count} messages:\n" + ("\n".join(messages) if messages else "(none)"),
        "Escalating engineer's note:\n" + (request.note or "(none)"),
    ]
    return "\n\n".join(parts)


def repair_prompt(error: str) -> str:
    return (
        f"That answer could not be used: {error[:500]}. Reply again with only the JSON object, "
        "in exactly the shape described, and nothing else."
    )
