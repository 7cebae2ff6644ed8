"""Flag submissions whose code does suspicious things, for the instructor to review.

Grading cannot tell a forged training record from a real one: a student can set
``model.optimizer.iterations`` to 15000 and build a ``History`` of 10 x 1500 steps. So instead
of changing a score, this module reads each code cell and returns short sentences such as
``"cell 7 sets optimizer.iterations (model.optimizer.iterations.assign(...))"``. The flags go to
the instructor; they never change a score, so a rare false positive costs a glance, not points.

It reads source only and never runs it: each code cell is parsed with ``ast`` (IPython ``%``
and ``!`` lines blanked first); a cell that still does not parse is scanned with regular
expressions instead. Nothing here raises on a strange cell.

Simple aliases are followed across the whole notebook: a name bound (by assignment, tuple unpacking or a chain of
assignments) to ``optimizer.iterations``, to an optimizer, or to a History's ``.history``/``.params`` (or an item of
them) counts as what it was bound to, so ``steps = model.optimizer.iterations; steps.assign(15000)`` and ``record,
settings = h.history, h.params; record["loss"] = ...`` are flagged like the direct forms. A use is judged by the name's
latest binding before it, in the order the grader runs the cells (``hist = pd.DataFrame(hist)`` makes ``hist`` a copy
again); a use before any binding, as in a function defined earlier, by any of its bindings. Any ``socket``, ``ctypes``
or ``subprocess`` name imported from any module (many re-export ``socket``, e.g. ``multiprocessing.reduction``) or read
as an attribute of an imported module is flagged like the module itself. Data flowing through function calls, containers
or computed names is not followed: the CPU measurement (``trusted.training_cpu``) is the backstop for forged training.

A determined student can hide from it, e.g. with ``getattr`` on computed strings or ``exec``.
Those tools are flagged themselves ("dynamic code"), but the scan raises the cost of forging;
it does not prove innocence.
"""

from __future__ import annotations

import ast
import re
from typing import Iterable, Iterator, NamedTuple

import nbformat

from ..rubric.student import is_setup_cell

MAX_FLAGS = 20

GRADER_INTERNALS = 1
RESULTS_OR_PROC = 2
LINKS_SOCKETS_PROCESSES = 3
OPTIMIZER_ITERATIONS = 4
HISTORY = 5
MONKEYPATCH = 6
DYNAMIC_CODE = 7
HAND_MADE_MODEL = 8

_KIND_PHRASES = {
    GRADER_INTERNALS: "touches grader internals",
    RESULTS_OR_PROC: "reaches for /proc or the results/export folders",
    LINKS_SOCKETS_PROCESSES: "uses links, FIFOs, devices, sockets or subprocesses",
    OPTIMIZER_ITERATIONS: "sets optimizer.iterations",
    HISTORY: "builds or edits a History",
    MONKEYPATCH: "monkeypatches Keras, TensorFlow, NumPy or builtins",
    DYNAMIC_CODE: "runs dynamic code the scan cannot read",
    HAND_MADE_MODEL: "writes model files itself or defines its own save/fit/predict",
}

_GRADER_WORDS = ("_grader_", "kernel_export")  # suspicious in any identifier or string
# The kernel's own channels to the grader's runner: a lesson never talks to them directly.
_KERNEL_CHANNELS = {"iopub_socket", "stdin_socket", "shell_stream", "shell_streams", "control_stream", "iopub_thread",
                    "_parent_ident"}
_GRADER_PATHS = ("/opt/grader", "/opt/runtime", "/opt/zygote")
_RESULT_PATHS = ("/proc/", "/opt/export", "/opt/results")
_OTTER_GRADER_METHODS = {"check", "check_all", "export"}  # the normal use of otter.Notebook()

_RISKY_MODULES = {"socket", "ctypes", "subprocess"}
_RISKY_CALLS = {"symlink", "mkfifo", "mknod", "fork", "forkpty", "setns", "unshare",
                "symlink_to", "hardlink_to", "link_to"}  # suspicious whatever they are called on
_RISKY_OS_CALLS = {"link", "system", "popen"}  # too common as names elsewhere: only as os.<name>
_SOCKET_CALLS = {"socket", "create_connection", "socketpair"}

