"""Widgets of an application form, shared by 我要办 (pages/apply.py) and window intake: the generated fields
drawn by field type, the place picker, the materials uploader with locker reuse, the receipt download, and
refusals shown as messages beside what they are about.

Widgets are keyed so that a button's callback can read the answers from st.session_state, call the service,
and leave the problems for the run that draws them next to their fields:
  <prefix>-f-<field_key>       a form field
  <prefix>-r-<depth>-<parent>  the place: district, town, village (each keyed by the place above)
  <prefix>-g<n>-m-<seq>        the upload for material <seq> (a new <n> clears every uploader)
  <prefix>-l-<seq>             a locker entry chosen for material <seq>
Nothing user-typed is rendered as Markdown: messages carrying file names and the like go through `plain`.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from app import applications, files, timeutil
from app.applications import Material, MaterialAnswer
from app.db import Database, StaleVersionError, WriteConflictError
from app.forms import FormField
from app.ui.session import tr as tx
from app.ui.widgets import MISSING
from app.permissions import Actor

log = logging.getLogger(__name__)

# " *" stays a literal asterisk in a Markdown label (nothing closes it), and screen readers read it as such.
REQUIRED_MARK = " *"
CITY_CODE = "4207"
PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2100, 12, 31)
# The marks that make Markdown of plain text: emphasis, code, links and images, autolinks and HTML, headings,
# tables, strike-through, LaTeX, emoji and colour directives (":red[…]"). Backslash-escaped, they print as typed.
_MARKDOWN_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>#!|~$:{}"})

Problem = tuple[str, dict[str, Any]]


# -- messages ---------------------------------------------------------------------------------------------
def plain(text: str) -> str:
    """Text safe to hand to a Markdown-rendering element (st.error, st.caption …): the marks of Markdown
    escaped, so a file name like "[x](http://…)" shows as typed instead of becoming a link."""
    return str(text).translate(_MARKDOWN_SPECIAL)


def message(key: str, params: dict[str, Any] | None = None) -> str:
    """A refusal's i18n key and params as text; workflow params (state, action, role) shown as words."""
    params = dict(params or {})
    for name, prefix in (("state", "state"), ("action", "action"), ("role", "role")):
        if isinstance(params.get(name), str):
            params[name] = tx(f"{prefix}.{params[name]}")
    try:
        return tx(key, **params)
    except (KeyError, IndexError):  # a message whose params the refusal did not bring
        return tx(key)


def explain(exc: BaseException) -> str:
    """What to tell the user about a refused request (every service refusal carries an i18n key; anything
    else is a bug and is raised again)."""
    if isinstance(exc, StaleVersionError):
        return tx("case.stale")
    if isinstance(exc, WriteConflictError):
        return tx("case.conflict")
    key = getattr(exc, "key", None)
    if key:
        return message(key, getattr(exc, "params", None))
    raise exc


def show_problem(problem: Problem | None) -> None:
    if problem:
        st.error(plain(message(*problem)))


# -- generated form fields ------------------------------------------------------------------------------
def field_widget_key(prefix: str, field: FormField) -> str:
    return f"{prefix}-f-{field.field_key}"


def widget_value(field: FormField, value: Any) -> Any:
    """A stored answer (form_data, prefill) as the value its widget holds."""
    t = field.field_type
    if t == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        if field.rule.get("integer"):  # an integer widget holds ints only
            return int(number) if number.is_integer() else None
        return number
    if t == "date":
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value)) if value else None
        except ValueError:
            return None
    if t == "select":
        return value if value in field.choices else None
    if t == "multiselect":
        values = value if isinstance(value, (list, tuple)) else ([value] if value else [])
        return [v for v in values if v in field.choices]
    if t == "checkbox":
        return value is True
    return "" if value is None else str(value)


