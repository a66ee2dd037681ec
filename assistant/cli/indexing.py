"""``assistant index build`` and ``assistant index status``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from assistant.cli import index_app
from assistant.cli.console import fail, load_settings, plain, stderr


@index_app.command("build")
def index_build(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Dire ce qui serait ajouté, modifié, retiré, sans rien écrire.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Tout revectoriser, même ce que l'index actuel contient déjà.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Bilan (ou plan, avec --dry-run) en JSON sur stdout.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirmer une construction qui vectorise plus de "
                                                         "limits.build_texts textes.")] = False,
):
    """Construire l'index à partir du corpus ; seuls les passages nouveaux ou modifiés sont vectorisés.

    Exemples : assistant index build --dry-run ; assistant index build ; assistant index build --full
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from assistant.indexing import build_index_from_settings, plan_index_build

    settings = load_settings()
    if dry_run:
        plan, problems = plan_index_build(settings, full=full)
        if json_out:
            print(json.dumps({**plan.as_dict(), "problems": [str(p) for p in problems]}, ensure_ascii=False))
            return
        print(f"Construction {'complète' if plan.full else 'incrémentale'} : {plan.reason}")
        for label, ids in (("ajouté(s)", plan.added), ("modifié(s)", plan.changed), ("retiré(s)", plan.removed)):
            print(f"  {len(ids)} document(s) {label}" + (f" : {', '.join(ids[:20])}{' …' if len(ids) > 20 else ''}"
                                                       if ids else ""))
        print(f"  {plan.unchanged} document(s) inchangé(s)\n  textes à vectoriser : {plan.to_embed}, "
              f"vecteurs réutilisés : {plan.reused}")
        if plan.to_embed > settings.limits.build_texts:
            print(f"  au-delà de limits.build_texts ({settings.limits.build_texts}) : la construction demandera --yes")
        for problem in problems:
            print(f"  problème : {problem}")
        print("(rien n'a été écrit)")
        return
    started = time.perf_counter()
    if not stderr().is_terminal:  # a log or a CI job: a plain line every ten seconds instead of a bar
        manifest, problems = build_index_from_settings(settings, _progress_lines(), full=full, confirmed=yes)
    else:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=stderr(),
                      transient=True) as bar:
            tasks = {}

            def progress(stage, done, total):
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total, rate="")
                elapsed = bar.tasks[tasks[stage]].elapsed or 0
                rate = f"{done / elapsed:.1f} textes/s" if stage == "vectorisation" and elapsed > 0.5 else ""
                bar.update(tasks[stage], completed=done, total=total, rate=rate)

            manifest, problems = build_index_from_settings(settings, progress, full=full, confirmed=yes)
    for problem in problems:
        stderr().print(f"[yellow]problème[/] {plain(problem)}", highlight=False)
    c, b = manifest.counts, manifest.build
    if json_out:
        print(json.dumps({"version": manifest.version, "seconds": round(time.perf_counter() - started, 2),
                          "counts": c, "build": b, "store": manifest.store, "problems": [str(p) for p in problems]},
                         ensure_ascii=False))
        return
    rate = f", {b['passages_per_second']} textes/s" if b.get("passages_per_second") else ""
    stderr().print(
        f"Index {manifest.version} construit en {manifest.build_seconds:.1f} s "
        f"({'complet' if b['full'] else 'incrémental'} : {b['reason']}) : {c['documents']} document(s), "
        f"{c['records']} fiche(s), {c['chunks']} passages, {c['sentences']} phrases ; "
        f"{b['embedded']} texte(s) vectorisé(s){rate}, {b['reused']} réutilisé(s) "
        f"({manifest.embedder['id']}) → {settings.index.dir} ; stockage : {_describe_store(manifest.store)}",
        highlight=False, markup=False,  # a folder, a reason or a Milvus URI may hold « [ »
    )


def _progress_lines(every: float = 10.0):
    """A progress callback that prints « vectorisation : 1200/5000 (48.3 textes/s) » at most every ``every`` s."""
    state = {"last": 0.0, "started": {}}

    def progress(stage, done, total):
        now = time.monotonic()
        started = state["started"].setdefault(stage, now)
        if now - state["last"] >= every or (done == total and now - started >= every):
            state["last"] = now
            rate = f" ({done / (now - started):.1f} textes/s)" if stage == "vectorisation" and now > started else ""
            print(f"{stage} : {done}/{total}{rate}", file=sys.stderr, flush=True)

    return progress


@index_app.command("status")
def index_status(
    json_out: Annotated[bool, typer.Option("--json", help="Sortie JSON sur stdout.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Code de sortie 1 si l'index est inutilisable avec ces réglages ou si le corpus a changé.")] = False,
):
    """Afficher la version active de l'index, ses comptes, et si le corpus a changé depuis.

    Exemple : assistant index status --json
    """
    from assistant.indexing import index_status as read_status
    from assistant.app import settings_embedder, store_config
    from index.build import load_index, milvus_problem, read_manifest

    settings = load_settings()
    status = read_status(settings)
    # the checksums cover the version folder, not what Milvus holds: the engine is asked (a deleted or damaged Lite
    # file, a missing collection); a Lite file that another process holds is in service there, so not a problem
    store_problem, store_checked = milvus_problem(read_manifest(Path(status["path"])), store_config(settings))
    if store_checked:
        status["store_checked"], status["store_problem"] = store_checked, store_problem
    if check and not status["damaged_files"] and not store_problem:  # refuses another embedder, analyser or store
        load_index(settings.index.dir, settings_embedder(settings).identity, store=store_config(settings))
    if json_out:
        print(json.dumps(status, ensure_ascii=False))
    else:
        _print_status(status)
        if store_checked:
            print(f"Milvus    : {store_checked}")
    if status["damaged_files"]:  # whatever the options: an index that does not load is not « fine »
        fail(f"index altéré : {', '.join(status['damaged_files'])} absent(s) ou modifié(s) depuis la construction "
             "— reconstruisez-le : assistant index build")
    if store_problem:
        fail(store_problem)
    if check and status["corpus_changed"]:
        raise typer.Exit(1)


def _print_status(status: dict) -> None:
    from assistant.indexing import describe_changes

    changes, manifest_counts = status["changes"], status["counts"]
    changed = describe_changes(changes)
    print(f"Version   : {status['version']} ({status['built_at']})\nDossier   : {status['path']}\n"
          f"Embedder  : {status['embedder']['id']} ({status['embedder']['dimension']} dim.)\n"
          f"Stockage  : {_describe_store(status['store'])}\n"
          f"Contenu   : " + ", ".join(f"{k} {v}" for k, v in manifest_counts.items()) + "\n"
          "Corpus    : " + (f"modifié depuis ({changed}) — assistant index build" if changed else "inchangé"))


def _describe_store(store: dict) -> str:
    if store.get("engine") != "milvus":
        return "FAISS + BM25 (fichiers de l'index)"
    return f"Milvus {store.get('uri')}, collection {store.get('collection')} ({store.get('index_type')})"