_MODULE_ROOTS = {"keras", "tf", "tensorflow", "np", "numpy", "K"}
_PATCHED_PACKAGES = {"keras", "tensorflow", "numpy"}  # names imported from these join _MODULE_ROOTS
_MODEL_METHODS = {"fit", "evaluate", "predict", "save", "compile", "summary", "get_weights", "count_params"}
_BUILTINS = {"builtins", "__builtins__"}
_ITERATION_SETTERS = {"assign", "assign_add", "assign_sub"}
_ITERATION_NAMES = {"iterations", "_iterations"}
_HISTORY_FIELDS = {"history", "params"}
# In-place edits of a dict or list: on a History's record (or a name bound to it) they forge it.
_MUTATORS = {"update", "setdefault", "append", "extend", "insert", "pop", "popitem", "clear", "remove", "sort",
             "reverse", "__setitem__", "__delitem__", "__iadd__"}
# A model file written by hand (HDF5 weights zipped with a config) can claim any architecture; a lesson
# never needs h5py. zipfile is fine for zipping one's notes: it counts only in a notebook that also names
# a member of a Keras archive.
_MODEL_FILE_MODULES = {"h5py"}
_KERAS_ARCHIVE_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")
_FAKED_METHODS = {"fit", "evaluate", "predict", "save"}  # a class of the notebook's own that defines one


class _Hit(NamedTuple):
    kind: int
    line: int
    detail: str


# What a name can stand for (``_Names.bindings``): `steps = model.optimizer.iterations`, `opt = model.optimizer`,
# `record = h.history` (or h.params, or an item of them).
ITERATIONS, OPTIMIZER, RECORD = "iterations", "optimizer", "record"


class _Names(NamedTuple):
    """Names bound anywhere in the notebook that the per-cell scan needs to recognise."""

    modules: frozenset[str]  # keras/tensorflow/numpy and whatever was imported from them
    otter: frozenset[str]  # `otter` and its aliases
    graders: frozenset[str]  # names assigned `otter.Notebook(...)`, usually `grader`
    imported: frozenset[str] = frozenset()  # every name an import statement binds
    # name -> its bindings in run order: (position, what it was bound to: ITERATIONS, OPTIMIZER, RECORD)
    bindings: dict[str, tuple[tuple[tuple[int, int, int], frozenset[str]], ...]] = {}
    keras_archive: bool = False  # some string in the notebook names a member of a Keras archive
    sockets: frozenset[str] = frozenset()  # names bound to the socket module: flagged when used, not when imported


def integrity_flags(notebook: nbformat.NotebookNode) -> tuple[str, ...]:
    """Sentences for the instructor, one per (kind, cell), e.g. 'cell 7 sets optimizer.iterations'."""
    cells = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") == "code":
            source = _source_text(cell.get("source", ""))
            if is_setup_cell(source):
                continue  # the hand-out's own first cell, exactly as generated from this rubric (unpacks the checks)
            cells.append((number, source, _parse(source)))
    names = _collect_names((number, tree) for number, _, tree in cells if tree is not None)

    flags = []
    for number, source, tree in cells:
        hits = _scan_tree(tree, names, number) if tree is not None else _scan_text(source)
        first = {}  # kind -> earliest hit, so each (cell, kind) gives one sentence
        for hit in sorted(hits, key=lambda h: h.line):  # stable: on one line, the outermost node wins
            first.setdefault(hit.kind, hit)
        flags += [f"cell {number} {_KIND_PHRASES[kind]} ({first[kind].detail})" for kind in sorted(first)]
    if len(flags) > MAX_FLAGS:
        return (*flags[:MAX_FLAGS], f"... and {len(flags) - MAX_FLAGS} more")
    return tuple(flags)


# --- parsing -------------------------------------------------------------------------------


