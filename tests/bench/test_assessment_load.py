"""What one escalation of a long session costs: the rules engine's time, and how long `/healthz` waits meanwhile.

The figures are printed, not asserted; the assertions are what a user notices (an assessment arrives).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from pathlib import Path

import httpx

from services.assessor.providers.heuristic import assess_transcript
from shared.assessments.schemas import AssessmentInput
from tests.support.processes import running, spare_port

ACTIONS = (
    "Restarted the print spooler on {host} and cleared the stuck queue",
    "Flushed DNS with ipconfig /flushdns on {host}; nslookup still returns the old record",
    "Rebooted the FortiGate and checked the phase 2 lifetime of the tunnel to {host}",
    "Rebuilt the Outlook profile and the OST on {host}; modern auth still prompts for a password",
    "Reinstalled the NIC driver on {host} from the vendor package; link lights flap",
)


def step(index: int) -> dict[str, str | None]:
    host = f"srv-{index:04d}"
    text = ACTIONS[index % len(ACTIONS)].format(host=host)
    detail = f" (attempt {index}, event log 372 and 6161 checked on {host}, driver 6.{index}.2, ticket note {index})"
    return {"role": "engineer", "content": (text + detail) * 3, "kind": "step", "step_status": "failed"}


def transcript(steps: int) -> AssessmentInput:
    """The input as a snapshot that kept every step would give it."""
    tried = [step(i) for i in range(steps)]
    chat = [{"role": "assistant", "content": "Try the next check.", "kind": "message", "step_status": None}] * 50
    return AssessmentInput(
        title="Printer offline at reception",
        steps_tried=tried,
        messages=[*chat, *tried][-50:],
        message_count=steps + 50,
        note="Spooler restarts did not help",
    )


def test_rules_engine_time_by_session_length() -> None:
    figures = []
    for steps in (50, 500, 1000):
        request = transcript(steps)
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            draft = assess_transcript(request)
            samples.append(time.perf_counter() - started)
        assert draft.suggested_steps
        figures.append(f"{steps} steps {statistics.median(samples) * 1000:.0f} ms")
    print("\nrules engine, one assessment: " + ", ".join(figures))


def test_healthz_keeps_answering_while_a_1000_step_session_is_assessed(tmp_path: Path) -> None:
    port = spare_port()
    base = f"http://127.0.0.1:{port}"
    # One engineer writes 1,000 messages here; the per-user rate limit is not what this measures.
    env = {"HANDOFF_RATE_LIMIT_PER_MIN": "1000000"}
    with running(["dev"], cwd=tmp_path, port=port, env=env):
        tokens = dict(re.findall(r"export ([A-Z]+)=(\S+)", (tmp_path / "var" / "demo.env").read_text()))
        jamie = {"Authorization": f"Bearer {tokens['JAMIE']}"}
        sam = {"Authorization": f"Bearer {tokens['SAM']}"}
        with httpx.Client(base_url=base, timeout=30) as http:
            created = http.post(
                "/api/v1/ai-sessions",
                headers=jamie,
                json={"title": "Printer offline", "messages": [step(i) for i in range(500)]},
            )
            assert created.status_code == 201, created.text
            session_id = created.json()["id"]
            for i in range(500, 1000):
                added = http.post(f"/api/v1/ai-sessions/{session_id}/messages", headers=jamie, json=step(i))
                assert added.status_code == 201, added.text

            waits: list[float] = []
            stop, probing = threading.Event(), threading.Event()

            def probe_healthz() -> None:
                with httpx.Client(base_url=base, timeout=60) as prober:
                    while not stop.is_set():
                        probe = time.perf_counter()
                        assert prober.get("/healthz").status_code == 200
                        waits.append(time.perf_counter() - probe)
                        probing.set()
                        time.sleep(0.01)  # pace: the prober's rate

            prober = threading.Thread(target=probe_healthz)
            prober.start()
            assert probing.wait(30), "the /healthz prober never got an answer"
            try:
                started = time.perf_counter()
                handoff = http.post(
                    f"/api/v1/ai-sessions/{session_id}/handoff", headers=jamie, json={"intent": "escalate", "note": "x"}
                )
                assert handoff.status_code == 201, handoff.text
                escalate_s = time.perf_counter() - started
                status = "pending"
                deadline = time.monotonic() + 120
                while status == "pending":
                    assert time.monotonic() < deadline, "no assessment within 120 s"
                    time.sleep(0.05)  # poll interval: until assessed, or the deadline
                    answer = http.get(f"/api/v1/handoffs/{handoff.json()['id']}", headers=sam)
                    status = answer.json()["assessment_status"]
                assessed_s = time.perf_counter() - started
            finally:
                stop.set()
                prober.join()
            assert status == "ready"
    print(
        f"\nhandoff dev, 1,000-step session: escalate {escalate_s * 1000:.0f} ms, assessment ready after "
        f"{assessed_s * 1000:.0f} ms, /healthz worst {max(waits) * 1000:.0f} ms over {len(waits)} probes"
    )
