"""One prose for JupyterLab and the book: ``{eval}`` in the notebooks, ``{glue}`` in the built book.

A chapter's prose names every number it quotes; the number itself is glued by the code
(:meth:`reprobook.results.RunRecord.glue`). The two readers of a notebook understand different markup:

* JupyterLab with ``jupyterlab-myst`` renders MyST (labels, roles, citations, figures) and evaluates
  inline expressions ``{eval}`name``` in the live kernel, where ``rec.glue`` bound ``name`` to the
  glued value (formatted as the book formats it);
* the book (Jupyter Book 1.x, MyST-NB, executed by papermill beforehand) cannot evaluate: it reads the
  values glued into the executed notebook with ``{glue:text}`name``` and ``{glue:figure}``.

The notebooks therefore carry the JupyterLab form and ``reprobook build`` stages the book with
:func:`to_book` applied to every markdown cell:

=============================================  ================================================
in the notebook (JupyterLab)                   in the built book (MyST-NB)
=============================================  ================================================
``{eval}`name```                               ``{glue:text}`name```
``{eval}`format(name, ".1%")```                ``{glue:text}`name:.1%```
a ``{figure}`` directive without an image      ``{glue:figure} name`` with the same options
whose body opens with ``{eval}`name```         and caption
=============================================  ================================================

:func:`to_lab` is the reverse, the mechanical conversion of prose written for the book
(``reprobook sync`` applies it). Any other ``{eval}`` expression cannot be shown by the book and
stops the build with the cell it is in.

:func:`sync` also keeps every notebook reviewable as text: a jupytext percent script beside it
(``notebooks/<part>/<paper>.py``), paired in the notebook's metadata so that JupyterLab's jupytext
extension keeps the two in step on every save, and checked by the test suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEXT_FORMAT = "py:percent"
PAIRING = f"ipynb,{TEXT_FORMAT}"
NAME = r"[A-Za-z_][A-Za-z0-9_]*"

# a glued value in the book's prose: {glue:text}`name`, {glue:text}`name:fmt`, {glue}`name`, {glue:}`name`
_BOOK_ROLE = re.compile(r"\{glue(?::text|:)?\}`(?P<name>" + NAME + r")(?::(?P<fmt>[^`]+))?`")
_LAB_ROLE = re.compile(r"\{eval\}`(?P<expr>[^`]*)`")
_FORMAT_CALL = re.compile(r"""^format\(\s*(?P<name>""" + NAME + r""")\s*,\s*(?P<q>["'])(?P<fmt>[^"']*)(?P=q)\s*\)$""")
_FENCE = re.compile(r"^(?P<indent>\s{0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_OPTION = re.compile(r"^\s*:[\w-]+:")


class ProseError(ValueError):
    """Prose the book cannot show (an ``{eval}`` expression that is not a glued name)."""


# ----------------------------------------------------------------------------------------------
# Roles
# ----------------------------------------------------------------------------------------------


def _role_to_lab(match: re.Match) -> str:
    name, fmt = match.group("name"), match.group("fmt")
    if fmt:
        quote = "'" if '"' in fmt else '"'
        return f"{{eval}}`format({name}, {quote}{fmt}{quote})`"
    return f"{{eval}}`{name}`"


def _role_to_book(match: re.Match) -> str:
    expr = match.group("expr").strip()
    if re.fullmatch(NAME, expr):
        return f"{{glue:text}}`{expr}`"
    call = _FORMAT_CALL.match(expr)
    if call:
        return f"{{glue:text}}`{call.group('name')}:{call.group('fmt')}`"
    raise ProseError(
        f"{{eval}}`{expr}`: the book shows only glued values; write {{eval}}`name` (or "
        '{eval}`format(name, ".1%")`) with the value glued by rec.glue("name", value, fmt=...)'
    )


# ----------------------------------------------------------------------------------------------
# Blocks: fenced code is left alone, directives are converted (their bodies are prose)
# ----------------------------------------------------------------------------------------------


@dataclass
class _Block:
    opening: str  # the fence line
    fence: str
    indent: str
    info: str
    lines: list[str] = field(default_factory=list)
    closing: str | None = None


def _split(text: str) -> list[Any]:
    """Markdown as a list of plain lines (str) and fenced blocks (:class:`_Block`, nested ones kept inside)."""
    lines = text.split("\n")
    out: list[Any] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence, char = m.group("fence"), m.group("fence")[0]
        block = _Block(lines[i], fence, m.group("indent"), m.group("info").strip())
        j = i + 1
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if (
                close
                and close.group("fence")[0] == char
                and len(close.group("fence")) >= len(fence)
                and not close.group("info").strip()
            ):
                block.closing = lines[j]
                break
            block.lines.append(lines[j])
            j += 1
        out.append(block)
        i = j + 1
    return out


def _directive(block: _Block) -> tuple[str, str] | None:
    """``(name, argument)`` of a MyST directive block (```{name} argument), or None for code."""
    m = re.match(r"^\{(?P<name>[\w:.-]+)\}\s*(?P<arg>.*)$", block.info)
    return (m.group("name"), m.group("arg").strip()) if m else None


def _options_and_body(lines: list[str]) -> tuple[list[str], list[str]]:
    options, k = [], 0
    while k < len(lines) and _OPTION.match(lines[k]):
        options.append(lines[k])
        k += 1
    return options, lines[k:]


def _join(parts: list[Any], line, block) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(line(part))
        else:
            out.extend(block(part))
    return "\n".join(out)


def _block_lines(block: _Block, opening: str, lines: list[str]) -> list[str]:
    return [opening, *lines] + ([block.closing] if block.closing is not None else [])


def _strip_blank_head(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    return lines


def to_lab(text: str) -> str:
    """Prose written for the book (``{glue:text}``, ``{glue:figure}``) in the form JupyterLab and the book
    both read. Idempotent; fenced code is left alone."""

    def block(b: _Block) -> list[str]:
        directive = _directive(b)
        if directive is None:
            return _block_lines(b, b.opening, b.lines)
        name, arg = directive
        inner = to_lab("\n".join(b.lines)).split("\n") if b.lines else []
        if name == "glue:figure" and re.fullmatch(NAME, arg):
            options, body = _options_and_body(inner)
            body = _strip_blank_head(body)
            return _block_lines(
                b, f"{b.indent}{b.fence}{{figure}}", options + ["", f"{{eval}}`{arg}`"] + ([""] + body if body else [])
            )
        return _block_lines(b, b.opening, inner)

    if "{glue" not in text:
        return text
    return _join(_split(text), lambda line: _BOOK_ROLE.sub(_role_to_lab, line), block)


def to_book(text: str) -> str:
    """JupyterLab's prose as MyST-NB reads it (see the module docstring); raise :class:`ProseError` for an
    ``{eval}`` expression the book cannot show."""

    def lines_to_book(lines: list[str]) -> list[str]:
        return to_book("\n".join(lines)).split("\n") if lines else []

    def block(b: _Block) -> list[str]:
        directive = _directive(b)
        if directive is None:
            return _block_lines(b, b.opening, b.lines)
        name, arg = directive
        if name == "figure" and not arg:
            options, body = _options_and_body(b.lines)
            body = _strip_blank_head(body)
            first = re.fullmatch(r"\s*\{eval\}`(?P<name>" + NAME + r")`\s*", body[0]) if body else None
            if first:
                caption = lines_to_book(_strip_blank_head(body[1:]))
                return _block_lines(
                    b,
                    f"{b.indent}{b.fence}{{glue:figure}} {first.group('name')}",
                    options + ([""] + caption if caption else []),
                )
        return _block_lines(b, b.opening, lines_to_book(b.lines))

    if "{eval}" not in text:
        return text
    return _join(_split(text), lambda line: _LAB_ROLE.sub(_role_to_book, line), block)


def markdown_cells(nb) -> Iterable[Any]:
    return (c for c in nb.cells if c.cell_type == "markdown")


def notebook_to_book(path: Path) -> None:
    """Rewrite the prose of notebook ``path`` (a staged copy of the book) for MyST-NB, in place."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(markdown_cells(nb)):
        try:
            cell.source = to_book(cell.source)
        except ProseError as exc:
            raise ProseError(f"{path.name}, markdown cell {index + 1}: {exc}") from None
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------------------------
# The notebooks' sources: clean, in JupyterLab's form, with a text copy beside each
# ----------------------------------------------------------------------------------------------

# cell metadata a run in JupyterLab or papermill leaves behind
RUN_METADATA = ("user_expressions", "execution", "papermill", "scrolled", "collapsed", "ExecuteTime")
# the pairing of a source with its text copy; JupyterLab's jupytext extension keeps the copy free of the
# run metadata (the values jupyterlab-myst evaluated) when it saves a notebook after a run
JUPYTEXT = {"formats": PAIRING, "cell_metadata_filter": ",".join(f"-{key}" for key in RUN_METADATA)}


def text_path(notebook: Path) -> Path:
    """The jupytext copy of ``notebook``: the percent script beside it."""
    return Path(notebook).with_suffix(".py")


def clean(nb) -> Any:
    """``nb`` as the sources keep it: no outputs, no run metadata, prose in JupyterLab's form, paired with
    its text copy."""
    for cell in nb.cells:
        for key in RUN_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = to_lab(cell.source)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["jupytext"] = dict(JUPYTEXT)
    return nb


def _differences(nb) -> list[str]:
    """What :func:`clean` changes in ``nb``, in words."""
    found = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    if any(c.get("outputs") or c.get("execution_count") is not None for c in code):
        found.append("outputs")
    if any(key in c.metadata for c in nb.cells for key in RUN_METADATA) or "papermill" in nb.metadata:
        found.append("run metadata")
    if dict(nb.metadata.get("jupytext", {})) != JUPYTEXT:
        found.append("not paired with its text copy")
    if any(to_lab(c.source) != c.source for c in markdown_cells(nb)):
        found.append("prose written with {glue:text} / {glue:figure} (the {eval} form is the source's)")
    return found


def text_copy(nb) -> str:
    """The percent-script text of ``nb`` (what :func:`text_path` holds)."""
    import jupytext

    return jupytext.writes(nb, fmt=TEXT_FORMAT)


def sync(notebooks: Iterable[Path], *, check: bool = False) -> list[str]:
    """Clean every notebook (see :func:`clean`) and write its text copy; return what changed.

    With ``check``, nothing is written: the list says what :func:`sync` would change (empty: in sync).
    """
    import nbformat

    changes: list[str] = []
    for path in notebooks:
        path = Path(path)
        original = nbformat.read(path, as_version=4)
        nb = clean(nbformat.from_dict(original))
        if nbformat.writes(nb) != nbformat.writes(original):
            changes.append(f"{path}: {', '.join(_differences(original)) or 'the format of its file'}")
            if not check:
                nbformat.write(nb, path)
        script = text_path(path)
        text = text_copy(nb)
        if not script.exists() or script.read_text(encoding="utf-8") != text:
            changes.append(f"{script}: {'missing' if not script.exists() else 'differs from'} the notebook's text")
            if not check:
                script.write_text(text, encoding="utf-8")
    return changes


# ----------------------------------------------------------------------------------------------
# JupyterLab
# ----------------------------------------------------------------------------------------------


# JupyterLab settings the project's environment overrides: no "fetch Jupyter news?" prompt on a reader's first
# start (JupyterLab asks by default, then fetches from a website) and no check for newer JupyterLab versions
# (the environment is pinned); a reader can still change both in Settings
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def overrides_path(prefix: Path | None = None) -> Path:
    """JupyterLab's settings overrides of the environment at ``prefix`` (default: this interpreter's)."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def install_settings(prefix: Path | None = None) -> Path:
    """Merge :data:`LAB_SETTINGS` into the environment's ``overrides.json`` (other plugins' overrides and
    other settings of the same plugins are kept); ``make lab`` does it before it starts JupyterLab."""
    path = overrides_path(prefix)
    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    merged = {**current, **{plugin: {**current.get(plugin, {}), **values} for plugin, values in LAB_SETTINGS.items()}}
    if merged != current:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    return path


def lab_command(
    root: Path, *, port: int | None = None, token: str | None = None, browser: bool = True, extra: Iterable[str] = ()
) -> list[str]:
    """The ``jupyter lab`` command of ``make lab``: the notebooks folder, the project's kernel, MyST.

    jupyterlab-myst 2.7 declares ``@jupyter/ydoc`` ^3 while JupyterLab 4.6 ships ^4, so ``jupyter
    labextension list`` calls it incompatible; it loads and renders (labels, roles, citations, figures,
    inline expressions), which the test suite checks in a browser.
    """
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [
        str(jupyter) if jupyter.exists() else (shutil.which("jupyter") or "jupyter"),
        "lab",
        f"--ServerApp.root_dir={Path(root) / 'notebooks'}",
    ]
    if port is not None:
        command.append(f"--ServerApp.port={int(port)}")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if not browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # a container's root (CI): Jupyter refuses it unless told
        command.append("--allow-root")
    return command + list(extra)
