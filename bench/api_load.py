"""Load run of the OpenAI-compatible API: N concurrent streamed requests through the ``openai`` SDK, and clients
that go away while waiting.

Starts ``assistant serve --api-only`` (default settings: 2 answers at once, 16 waiting) on a free port and
reports, for the accepted requests, the time to the first byte (the response's headers), to the first content
chunk and to the end, p50 / p95, and how many got 429 or another error: first for 20 streamed requests one after
another, then for ``--clients`` streamed chat completions sent at once (dev questions, in turn), twice: with the
SDK's retries off (what the server bounds), then with ``--retries`` (clients that honour ``Retry-After``).

Then the « gone clients » runs, for the extractive then the generative model (the local model, seconds per
answer): ``--gone`` streamed requests sent on raw sockets and closed 50 ms later (a page closed, a client that
timed out), then one ordinary client that honours ``Retry-After``: how many 429 it gets and when its first answer
comes. A server that drops the work of gone clients answers it at once.

    python bench/api_load.py [--clients 50] [--retries 6] [--gone 30]
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
        # with stream=True the SDK returns as soon as the response's headers are in: the first byte
        stream = await client.chat.completions.create(model="cnrs-ia-extractive", stream=True,
                                                      messages=[{"role": "user", "content": question}])
        headers = time.perf_counter() - started
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        return {"outcome": "ok", "ttfb_ms": 1000 * headers, "first_ms": 1000 * (first or 0.0),
                "total_ms": 1000 * (time.perf_counter() - started)}
    except openai.RateLimitError:
        return {"outcome": "429"}
    except Exception as exc:  # noqa: BLE001 - counted and named, the run goes on
        return {"outcome": f"error: {type(exc).__name__}: {exc}"[:200]}


def p50_p95(values: list[float]) -> dict:
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95)}


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
    total = [r["total_ms"] for r in ok]
    return {"clients": clients, "retries": retries, "ok": len(ok),
            "429": sum(r["outcome"] == "429" for r in results),
            "errors": [r["outcome"] for r in results if r["outcome"] not in ("ok", "429")],
            "ttfb_ms": p50_p95([r["ttfb_ms"] for r in ok]),
            "first_chunk_ms": p50_p95([r["first_ms"] for r in ok]),
            "total_ms": {**p50_p95(total), "mean": round(statistics.mean(total), 1) if total else None},
            "wall_s": round(wall, 2)}


async def one_at_a_time(base: str, questions: list[str], count: int) -> dict:
    """``count`` streamed requests one after another: time to first byte against the answer's own time."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base, api_key="bench", max_retries=0, timeout=300)
    try:
        results = [await one(client, questions[n % len(questions)]) for n in range(count)]
    finally:
        await client.close()
    ok = [r for r in results if r["outcome"] == "ok"]
    return {"one_at_a_time": count, "ok": len(ok), "ttfb_ms": p50_p95([r["ttfb_ms"] for r in ok]),
            "first_chunk_ms": p50_p95([r["first_ms"] for r in ok]), "total_ms": p50_p95([r["total_ms"] for r in ok])}


async def gone_then_one(base: str, questions: list[str], gone: int, model: str, retry_cap: int = 20) -> dict:
    """``gone`` streamed requests to ``model`` closed 50 ms after sending, then one ordinary client (extractive)
    honouring Retry-After."""
    import httpx

    host, port = base.split("//", 1)[1].split("/", 1)[0].split(":")

    async def leave(question: str) -> None:
        body = json.dumps({"model": model, "stream": True,
                           "messages": [{"role": "user", "content": question}]}).encode()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: "
                     b"application/json\r\nAuthorization: Bearer bench\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    await asyncio.gather(*(leave(questions[n % len(questions)]) for n in range(gone)))
    started = time.perf_counter()
    refused = 0
    async with httpx.AsyncClient(timeout=300) as client:
        for _ in range(retry_cap):
            response = await client.post(f"{base}/chat/completions", headers={"Authorization": "Bearer bench"},
                                         json={"model": "cnrs-ia-extractive",
                                               "messages": [{"role": "user", "content": questions[0]}]})
            if response.status_code != 429:
                break
            refused += 1
            await asyncio.sleep(float(response.headers.get("retry-after", "2")))
    return {"gone": gone, "gone_model": model, "then_429": refused, "then_status": response.status_code,
            "first_answer_s": round(time.perf_counter() - started, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--retries", type=int, default=6, help="SDK retries of the second run (honouring Retry-After)")
    parser.add_argument("--gone", type=int, default=30, help="clients that close their stream 50 ms after sending")
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
        reports = [asyncio.run(one_at_a_time(base, questions, 20)),
                   asyncio.run(run(base, questions, args.clients, 0)),
                   asyncio.run(run(base, questions, args.clients, args.retries))]
        httpx.post(f"{base}/chat/completions", timeout=300, json={  # loads the local model before the gone runs
            "model": "cnrs-ia-generative", "messages": [{"role": "user", "content": questions[0]}]})
        for model in ("cnrs-ia-extractive", "cnrs-ia-generative"):
            time.sleep(1)
            reports.append(asyncio.run(gone_then_one(base, questions, args.gone, model)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(reports, ensure_ascii=False, indent=1))
    return 0 if not any(r.get("errors") for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