# Values the server gives widgets (seed_widgets) until a run has drawn them. Streamlit sends a value set in the
# session to the browser only in the run that set it; if that run is stopped for a rerun (the user typed
# elsewhere meanwhile) before it drew the widget, the next run draws the widget with the value but without
# sending it, a browser that already showed the widget keeps what it showed and reports that back, and the
# value is lost (tests/test_browser_seeded_widgets.py shows it in Chromium). A widget the browser had not drawn
# yet is the other case, below (_SEEDED).
_TO_SEND = "_widget_values_to_send"
_NOTHING = object()   # "no value in the session" (None is a value a widget can hold)
# The value each key was last seeded with, which its widget is also given as its default (`seeded`): a browser
# that draws the widget afresh without the seeded value — the run that sent it was stopped for a rerun and its
# messages never left the server — shows the default, which is then the same value. Traced in Chromium on a
# loaded machine: the run after 新建事项 drew 办理层级 with ["市"] and was cut short by the next keystroke; the
# following run drew it without the value, the browser showed it empty and sent [] back.
_SEEDED = "_widget_seeded_values"


def seed_widgets(values: dict[str, Any], *, reset: bool = False) -> None:
    """Give widgets (by key) their starting values. Without `reset` only the keys missing from the session
    are set: a value the user is editing is kept, and a widget whose value Streamlit dropped (it forgets one
    after a completed run that did not draw it — another page, or a run that stopped short) starts again from
    its value here. Called before the widgets are drawn (in a callback, or in the run before them); the
    drawing is wrapped in `sending_seeded` so that the values reach the browser."""
    to_send = st.session_state.setdefault(_TO_SEND, {})
    seeded_values = st.session_state.setdefault(_SEEDED, {})
    for key, value in values.items():
        if reset or key not in st.session_state:
            before = st.session_state[key] if key in st.session_state else _NOTHING
            st.session_state[key] = value
            to_send[key] = (value, before)
            seeded_values[key] = value


def seeded(key: str, fallback: Any = None) -> Any:
    """The value `key` was last seeded with (`fallback` if never): its widget's default (see _SEEDED)."""
    return (st.session_state.get(_SEEDED) or {}).get(key, fallback)


def seeded_among(key: str, options: Iterable[Any]) -> list[Any] | None:
    """A multiselect's default: its seeded values that are among `options` (none: no default)."""
    allowed = set(options)
    return [v for v in seeded(key) or [] if v in allowed] or None


def seeded_index(key: str, options: Sequence[Any]) -> int | None:
    """A selectbox's default position: its seeded value's among `options`, none if it is not one of them."""
    return _position(seeded(key), options)


def _position(value: Any, options: Sequence[Any]) -> int | None:
    return list(options).index(value) if value in options else None


@contextlib.contextmanager
def sending_seeded(keys: Callable[[str], bool]) -> Iterator[Callable[[str], None]]:
    """Around the drawing of the widgets whose keys `keys` accepts: a value seeded since a run last drew them
    is set again before they are drawn, so that this run sends it to the browser. Only where the browser may
    not have it: the session still holds the seeded value and it is not empty (an empty one is what a widget
    the browser draws afresh shows anyway), or it holds what the browser had before the seed (a browser that
    never got the seed reports that back). A value the user has changed stays. Once they are drawn nothing is
    sent again: setting a value overwrites what a user is typing into that field when the run arrives (seen:
    a name typed while such a run was on its way was lost). A run stopped before the end of the block keeps
    them to send; so that a widget drawn before the stop is not sent again, the block gives a `drawn(key)`
    to call right after each widget (a widget call that returned has been sent)."""
    to_send = st.session_state.get(_TO_SEND) or {}
    mine = [k for k in to_send if keys(k)]
    for key in mine:
        value, before = to_send[key]
        now = st.session_state[key] if key in st.session_state else _NOTHING
        if (now is _NOTHING or (_same(now, value) and not _empty(value))
                or (before is not _NOTHING and not _same(now, value) and _same(now, before))):
            st.session_state[key] = value
        elif not _same(now, value):   # the user's own answer since: it stays, and nothing is left to send
            to_send.pop(key, None)
    yield lambda key: to_send.pop(key, None)
    for key in mine:
        to_send.pop(key, None)


def _empty(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, (str, list, tuple)) and not value)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values a widget holds compare plainly; anything else counts as changed
        return False


