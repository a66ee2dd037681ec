"""Load on the web chat: N concurrent conversations over loopback, each a question then a follow-up.

Usage: .venv/bin/python bench/ui_load.py [--conversations 25] [--hostile 5] [--timeout 300]

Starts the real Gradio app on a free loopback port with the current index, then opens N gradio_client
sessions at once. For each request it records the time to the first piece of the answer (the first
streamed update carrying answer text) and the time to the complete answer. Prints p50/p95 and errors.

With ``--hostile N``, the same load runs twice in one process: alone, then beside N hostile clients that loop
until the ordinary conversations end — a chat history of 100 KB messages with a 2 000-character question, the
longest questions allowed, and floods of forged 1 MB votes sent to Gradio's queue by hand — and the two p95
are compared.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTIONS = [("Quel est le budget du PEPR IA ?", "Et qui le co-pilote ?"),
             ("Qu'est-ce que le centre AISSAI ?", "Qui le dirige ?"),
             ("Où est installé le supercalculateur Jean Zay ?", "Combien de GPU H100 compte-t-il ?"),
             ("Qui porte le projet SHARP ?", "Et le projet REDEEM ?"),
             ("Quels sont les clusters IA retenus en 2024 ?", "Lequel est porté par l'Université Grenoble Alpes ?")]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


def run_load(url: str, conversations: int, timeout: float) -> dict:
    from gradio_client import Client

    from ui.messages import message_text

    first, total, errors = [], [], []
    lock = threading.Lock()
    barrier = threading.Barrier(conversations)

    def conversation(i: int) -> None:
        try:
            client = Client(url, verbose=False)
            barrier.wait(timeout=120)
            history: list = []
            for question in QUESTIONS[i % len(QUESTIONS)]:
                started = time.perf_counter()
                seen_first = None
                final = None
                for update in client.submit(question, history, "extractive", 5, "fr", api_name="/chat"):
                    history = update[0]
                    text = message_text(history[-1]) if history else ""
                    if seen_first is None and text and text != "…":
                        seen_first = time.perf_counter() - started
                    final = text
                elapsed = time.perf_counter() - started
                with lock:
                    first.append(1000 * (seen_first if seen_first is not None else elapsed))
                    total.append(1000 * elapsed)
                    if not final or "⚠️" in final:
                        errors.append(f"conversation {i}: {final!r:.120}")
        except Exception as exc:  # counted, never raised: the figure is the error count
            with lock:
                errors.append(f"conversation {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=conversation, args=(i,), daemon=True) for i in range(conversations)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, timeout - (time.perf_counter() - started)))
    unfinished = sum(t.is_alive() for t in threads)
    return {"conversations": conversations, "requests": len(total), "errors": len(errors) + unfinished,
            "unfinished": unfinished, "error_samples": errors[:5],
            "first_piece_ms": {"p50": percentile(first, 50), "p95": percentile(first, 95)},
            "complete_ms": {"p50": percentile(total, 50), "p95": percentile(total, 95)},
            "wall_s": round(time.perf_counter() - started, 2)}


def hostile_clients(url: str, count: int, stop: threading.Event) -> dict:
    """Start ``count`` hostile loops (history, long questions, forged votes in turn); returns their counters."""
    from gradio_client import Client

    from tests.ui.raw_queue import RawQueue

    counters = {"history": 0, "long_question": 0, "vote_flood": 0, "refused": 0}
    lock = threading.Lock()
    huge = [{"role": "user", "content": [{"type": "text", "text": "Qu'est-ce que le PEPR IA ? " * 600}]},
            {"role": "assistant", "content": [{"type": "text", "text": "…"}]}] * 3  # 100 KB in all, under limits.request_bytes
    question = ("Quel est le budget du PEPR IA " * 80)[:1999] + "?"

    def loop(kind: str) -> None:
        client = Client(url, verbose=False) if kind != "vote_flood" else None
        queue = RawQueue(url) if kind == "vote_flood" else None
        while not stop.is_set():
            try:
                if kind == "history":
                    client.predict(question, huge, "extractive", 5, "fr", api_name="/chat")
                elif kind == "long_question":
                    client.predict(question, [], "extractive", 5, "fr", api_name="/chat")
                else:
                    dep = queue.dependency("like", "chatbot")
                    data = ["x" * 1_000_000 for _ in dep["inputs"]]
                    queue.call(dep, data, event_data={"index": 1, "value": "x" * 1_000_000, "liked": True})
                with lock:
                    counters[kind] += 1
            except Exception:  # the server refused it (413, validation): what a hostile request should get
                with lock:
                    counters["refused"] += 1

    kinds = ["history", "long_question", "vote_flood"]
    for i in range(count):
        threading.Thread(target=loop, args=(kinds[i % len(kinds)],), daemon=True).start()
    return counters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--hostile", type=int, default=0, help="hostile clients beside a second run")
    args = parser.parse_args()
    from assistant.app import build
    from assistant.settings import Settings
    from ui.app import launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings()
    feedback = Path(tempfile.mkdtemp()) / "feedback.jsonl"  # forged votes must not touch the real file
    settings = settings.model_copy(update={"ui": settings.ui.model_copy(update={"feedback_path": feedback})})
    demo = launch(build(settings), port=port, block=False)
    url = f"http://127.0.0.1:{port}/"
    try:
        alone = run_load(url, args.conversations, args.timeout)
        if not args.hostile:
            print(json.dumps(alone, ensure_ascii=False))
            return
        stop = threading.Event()
        counters = hostile_clients(url, args.hostile, stop)
        time.sleep(2)  # the hostile loops are running before the ordinary conversations start
        beside = run_load(url, args.conversations, args.timeout)
        stop.set()
        ratio = (beside["complete_ms"]["p95"] / alone["complete_ms"]["p95"]) if alone["complete_ms"]["p95"] else None
        print(json.dumps({"alone": alone, "beside_hostile": beside, "hostile": {"clients": args.hostile, **counters},
                          "feedback_bytes": feedback.stat().st_size if feedback.exists() else 0,
                          "p95_ratio": round(ratio, 2) if ratio else None}, ensure_ascii=False))
    finally:
        demo.close()


if __name__ == "__main__":
    main()
