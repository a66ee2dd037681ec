"""Load run of the OpenAI-compatible API: N concurrent streamed requests through the ``openai`` SDK.

Starts ``assistant serve --api-only`` (default settings: 2 answers at once, 16 waiting) on a free port, sends
``--clients`` streamed chat completions at once (dev questions, in turn), and reports for the accepted ones the
time to the first content chunk and to the end, p50 / p95, and how many got 429 or another error. Run twice: with
the SDK's retries off (what the server bounds), then with ``--retries`` (clients that honour ``Retry-After``).

    python bench/api_load.py [--clients 50] [--retries 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def one(client, question: str) -> dict:
    import openai

    started = time.perf_counter()
    first = None
    try:
        stream = await client.chat.completions.create(model="cnrs-ia-extractive", stream=True,
                                                      messages=[{"role": "user", "content": question}])
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        return {"outcome": "ok", "first_ms": 1000 * (first or 0.0), "total_ms": 1000 * (time.perf_counter() - started)}
    except openai.RateLimitError:
        return {"outcome": "429"}
    except Exception as exc:  # noqa: BLE001 - counted and named, the run goes on
        return {"outcome": f"error: {type(exc).__name__}: {exc}"[:200]}


async def run(base: str, questions: list[str], clients: int, retries: int) -> dict:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base, api_key="bench", max_retries=retries, timeout=300)
    started = time.perf_counter()
    try:
        results = await asyncio.gather(*(one(client, questions[n % len(questions)]) for n in range(clients)))
    finally:
        await client.close()
    wall = time.perf_counter() - started
    ok = [r for r in results if r["outcome"] == "ok"]
    first, total = [r["first_ms"] for r in ok], [r["total_ms"] for r in ok]
    return {"clients": clients, "retries": retries, "ok": len(ok),
            "429": sum(r["outcome"] == "429" for r in results),
            "errors": [r["outcome"] for r in results if r["outcome"] not in ("ok", "429")],
            "first_chunk_ms": {"p50": percentile(first, 0.5), "p95": percentile(first, 0.95)},
            "total_ms": {"p50": percentile(total, 0.5), "p95": percentile(total, 0.95),
                         "mean": round(statistics.mean(total), 1) if total else None},
            "wall_s": round(wall, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--retries", type=int, default=6, help="SDK retries of the second run (honouring Retry-After)")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev_qa.jsonl").open(encoding="utf-8")
                 if not json.loads(line).get("history")]
    server = subprocess.Popen([str(Path(sys.executable).with_name("assistant")), "serve", "--api-only",
                               "--port", str(port)], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("le serveur n'a pas démarré", file=sys.stderr)
                return 1
            time.sleep(0.5)
        asyncio.run(run(base, questions[:4], 4, 0))  # warm-up
        reports = [asyncio.run(run(base, questions, args.clients, 0)),
                   asyncio.run(run(base, questions, args.clients, args.retries))]
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(reports, ensure_ascii=False, indent=1))
    return 0 if not any(r["errors"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