def init_fields(fields: Iterable[FormField], prefix: str, initial: dict[str, Any], *,
                reset: bool = False) -> list[str]:
    """Give each field widget its starting value (the draft's answers or the prefill). Without `reset`, a
    value the user is editing is kept; with it, the form starts over from `initial`. Returns the keys."""
    values = {field_widget_key(prefix, field): widget_value(field, initial.get(field.field_key)) for field in fields}
    seed_widgets(values, reset=reset)
    return list(values)


def render_field(field: FormField, prefix: str, problem: Problem | None = None, disabled: bool = False) -> None:
    """One field drawn by its type; required fields are marked, the rule's problem shown beneath it."""
    key = field_widget_key(prefix, field)
    label = field.label + (REQUIRED_MARK if field.required else "")
    help_ = field.help or None
    t = field.field_type
    # each widget's default is its seeded value (`seeded`): what a browser drawing it afresh must show
    if t == "textarea":
        st.text_area(label, seeded(key, ""), key=key, help=help_, disabled=disabled,
                     max_chars=field.rule.get("max_length"))
    elif t == "number":
        integer = bool(field.rule.get("integer"))
        st.number_input(label, value=seeded(key), key=key, help=help_, disabled=disabled, step=1 if integer else 1.0,
                        format="%d" if integer else "%.2f", placeholder=tx("form_widget.number_placeholder"))
    elif t == "date":
        st.date_input(label, value=seeded(key), key=key, help=help_, disabled=disabled, min_value=DATE_MIN,
                      max_value=DATE_MAX, format="YYYY-MM-DD")
    elif t == "select":
        st.selectbox(label, field.choices, index=seeded_index(key, field.choices), key=key, help=help_,
                     disabled=disabled, placeholder=tx("form_widget.choose"))
    elif t == "multiselect":
        st.multiselect(label, field.choices, seeded_among(key, field.choices), key=key, help=help_, disabled=disabled,
                       placeholder=tx("form_widget.choose"))
    elif t == "checkbox":
        st.checkbox(label, seeded(key, False), key=key, help=help_, disabled=disabled)
    else:  # text and the checked identifiers (phone, email, id_number, credit_code)
        placeholder = tx(f"form_widget.hint.{t}") if t != "text" else None
        st.text_input(label, seeded(key, ""), key=key, help=help_, disabled=disabled, placeholder=placeholder,
                      max_chars=field.rule.get("max_length"))
    show_problem(problem)


def render_form(fields: Iterable[FormField], prefix: str, problems: dict[str, Problem] | None = None,
                disabled: bool = False) -> None:
    fields = list(fields)
    keys = {field_widget_key(prefix, f) for f in fields}
    st.caption(tx("form_widget.required_note"))
    with sending_seeded(keys.__contains__) as drawn:
        for field in fields:
            render_field(field, prefix, (problems or {}).get(field.field_key), disabled)
            drawn(field_widget_key(prefix, field))


def collect_values(fields: Iterable[FormField], prefix: str) -> dict[str, Any]:
    """The answers as the services take them (form field key -> value)."""
    return {f.field_key: st.session_state.get(field_widget_key(prefix, f)) for f in fields}


# -- the place (纵贯乡村: district → town/street → village/community) -------------------------------------
def regions(db: Database) -> list[dict[str, Any]]:
    """The region tree below the city (the service's reader)."""
    return applications.city_regions(db)


def _level_key(prefix: str, depth: int, parent: str) -> str:
    # The parent is part of the key: another district offers other towns, so a fresh widget.
    return f"{prefix}-r-{depth}-{parent}"


def chosen_region(prefix: str) -> str | None:
    """The deepest place chosen in the picker (None until a district is chosen)."""
    code, parent = None, CITY_CODE
    for depth in range(3):
        value = st.session_state.get(_level_key(prefix, depth, parent))
        if not value:
            break
        code = parent = value
    return code