def _source_text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _parse(source: str) -> ast.Module | None:
    # IPython lines (`%pip install x`, `!ls`, `%%time`) are not Python. Replacing them with an
    # indented `pass` keeps line numbers and any block they sit in.
    lines = [line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in ("%", "!") else line
             for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _collect_names(trees: Iterable[tuple[int, ast.Module]]) -> _Names:
    modules, otter, graders, imported, sockets = set(_MODULE_ROOTS), {"otter"}, set(), set(), set()
    bindings: list[tuple[tuple[int, int, int], str, ast.AST]] = []  # (position, name, its value), every cell
    keras_archive = False
    for cell, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    imported.add(alias.asname or top)
                    if alias.name == "socket":
                        sockets.add(alias.asname or "socket")
                    if top in _PATCHED_PACKAGES:
                        modules.add(alias.asname or top)
                    elif alias.name == "otter" and alias.asname:
                        otter.add(alias.asname)
            elif isinstance(node, ast.ImportFrom):
                imported.update(alias.asname or alias.name for alias in node.names if alias.name != "*")
                if (node.module or "").split(".")[0] in _PATCHED_PACKAGES:
                    modules.update(alias.asname or alias.name for alias in node.names if alias.name != "*")
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                position = (cell, node.lineno, node.col_offset)
                bindings += [(position, name, value)
                             for target in targets for name, value in _pairs(target, node.value)]
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                    root, chain = _chain(node.value.func)
                    if root in otter and chain == ["Notebook"]:
                        graders.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                keras_archive = keras_archive or any(member in node.value for member in _KERAS_ARCHIVE_MEMBERS)
    while new := {name for _, name, value in bindings if isinstance(value, ast.Name) and value.id in sockets} - sockets:
        sockets.update(new)  # `t = socket`, then `u = t`
    return _Names(frozenset(modules), frozenset(otter), frozenset(graders), frozenset(imported),
                  _aliases(bindings), keras_archive, frozenset(sockets))


def _pairs(target: ast.AST, value: ast.AST) -> list[tuple[str, ast.AST]]:
    """`a, (b, c) = x, (y, z)` -> [(a, x), (b, y), (c, z)]; `a = b = x` comes here once per target."""
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts) and not any(isinstance(t, ast.Starred) for t in target.elts):
        return [pair for t, v in zip(target.elts, value.elts, strict=True) for pair in _pairs(t, v)]
    return []


def _aliases(bindings: list[tuple[tuple[int, int, int], str, ast.AST]]):
    """Each name's bindings in run order, with what each bound it to (``_Names.bindings``).

    A value stands for what its root name stands for in any of that name's bindings (repeated until
    nothing changes, so `a = b; b = h.history` works in any order), or for what its attributes say
    (`h.history`, `model.optimizer.iterations`). Calls are not followed: `pd.DataFrame(h.history)` is a copy.
    """
    kinds: dict[str, set[str]] = {}  # name -> what any of its bindings stands for
    changed = True
    while changed:
        changed = False
        for _, name, value in bindings:
            found = _stands_for(value, kinds) - kinds.get(name, set())
            if found:
                kinds.setdefault(name, set()).update(found)
                changed = True
    table: dict[str, list] = {}
    for position, name, value in sorted(bindings, key=lambda binding: binding[0]):
        table.setdefault(name, []).append((position, frozenset(_stands_for(value, kinds))))
    return {name: tuple(entries) for name, entries in table.items() if any(kind for _, kind in entries)}


def _stands_for(value: ast.AST, kinds: dict[str, set[str]]) -> set[str]:
    root, chain = _chain(value, through_calls=False)
    if root is None:
        return set()
    found = set(kinds.get(root, ()))
    if _ITERATION_NAMES & set(chain):
        found.add(ITERATIONS)
    if "optimizer" in chain:
        found.add(OPTIMIZER)
    if _HISTORY_FIELDS & set(chain):
        found.add(RECORD)
    return found


def _bound_to(names: _Names, kind: str, name: str | None, position: tuple[int, int, int]) -> bool:
    """Whether ``name``, used at ``position``, stands for ``kind``: by its latest binding before the use,
    or by any binding where none comes before it (a function defined before the names it uses)."""
    entries = names.bindings.get(name) if name else None
    if not entries:
        return False
    before = [kinds for at, kinds in entries if at < position]
    return kind in before[-1] if before else any(kind in kinds for _, kinds in entries)


