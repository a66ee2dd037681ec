"""Helpers for the web chat's security tests: the real assistant under test settings, and raw calls to Gradio's
queue, the way a hostile client would make them, bypassing the page."""

from __future__ import annotations

import dataclasses
import json
import uuid

import httpx

def serving(real_assistant, settings):
    """The real assistant (real index, real answerer) with other settings (feedback file, limits, login…)."""
    return dataclasses.replace(real_assistant, settings=settings)


def served_settings(clean_settings, tmp_path, **sections):
    """Default settings with the feedback file under ``tmp_path``; ``sections`` override whole fields of
    the ``ui`` and ``limits`` sections, e.g. ``ui={"admin": True}``, ``limits={"feedback_per_minute": 3}``."""
    ui = {"feedback_path": tmp_path / "feedback.jsonl", **sections.pop("ui", {})}
    return clean_settings(ui=ui, **sections)


class RawQueue:
    """Gradio's queue protocol by hand (``/gradio_api/queue/join`` then the session's event stream): any
    event handler, hidden from the API page or not, with any data, as a forged request would send it."""

    def __init__(self, url: str, session_hash: str | None = None):
        self.url = url.rstrip("/")
        self.session_hash = session_hash or uuid.uuid4().hex[:11]
        self.config = httpx.get(f"{self.url}/config", timeout=30).json()
        self.components = {c["id"]: c for c in self.config["components"]}

    def dependency(self, trigger: str, elem_id: str) -> dict:
        """The handler of ``trigger`` (« like », « submit »…) on the component whose elem_id is ``elem_id``."""
        for dep in self.config["dependencies"]:
            for target, event in dep["targets"]:
                if event == trigger and self.components.get(target, {}).get("props", {}).get("elem_id") == elem_id:
                    return dep
        raise LookupError(f"no {trigger} handler on #{elem_id}")

    def input_types(self, dep: dict) -> list[tuple[str, str | None]]:
        """(type, elem_id) of each input of ``dep``."""
        return [(self.components[i]["type"], self.components[i].get("props", {}).get("elem_id"))
                for i in dep["inputs"]]

    def call(self, dep: dict, data: list, event_data=None, timeout: float = 120) -> dict:
        """Run ``dep`` with ``data`` in this session; the final message (``output`` holds the results)."""
        trigger = dep["targets"][0][0]
        body = {"data": data, "event_data": event_data, "fn_index": dep["id"], "trigger_id": trigger,
                "session_hash": self.session_hash}
        joined = httpx.post(f"{self.url}/gradio_api/queue/join", json=body, timeout=timeout)
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with httpx.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session_hash},
                          timeout=timeout) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    return message
        raise AssertionError(f"event {event_id} never completed")