def pick_region(db: Database, prefix: str, default_code: str | None = None) -> str | None:
    """District, then town or street, then village or community (the last two optional); returns the
    deepest place chosen. `default_code` (the applicant's own place) preselects the chain once."""
    tree = regions(db)
    names = {r["code"]: r["name"] for r in tree}
    children: dict[str | None, list[str]] = {}
    for r in tree:
        children.setdefault(r["parent_code"], []).append(r["code"])
    chain = [default_code[:n] for n in (6, 9, 12)] if default_code in names else []
    parent: str | None = CITY_CODE
    cols = st.columns(3)
    for depth, label_key in enumerate(("region.district", "region.town", "region.village")):
        options = children.get(parent, []) if parent else []
        if not options:
            break
        key = _level_key(prefix, depth, parent)
        if key not in st.session_state:
            wanted = chain[depth] if depth < len(chain) else None
            st.session_state[key] = wanted if wanted in options else None
        optional = depth > 0
        with cols[depth]:
            parent = st.selectbox(tx(label_key) + ("" if optional else REQUIRED_MARK), options,
                                  _position(st.session_state.get(key), options), key=key,   # default: see _SEEDED
                                  format_func=names.get,
                                  placeholder=tx("region.any") if optional else tx("form_widget.choose"))
    return chosen_region(prefix)


def clear_widgets(prefix: str, *, keep: Iterable[str] = ()) -> None:
    """Forget every widget value under a prefix (a new form instance starts blank), but those in `keep` (the
    keys just seeded: seed them first, so that what the browser held before is known — see sending_seeded)."""
    kept = set(keep)
    for key in [k for k in st.session_state if str(k).startswith(prefix) and k not in kept]:
        del st.session_state[key]
    for name in (_TO_SEND, _SEEDED):
        held = st.session_state.get(name) or {}
        for key in [k for k in held if k.startswith(prefix) and k not in kept]:
            del held[key]


def region_name(db: Database, code: str) -> str:
    names = {r["code"]: r["name"] for r in regions(db)}
    parts = [names[code[:n]] for n in (6, 9, 12) if len(code) >= n and code[:n] in names]
    return " / ".join(parts) or code


# -- materials ------------------------------------------------------------------------------------------
def upload_widget_key(prefix: str, seq: int) -> str:
    return f"{prefix}-g{st.session_state.get(f'upload-generation:{prefix}', 0)}-m-{seq}"


def locker_widget_key(prefix: str, seq: int) -> str:
    return f"{prefix}-l-{seq}"


def reset_uploads(prefix: str, materials: Iterable[Material] = ()) -> None:
    """Start every uploader empty again (a new widget generation) and clear the locker choices: after a
    successful save the files are attached, and a second save must not attach them again."""
    st.session_state[f"upload-generation:{prefix}"] = st.session_state.get(f"upload-generation:{prefix}", 0) + 1
    for m in materials:
        st.session_state[locker_widget_key(prefix, m.seq)] = None


def read_upload(uploaded: Any) -> files.Upload:
    """An uploaded file as the service takes it (tests may replace this)."""
    return files.Upload(file_name=uploaded.name, data=uploaded.getvalue())


def material_answers(materials: Iterable[Material], prefix: str) -> dict[int, MaterialAnswer]:
    """For each material: the file uploaded now, else the locker entry chosen, else nothing."""
    answers: dict[int, MaterialAnswer] = {}
    for m in materials:
        uploaded = st.session_state.get(upload_widget_key(prefix, m.seq))
        chosen = st.session_state.get(locker_widget_key(prefix, m.seq))
        if uploaded is not None:
            answers[m.seq] = read_upload(uploaded)
        elif chosen is not None:
            answers[m.seq] = int(chosen)
    return answers