def _chain(node: ast.AST, through_calls: bool = True) -> tuple[str | None, list[str]]:
    """The root name and attribute names of `a.b[0].c()` -> ('a', ['b', 'c'])."""
    attrs = []
    while True:
        if isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif _constant_getattr(node):  # getattr(a, "b") is a.b by another name
            attrs.append(node.args[1].value)
            node = node.args[0]
        elif isinstance(node, ast.Call) and through_calls:
            node = node.func
        else:
            return (node.id if isinstance(node, ast.Name) else None), attrs[::-1]


def _constant_getattr(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str))


def _last_name(node: ast.AST) -> str | None:
    """`keras.callbacks.History` -> 'History', `History` -> 'History'."""
    root, chain = _chain(node)
    return chain[-1] if chain else root


def _show(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError, AttributeError):
        text = type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- the AST scan --------------------------------------------------------------------------


def _scan_tree(tree: ast.Module, names: _Names, cell: int) -> list[_Hit]:
    hits = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        position = (cell, line, getattr(node, "col_offset", 0))
        hits += [_Hit(kind, line, detail) for kind, detail in _check_node(node, names, position)]
    return hits


def _check_node(node: ast.AST, names: _Names, position: tuple[int, int, int]) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield from _check_string(node.value)
    for identifier in _identifiers(node):
        if any(word in identifier for word in _GRADER_WORDS):
            yield GRADER_INTERNALS, identifier
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield from _check_import(node, names)
    elif isinstance(node, ast.Call):
        yield from _check_call(node, names, position)
    elif isinstance(node, ast.ClassDef):
        if _forges_history(node):
            yield HISTORY, f"class {node.name}"
        methods = sorted(item.name for item in node.body
                         if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in _FAKED_METHODS)
        if methods:
            yield HAND_MADE_MODEL, f"class {node.name} defines {', '.join(methods)}()"
    elif isinstance(node, ast.Name) and node.id in ("subprocess", "importlib"):
        yield (LINKS_SOCKETS_PROCESSES if node.id == "subprocess" else DYNAMIC_CODE), node.id
    if isinstance(node, ast.Attribute) and (node.attr in _KERNEL_CHANNELS or (
            node.attr == "kernel" and _chain(node.value)[0] == "get_ipython")):  # get_ipython().kernel, k.iopub_socket
        yield GRADER_INTERNALS, _show(node)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        yield from _check_otter_use(node, names)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names.sockets:
        yield LINKS_SOCKETS_PROCESSES, _show(node)  # socket.socket, s.fromfd, ... after `import socket [as s]`
    if isinstance(node, ast.Attribute) and node.attr in _RISKY_MODULES \
            and _chain(node.value, through_calls=False)[0] in names.imported:  # multiprocessing.reduction.socket
        yield LINKS_SOCKETS_PROCESSES, _show(node)
    if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield from _check_store(node, names, position)


def _forges_history(node: ast.ClassDef) -> bool:
    """A class that is a History, or stands in for one: a subclass of History, a class of its own named
    like one, or one that sets `history`/`params` in its body. A Callback that keeps its own list
    (the Keras documentation's `LossHistory(Callback)`) is none of these."""
    bases = set(map(_last_name, node.bases))
    if "History" in bases:
        return True
    if "History" in node.name and not any(base and base.endswith("Callback") for base in bases):
        return True
    stored = {target.id for item in node.body if isinstance(item, (ast.Assign, ast.AnnAssign))
              for target in (item.targets if isinstance(item, ast.Assign) else [item.target])
              if isinstance(target, ast.Name)}
    return bool(_HISTORY_FIELDS & stored)


