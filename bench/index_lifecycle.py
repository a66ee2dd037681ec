"""Index build benchmark on a synthetic corpus of 1 000 documents (generated here, deterministic).

Usage: .venv/bin/python bench/index_lifecycle.py [--documents 1000] [--workdir /tmp/bench-index]

Measures, with the real CLI and the default embedder:
  1. a full build: wall time, texts embedded per second;
  2. an incremental build after changing one document (target: ≤ 10 % of the full build);
  3. an incremental build with nothing changed;
  4. the index load time (checksums verified), best of 3.
The embedders' raw rates on ~100-token passages are measured by bench/embedders.py.
Prints one JSON object per measure and a summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

SUBJECTS = ["le PEPR IA", "le centre AISSAI", "le supercalculateur Jean Zay", "l'IDRIS", "le modèle BLOOM",
            "le cluster MIAI", "la stratégie nationale pour l'IA", "le programme Confiance.ai", "l'INS2I",
            "le cluster SequoIA", "le projet SHARP", "le projet REDEEM"]
VERBS = ["finance", "coordonne", "accueille", "évalue", "soutient", "publie", "organise", "forme"]
OBJECTS = ["des travaux sur l'apprentissage frugal", "des doctorants en mathématiques de l'IA",
           "une école d'été sur l'IA de confiance", "des campagnes de calcul sur GPU",
           "des recherches sur les modèles de langue", "des partenariats industriels",
           "un séminaire sur l'IA pour la science", "des jeux de données ouverts"]


def synthetic_document(i: int, rng: random.Random, revision: int = 0) -> str:
    subject = SUBJECTS[i % len(SUBJECTS)]
    sentences = [f"En {2018 + i % 8}, {subject} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
                 f"pour un montant de {rng.randint(1, 90)} millions d'euros (note {i}, révision {revision})."
                 for _ in range(4)]
    return f"# Note {i} : {subject}\n\n" + " ".join(sentences[:2]) + "\n\n" + " ".join(sentences[2:]) + "\n"


def write_corpus(root: Path, documents: int) -> None:
    rng = random.Random(1000)
    sources = root / "sources"
    if root.exists():
        shutil.rmtree(root)
    sources.mkdir(parents=True)
    (root / "programme").mkdir()
    for i in range(documents):
        (sources / f"note-{i:04d}.md").write_text(synthetic_document(i, rng), encoding="utf-8")


def cli(env: dict, *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"assistant {' '.join(args)} a échoué : {result.stderr.strip()}")
    return wall, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-index"))
    args = parser.parse_args()
    corpus, index_dir = args.workdir / "corpus", args.workdir / "index"
    write_corpus(corpus, args.documents)
    shutil.rmtree(index_dir, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_INDEX__DIR=str(index_dir), ASSISTANT_CORPUS__SOURCES_DIR=str(corpus / "sources"),
               ASSISTANT_CORPUS__PROGRAMME_DIR=str(corpus / "programme"), HF_HUB_OFFLINE="1")
    results = {}

    wall, full = cli(env, "index", "build", "--full", "--json")
    results["full"] = {"wall_s": round(wall, 2), **full["build"], "counts": full["counts"]}
    print(json.dumps({"full_build": results["full"]}, ensure_ascii=False))

    target = corpus / "sources" / "note-0500.md"
    target.write_text(synthetic_document(500, random.Random(7), revision=1), encoding="utf-8")
    _, plan = cli(env, "index", "build", "--dry-run", "--json")
    wall, one = cli(env, "index", "build", "--json")
    results["one_changed"] = {"wall_s": round(wall, 2), **one["build"], "dry_run": {k: plan[k] for k in (
        "changed", "to_embed", "reused")}}
    print(json.dumps({"incremental_one_changed": results["one_changed"]}, ensure_ascii=False))

    wall, none = cli(env, "index", "build", "--json")
    results["unchanged"] = {"wall_s": round(wall, 2), **none["build"]}
    print(json.dumps({"incremental_unchanged": results["unchanged"]}, ensure_ascii=False))

    from index.build import load_index

    loads = []
    for _ in range(3):
        started = time.perf_counter()
        load_index(index_dir)
        loads.append(time.perf_counter() - started)
    results["load_s"] = round(min(loads), 3)
    print(json.dumps({"load_seconds_best_of_3": results["load_s"]}))

    f, o = results["full"], results["one_changed"]
    print(f"\n{args.documents} documents, {f['counts']['chunks']} passages, {f['counts']['sentences']} phrases")
    print(f"full build            {f['wall_s']:8.1f} s  ({f['embedded']} texts embedded, {f['passages_per_second']} texts/s)")
    print(f"1 document changed    {o['wall_s']:8.1f} s  ({o['embedded']} embedded, {o['reused']} reused) "
          f"= {100 * o['wall_s'] / f['wall_s']:.1f} % of the full build")
    print(f"nothing changed       {results['unchanged']['wall_s']:8.1f} s")
    print(f"load (verified)       {results['load_s']:8.3f} s")


if __name__ == "__main__":
    main()