def reusable_entries(material: Material, locker: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Locker entries that may stand in for a material: unexpired uploaded materials of an accepted type,
    and certificates of the item the material names (reuse_item_code)."""
    formats = {f.lower() for f in material.formats} | ({"jpeg"} if "jpg" in material.formats else set())
    out = []
    for e in locker:
        if e.get("expires_on") is not None and e["expires_on"] < today:
            continue
        if e["kind"] == "certificate":
            if material.reuse_item_code and e.get("item_code") == material.reuse_item_code:
                out.append(e)
        elif e.get("file_id") is not None and files.extension_of(e.get("file_name") or "") in formats:
            out.append(e)
    return out


def locker_label(entry: dict[str, Any]) -> str:
    if entry["kind"] == "certificate":
        return tx("materials.locker_certificate", name=entry["name"], no=entry.get("certificate_no") or MISSING)
    return tx("materials.locker_material", name=entry["name"], file=entry.get("file_name") or MISSING)


def material_caption(m: Material) -> str:
    parts = [tx("materials.required") if m.required else tx("materials.optional")]
    if m.original_or_copy:
        parts.append(m.original_or_copy)
    parts.append(tx("materials.formats", formats="、".join(f.upper() for f in m.formats)))
    if m.reuse_certificate:
        parts.append(tx("materials.reuse", name=m.reuse_certificate))
    if m.note:
        parts.append(m.note)
    return " · ".join(parts)


def render_materials(materials: Iterable[Material], prefix: str, *, provided: dict[int, dict[str, Any]] | None = None,
                     locker: list[dict[str, Any]] | None = None, problems: dict[str, Problem] | None = None,
                     today: date | None = None, disabled: bool = False) -> None:
    """One block per material: what is asked (必交/选交, 原件/复印件, types), what is already attached, an
    uploader accepting the material's types, and a choice of reusable locker entries."""
    provided, locker, problems = provided or {}, locker or [], problems or {}
    today = today or timeutil.today()
    max_mb = files.MAX_BYTES // (1024 * 1024)
    for m in materials:
        with st.container(border=True):
            st.markdown(f"**{m.seq}. {plain(m.name)}**" + (REQUIRED_MARK if m.required else ""))
            st.caption(plain(material_caption(m)))
            given = provided.get(m.seq)
            if given:
                st.text(tx("materials.attached", name=given.get("file_name") or given.get("locker_name") or MISSING))
            st.file_uploader(tx("materials.upload", mb=max_mb), type=m.formats, key=upload_widget_key(prefix, m.seq),
                             max_upload_size=max_mb, disabled=disabled)
            entries = reusable_entries(m, locker, today)
            if entries:
                labels = {e["locker_id"]: locker_label(e) for e in entries}
                key = locker_widget_key(prefix, m.seq)
                if st.session_state.get(key) not in labels:
                    st.session_state[key] = None
                st.selectbox(tx("materials.from_locker"), list(labels), key=key, format_func=labels.get,
                             placeholder=tx("materials.no_reuse"), disabled=disabled)
            show_problem(problems.get(f"material_{m.seq}"))


# -- documents (app.documents is written alongside; offered only when it is there) ------------------------
def _document_maker(name: str) -> Callable[..., bytes] | None:
    try:
        from app import documents
    except ImportError:
        return None
    return getattr(documents, name, None)


def document_download(db: Database, actor: Actor, case: dict[str, Any], *, kind: str, key: str) -> bool:
    """A download button for the case's receipt (kind "receipt") or result ("result"), built only when
    clicked; False when app.documents offers no such document."""
    make = _document_maker(f"{kind}_pdf")
    if make is None:
        return False
    from app.config import load_settings

    base_url = load_settings().public_base_url
    case_id = case["case_id"]

    def build() -> bytes:
        return make(db, actor, case_id, base_url)

    st.download_button(tx(f"docs.{kind}"), build, f"{tx(f'docs.{kind}_file')}-{case['case_no']}.pdf",
                       "application/pdf", key=key, on_click="ignore")
    return True


# -- links between the applicant's screens ----------------------------------------------------------------
def page_link(page_file: str, label: str, query_params: dict[str, str] | None = None) -> None:
    """A link to another screen of the navigation (e.g. my_cases.py?case=…). A page run on its own, without
    the router's navigation (as in page tests), has no pages to link to and draws nothing."""
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        st.page_link(PAGES_DIR / page_file, label=label, query_params=query_params)
    except StreamlitPageNotFoundError:
        log.debug("no navigation to link %s from", page_file)
