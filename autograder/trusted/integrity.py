"""Flag submissions whose code does suspicious things, for the instructor to review.

Grading cannot tell a forged training record from a real one: a student can set
``model.optimizer.iterations`` to 15000 and build a ``History`` of 10 x 1500 steps. So instead
of changing a score, this module reads each code cell and returns short sentences such as
``"cell 7 sets optimizer.iterations (model.optimizer.iterations.assign(...))"``. The flags go to
the instructor; they never change a score, so a rare false positive costs a glance, not points.

It reads source only and never runs it: each code cell is parsed with ``ast`` (IPython ``%``
and ``!`` lines blanked first); a cell that still does not parse is scanned with regular
expressions instead. Nothing here raises on a strange cell.

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
_HISTORY_FIELDS = {"history", "params"}
# A model file written by hand (zip + HDF5) can claim any architecture; a lesson never needs these.
_MODEL_FILE_MODULES = {"zipfile", "h5py"}
_FAKED_METHODS = {"fit", "evaluate", "predict", "save"}  # a class of the notebook's own that defines one


class _Hit(NamedTuple):
    kind: int
    line: int
    detail: str


class _Names(NamedTuple):
    """Names bound anywhere in the notebook that the per-cell scan needs to recognise."""

    modules: frozenset[str]  # keras/tensorflow/numpy and whatever was imported from them
    otter: frozenset[str]  # `otter` and its aliases
    graders: frozenset[str]  # names assigned `otter.Notebook(...)`, usually `grader`


def integrity_flags(notebook: nbformat.NotebookNode) -> tuple[str, ...]:
    """Sentences for the instructor, one per (kind, cell), e.g. 'cell 7 sets optimizer.iterations'."""
    cells = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") == "code":
            source = _source_text(cell.get("source", ""))
            if is_setup_cell(source):
                continue  # the hand-out's own first cell, exactly as generated from this rubric (unpacks the checks)
            cells.append((number, source, _parse(source)))
    names = _collect_names(tree for _, _, tree in cells if tree is not None)

    flags = []
    for number, source, tree in cells:
        hits = _scan_tree(tree, names) if tree is not None else _scan_text(source)
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


def _collect_names(trees: Iterable[ast.Module]) -> _Names:
    modules, otter, graders = set(_MODULE_ROOTS), {"otter"}, set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    if top in _PATCHED_PACKAGES:
                        modules.add(alias.asname or top)
                    elif alias.name == "otter" and alias.asname:
                        otter.add(alias.asname)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _PATCHED_PACKAGES:
                modules.update(alias.asname or alias.name for alias in node.names if alias.name != "*")
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                root, chain = _chain(node.value.func)
                if root in otter and chain == ["Notebook"]:
                    graders.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return _Names(frozenset(modules), frozenset(otter), frozenset(graders))


def _chain(node: ast.AST, through_calls: bool = True) -> tuple[str | None, list[str]]:
    """The root name and attribute names of `a.b[0].c()` -> ('a', ['b', 'c'])."""
    attrs = []
    while True:
        if isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and through_calls:
            node = node.func
        else:
            return (node.id if isinstance(node, ast.Name) else None), attrs[::-1]


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


def _scan_tree(tree: ast.Module, names: _Names) -> list[_Hit]:
    hits = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        hits += [_Hit(kind, line, detail) for kind, detail in _check_node(node, names)]
    return hits


def _check_node(node: ast.AST, names: _Names) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield from _check_string(node.value)
    for identifier in _identifiers(node):
        if any(word in identifier for word in _GRADER_WORDS):
            yield GRADER_INTERNALS, identifier
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield from _check_import(node)
    elif isinstance(node, ast.Call):
        yield from _check_call(node, names)
    elif isinstance(node, ast.ClassDef):
        if "History" in node.name or "History" in map(_last_name, node.bases):
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
    if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield from _check_store(node, names)


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


def _check_import(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[int, str]]:
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
        if top in _RISKY_MODULES:
            yield LINKS_SOCKETS_PROCESSES, shown
        if top in _BUILTINS:
            yield MONKEYPATCH, shown
        if top == "importlib":
            yield DYNAMIC_CODE, shown
        if top in _MODEL_FILE_MODULES:
            yield HAND_MADE_MODEL, shown
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        if any(alias.name in _RISKY_CALLS | _RISKY_OS_CALLS for alias in node.names):
            yield LINKS_SOCKETS_PROCESSES, shown


def _check_call(node: ast.Call, names: _Names) -> Iterator[tuple[int, str]]:
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
            yield from _check_store(ast.Attribute(value=args[0], attr=attribute.value, ctx=ast.Store()), names)

    if name in _RISKY_CALLS or (root == "os" and len(chain) == 1 and name in _RISKY_OS_CALLS):
        yield LINKS_SOCKETS_PROCESSES, shown
    if root == "socket" and chain and chain[-1] in _SOCKET_CALLS:
        yield LINKS_SOCKETS_PROCESSES, shown

    if name in _ITERATION_SETTERS and "iterations" in chain[:-1]:
        yield OPTIMIZER_ITERATIONS, shown
    if name == "set_value" and args and "iterations" in _chain(args[0])[1]:  # K.set_value(opt.iterations, n)
        yield OPTIMIZER_ITERATIONS, shown

    if name == "History":
        yield HISTORY, shown
    if _HISTORY_FIELDS <= {keyword.arg for keyword in node.keywords}:  # SimpleNamespace(history=..., params=...)
        yield HISTORY, shown
    if name in ("update", "setdefault") and chain[-2:-1] and chain[-2] in _HISTORY_FIELDS:
        yield HISTORY, shown


def _check_otter_use(node: ast.Attribute, names: _Names) -> Iterator[tuple[int, str]]:
    """`otter.Notebook(...)` and `grader.check/check_all/export(...)` are normal; the rest is not."""
    stored = isinstance(node.ctx, (ast.Store, ast.Del))
    owner = node.value.id
    if owner in names.otter and (node.attr != "Notebook" or stored):
        yield GRADER_INTERNALS, _show(node)
    elif owner in names.graders and (node.attr not in _OTTER_GRADER_METHODS or stored):
        yield GRADER_INTERNALS, _show(node)


def _check_store(target: ast.Attribute | ast.Subscript, names: _Names) -> Iterator[tuple[int, str]]:
    """An assignment, augmented assignment, `del` or setattr to an attribute or an item."""
    shown = _show(target) + " = ..."
    _, chain = _chain(target)
    if "iterations" in chain:
        yield OPTIMIZER_ITERATIONS, shown
    if _HISTORY_FIELDS & set(chain):  # h.history = {...}, h.history["loss"] = [...], h.params = {...}
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
    (LINKS_SOCKETS_PROCESSES, r"\b(?:symlink|mkfifo|mknod|fork|forkpty|setns|unshare|symlink_to|hardlink_to|link_to)\s*\("),
    (LINKS_SOCKETS_PROCESSES, r"\bos\.(?:link|system|popen)\s*\(|\bsocket\.(?:socket|create_connection|socketpair)\s*\("),
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