def _identifiers(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg
    elif isinstance(node, ast.alias):
        yield from filter(None, (node.name, node.asname))


def _check_string(text: str) -> Iterator[tuple[int, str]]:
    shown = repr(text if len(text) <= 40 else text[:37] + "...")
    if "autograder" in text or any(word in text for word in (*_GRADER_WORDS, *_GRADER_PATHS)):
        yield GRADER_INTERNALS, shown
    if text.startswith("/proc") or any(path in text for path in _RESULT_PATHS):
        yield RESULTS_OR_PROC, shown


def _check_import(node: ast.Import | ast.ImportFrom, names: _Names) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
        shown = "import " + ", ".join(modules)
    else:
        modules = [node.module or ""]
        shown = f"from {node.module or '.'} import " + ", ".join(alias.name for alias in node.names)
    for module in modules:
        top = module.split(".")[0]
        # `import otter` is the normal setup; anything deeper into otter is not.
        if top == "autograder" or (top == "otter" and (module != "otter" or isinstance(node, ast.ImportFrom))):
            yield GRADER_INTERNALS, shown
        if top in _RISKY_MODULES and (module != "socket" or isinstance(node, ast.ImportFrom)):
            yield LINKS_SOCKETS_PROCESSES, shown  # `import socket` counts when it is used (_check_node)
        if top in _BUILTINS:
            yield MONKEYPATCH, shown
        if top == "importlib":
            yield DYNAMIC_CODE, shown
        if top in _MODEL_FILE_MODULES or (top == "zipfile" and names.keras_archive):
            yield HAND_MADE_MODEL, shown
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        if any(alias.name in _RISKY_CALLS | _RISKY_OS_CALLS for alias in node.names):
            yield LINKS_SOCKETS_PROCESSES, shown
    if isinstance(node, ast.ImportFrom) and any(alias.name in _RISKY_MODULES for alias in node.names):
        yield LINKS_SOCKETS_PROCESSES, shown  # `from multiprocessing.reduction import socket`: a re-export


def _check_call(node: ast.Call, names: _Names, position: tuple[int, int, int]) -> Iterator[tuple[int, str]]:
    root, chain = _chain(node.func)
    name = _last_name(node.func)
    shown = _show(node.func) + "(...)"
    args = node.args

    if isinstance(node.func, ast.Name) and name in ("exec", "eval", "__import__"):
        yield DYNAMIC_CODE, shown
    if isinstance(node.func, ast.Name) and name in ("getattr", "setattr", "delattr") and len(args) >= 2:
        attribute = args[1]
        if not (isinstance(attribute, ast.Constant) and isinstance(attribute.value, str)):
            yield DYNAMIC_CODE, shown
        elif name != "getattr":
            # setattr(obj, "fit", f) is obj.fit = f by another name.
            stored = ast.Attribute(value=args[0], attr=attribute.value, ctx=ast.Store())
            yield from _check_store(stored, names, position)

    if name in _RISKY_CALLS or (root == "os" and len(chain) == 1 and name in _RISKY_OS_CALLS):
        yield LINKS_SOCKETS_PROCESSES, shown
    if root == "socket" and chain and chain[-1] in _SOCKET_CALLS:
        yield LINKS_SOCKETS_PROCESSES, shown

    if name in _ITERATION_SETTERS and _is_iterations(root, chain[:-1], names, position):
        yield OPTIMIZER_ITERATIONS, shown
    if name == "set_value" and args and _is_iterations(*_chain(args[0]), names, position):  # K.set_value(it, n)
        yield OPTIMIZER_ITERATIONS, shown

    if name == "History":
        yield HISTORY, shown
    if _HISTORY_FIELDS <= {keyword.arg for keyword in node.keywords}:  # SimpleNamespace(history=..., params=...)
        yield HISTORY, shown
    if name in _MUTATORS and (_HISTORY_FIELDS & set(chain[:-1]) or _bound_to(names, RECORD, root, position)):
        yield HISTORY, shown  # history.history["loss"].append(...), record.update(...) where record = h.history


def _is_iterations(root: str | None, chain: list[str], names: _Names, position: tuple[int, int, int]) -> bool:
    """`model.optimizer.iterations`, `steps` bound to it, or an optimizer's variables (iterations is one)."""
    return bool(_ITERATION_NAMES & set(chain)) or _bound_to(names, ITERATIONS, root, position) or (
        "variables" in chain and ("optimizer" in chain or _bound_to(names, OPTIMIZER, root, position)))


def _check_otter_use(node: ast.Attribute, names: _Names) -> Iterator[tuple[int, str]]:
    """`otter.Notebook(...)` and `grader.check/check_all/export(...)` are normal; the rest is not."""
    stored = isinstance(node.ctx, (ast.Store, ast.Del))
    owner = node.value.id
    if owner in names.otter and (node.attr != "Notebook" or stored):
        yield GRADER_INTERNALS, _show(node)
    elif owner in names.graders and (node.attr not in _OTTER_GRADER_METHODS or stored):
        yield GRADER_INTERNALS, _show(node)


def _check_store(target: ast.Attribute | ast.Subscript, names: _Names,
                 position: tuple[int, int, int]) -> Iterator[tuple[int, str]]:
    """An assignment, augmented assignment, `del` or setattr to an attribute or an item."""
    shown = _show(target) + " = ..."
    root, chain = _chain(target)
    if _is_iterations(root, chain, names, position):
        yield OPTIMIZER_ITERATIONS, shown
    # h.history["loss"] = [...], record["loss"] = [...]
    if _HISTORY_FIELDS & set(chain) or _bound_to(names, RECORD, root, position):
        yield HISTORY, shown
    # Monkeypatching is about module attributes, so the root is followed through `.` and `[]` only:
    # `np.zeros(3).shape = ...` reshapes a fresh array and patches nothing.
    root, _ = _chain(target, through_calls=False)
    method = isinstance(target, ast.Attribute) and target.attr in _MODEL_METHODS
    if method or root in names.modules or root in _BUILTINS:
        yield MONKEYPATCH, shown


# --- the fallback for cells that do not parse ----------------------------------------------

_STORE = r"\s*(?:[-+*/|&]|\*\*|//)?=(?!=)"  # `=` or an augmented `+=`, but not `==`
_PATTERNS = [
    (GRADER_INTERNALS, r"_grader_|kernel_export|autograder|/opt/(?:grader|runtime|zygote)"),
    (GRADER_INTERNALS, r"\bfrom\s+otter\b|\bimport\s+otter\.|\botter\.(?!Notebook\b)\w+"),
    (GRADER_INTERNALS, r"\bgrader\.(?!(?:check_all|check|export)\b)\w+"),
    (RESULTS_OR_PROC, r"""["']/proc|/proc/|/opt/(?:export|results)"""),
    (LINKS_SOCKETS_PROCESSES,
     r"\b(?:symlink|mkfifo|mknod|fork|forkpty|setns|unshare|symlink_to|hardlink_to|link_to)\s*\("),
    (LINKS_SOCKETS_PROCESSES,
     r"\bos\.(?:link|system|popen)\s*\(|\bsocket\.(?:socket|create_connection|socketpair)\s*\("),
    (LINKS_SOCKETS_PROCESSES, r"\bsubprocess\b|^\s*(?:import|from)\s+(?:socket|ctypes)\b"),
    (OPTIMIZER_ITERATIONS, r"\.iterations" + _STORE + r"|\.iterations\b[\w.]*\.assign(?:_add|_sub)?\s*\("),
    (HISTORY, r"\bHistory\s*\(|\bclass\s+\w*History|\.(?:history|params)\b(?:\[[^\]\n]*\])*" + _STORE),
    (MONKEYPATCH, r"\b(?:keras|tf|tensorflow|np|numpy|K|builtins)(?:\.\w+)+" + _STORE),
    (MONKEYPATCH, r"\.(?:fit|evaluate|predict|save|compile|summary|get_weights|count_params)" + _STORE),
    (MONKEYPATCH, r"^\s*(?:import|from)\s+builtins\b|\bsetattr\s*\("),
    (DYNAMIC_CODE, r"\b(?:exec|eval|__import__)\s*\(|\bimportlib\b|\bgetattr\s*\([^,()]+,\s*(?![\s'\"])"),
]
_COMPILED = [(kind, re.compile(pattern, re.MULTILINE)) for kind, pattern in _PATTERNS]


def _scan_text(source: str) -> list[_Hit]:
    """Without a syntax tree, comments and strings match too; the detail is the whole line."""
    lines = source.splitlines()
    hits = []
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            text = " ".join(lines[line - 1].split()) if line <= len(lines) else match.group()
            hits.append(_Hit(kind, line, text if len(text) <= 60 else text[:57] + "..."))
    return hits
