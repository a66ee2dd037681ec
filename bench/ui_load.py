"""Load on the web chat: N concurrent conversations over loopback, each a question then a follow-up.

Usage: .venv/bin/python bench/ui_load.py [--conversations 25] [--timeout 300]

Starts the real Gradio app on a free loopback port with the current index, then opens N gradio_client
sessions at once. For each request it records the time to the first piece of the answer (the first
streamed update carrying answer text) and the time to the complete answer. Prints p50/p95 and errors.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
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

    from ui.app import message_text

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    from assistant.app import build
    from assistant.settings import Settings
    from ui.app import launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(build(Settings()), port=port, block=False)
    try:
        print(json.dumps(run_load(f"http://127.0.0.1:{port}/", args.conversations, args.timeout), ensure_ascii=False))
    finally:
        demo.close()


if __name__ == "__main__":
    main()
