"""植入 (domain.md §10): bring an old system's records onto the platform — its cases, their events, the
materials' metadata (file names and hashes, not the files), ratings and complaints — checked, in batches, with
a report in which every row read ends in exactly one place: imported, or rejected with a reason.

How an import runs (`run_import`):

1. The source system's configuration (`data/import/<system>.toml`) says which export file holds what, which old
   column is which of our fields, what the old states mean in app/workflow.py, the rating words and channels; its
   reviewed mapping table (`data/import/<system>_mapping.csv`: kind, old_name, code, reviewed_by) names the
   catalogue code of every old item, department, region or material name that does not match the catalogue
   exactly. A mapping row nobody has reviewed is not used.
2. The files are read (app/legacy_read.py: CSV in UTF-8 or GBK/GB18030, XLSX); every field of every row is
   checked on its own (keys, times, numbers, known states).
3. Each case is checked with everything that belongs to it, and its record is rebuilt as app/cases.perform would
   have written it: every old step becomes the workflow transition between the states it maps to
   (wf.check_transition decides whether that move is legal, with the role that makes it), the clock fields
   follow each move (cases.clock_fields, art. 32's deemed acceptance and the late or repeated supplement
   notice as app/rules.py judges them), ratings and complaints enter the record in time order, and the events
   are chained with app/record.event_hash. A case arrives whole or not at all: one faulty row that belongs to
   it keeps the whole case out, and the report says which row and why.
4. Cases are written in batches (`batch_cases`, default 500), each batch one transaction with its events,
   stops, materials, ratings, follow-ups and complaints; ids and case numbers come from the sequences the app
   uses. Cases are keyed by (source_system, legacy_no): a case imported before is reported as such and never
   written twice, and the check is made again inside each batch's transaction (under an advisory lock on
   PostgreSQL) so two runs at once cannot both write it.

What is not recreated: the old system's staff have no accounts here (events carry the role and the unit, the
old handler's name in the payload), the applicants have none either (applicant_user_id stays empty; the
look-up by case number and ID tail works), and no documents are issued — the old system issued its own.
A bad review arrives with its follow-up opened, as the services open it (app/alarms.open_followup).

The report (what the page shows and the command writes) is app/legacy_report.py; the configuration's format is
described in data/import/README.md.
"""
from __future__ import annotations

import fnmatch
import os
import sys
import time
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import alarms, audit, calendar_store, cases, clock, inquiries, record, rules, timeutil
from app import schema as s
from app import workflow as wf
from app.config import DATA_DIR
from app.applications import complaint_days
from app.db import Database, bulk_insert
from app.i18n import t
from app.legacy_read import DEFAULT_TIME_FORMATS, BadTime, Sheet, UnreadableFile, parse_time, read_sheet
from app.validators import mask_id, normalize_id, validate_credit_code, validate_resident_id

CONFIG_DIR = DATA_DIR / "import"
CRASH_ENV = "EZZ_IMPORT_CRASH_AFTER_CASES"   # tests only: die inside the batch that writes the n-th case
KINDS = ("cases", "events", "materials", "ratings", "complaints")
# Our fields per file kind: True = required.
FIELDS: dict[str, dict[str, bool]] = {
    "cases": {"legacy_no": True, "item": True, "department": False, "applicant_name": True, "applicant_id": True,
              "region": False, "channel": False, "submitted_at": True, "state": True, "accepted_at": False,
              "decided_at": False, "completed_at": False, "result_no": False},
    "events": {"legacy_no": True, "state": True, "occurred_at": True, "handler": False, "comment": False},
    "materials": {"legacy_no": True, "material": True, "file_name": True, "sha256": True, "size_bytes": False,
                  "provided_at": False, "round": False},
    "ratings": {"legacy_no": True, "level": True, "rated_at": True, "comment": False},
    "complaints": {"legacy_no": True, "content": True, "created_at": True, "answered_at": False, "answer": False},
}
TIME_FIELDS = frozenset({"submitted_at", "accepted_at", "decided_at", "completed_at", "occurred_at", "provided_at",
                         "rated_at", "created_at", "answered_at"})
MAPPING_KINDS = ("item", "department", "region", "material")
# An old state may stand for any state a case can be in, but a draft (never seen by an old export) and a
# transfer (it needs the receiving unit, which old exports do not name).
IMPORTABLE_STATES = tuple(st for st in wf.STATES if st not in (wf.DRAFT, wf.TRANSFERRED))
RATING_WORDS = {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}
MAX_CONTENT = 2000   # as app/applications.complain
# Reasons that make a whole file unusable (app/legacy_read.py, read_rows).
FILE_REASONS = frozenset({"bad_encoding_file", "unreadable_file", "missing_column", "unknown_file"})

# The workflow's moves by (from, to): unique, so an old step that names only the state it led to says which
# transition it was. Built from the declared table, so a change there is followed here.
MOVES: dict[tuple[str, str], str] = {}
for _t in wf.TRANSITIONS:
    if _t.target is not None:
        for _src in _t.sources:
            if MOVES.setdefault((_src, _t.target), _t.action) != _t.action:
                raise AssertionError(f"two transitions lead from {_src} to {_t.target}")


class ImportConfigError(ValueError):
    """The source system's configuration or mapping table is missing or wrong: nothing is imported."""

    def __init__(self, key: str, **params: Any):
        super().__init__(f"{key} {params}")
        self.key = key
        self.params = params


# ================================================================================================================
# configuration
# ================================================================================================================
@dataclass(frozen=True)
class Mapping:
    code: str
    reviewed_by: str


@dataclass(frozen=True)
class SystemConfig:
    name: str                                   # the value of cases.source_system
    title: str
    files: dict[str, tuple[str, ...]]           # kind → file name patterns
    columns: dict[str, dict[str, str]]          # kind → old column → our field
    states: dict[str, tuple[str, ...]]          # old state or step → the workflow state(s) it leads to
    channels: dict[str, str]
    default_channel: str
    rating_levels: dict[str, int]
    time_formats: tuple[str, ...]
    earliest: date
    default_region: str | None
    batch_cases: int = 500
    delimiter: str = ","
    mapping: dict[tuple[str, str], Mapping] = field(default_factory=dict)


def norm(text: Any) -> str:
    """Names compare after Unicode compatibility folding (（ and ( alike) and without blanks."""
    return "".join(unicodedata.normalize("NFKC", str(text)).split())


def systems(config_dir: Path = CONFIG_DIR) -> dict[str, str]:
    """The configured source systems: name → title."""
    out = {}
    for path in sorted(config_dir.glob("*.toml")):
        try:
            out[path.stem] = tomllib.loads(path.read_text(encoding="utf-8")).get("title", path.stem)
        except tomllib.TOMLDecodeError:
            out[path.stem] = path.stem
    return out


def load_config(system: str, config_dir: Path = CONFIG_DIR) -> SystemConfig:
    path = config_dir / f"{system}.toml"
    if not system.replace("_", "").replace("-", "").isalnum() or not path.is_file():
        raise ImportConfigError("import.config_missing", system=system)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ImportConfigError("import.config_invalid", detail=f"{path.name}: {exc}") from exc
    problems: list[str] = []
    files = {k: tuple(v if isinstance(v, list) else [v]) for k, v in raw.get("files", {}).items()}
    columns = {k: {norm(old): new for old, new in v.items()} for k, v in raw.get("columns", {}).items()}
    for kind in set(files) | set(columns):
        if kind not in KINDS:
            problems.append(f"unknown file kind {kind!r} (one of {', '.join(KINDS)})")
    if "cases" not in files:
        problems.append("[files] must name the cases file")
    for kind, mapped in columns.items():
        for old, new in mapped.items():
            if new not in FIELDS.get(kind, {}):
                problems.append(f"columns.{kind}: {old!r} → {new!r} is not a field of {kind}")
    for kind in files:
        missing = [f for f, req in FIELDS.get(kind, {}).items() if req and f not in columns.get(kind, {}).values()]
        if missing:
            problems.append(f"columns.{kind} does not map the required fields {', '.join(missing)}")
    states = {norm(old): tuple(v if isinstance(v, list) else [v]) for old, v in raw.get("states", {}).items()}
    for old, targets in states.items():
        wrong = [x for x in targets if x not in IMPORTABLE_STATES]
        if wrong or not targets:
            problems.append(f"states.{old}: {wrong or targets} — use {', '.join(IMPORTABLE_STATES)}")
    channels = {norm(k): v for k, v in raw.get("channels", {}).items()}
    default_channel = raw.get("default_channel", "window")
    for value in [*channels.values(), default_channel]:
        if value not in ("online", "window"):
            problems.append(f"channel {value!r} must be online or window")
    levels = {norm(k): int(v) for k, v in {**RATING_WORDS, **raw.get("rating_levels", {})}.items()}
    if any(v not in (1, 2, 3, 4, 5) for v in levels.values()):
        problems.append("rating_levels must map to 1..5")
    batch = int(raw.get("batch_cases", 500))
    if batch < 1:
        problems.append("batch_cases must be at least 1")
    earliest = raw.get("earliest", date(2000, 1, 1))
    if not isinstance(earliest, date):
        problems.append("earliest must be a TOML date such as 2005-01-01")
    if problems:
        raise ImportConfigError("import.config_invalid", detail=f"{path.name}: " + "; ".join(problems))
    return SystemConfig(
        name=raw.get("source_system", system), title=raw.get("title", system), files=files, columns=columns,
        states=states, channels=channels, default_channel=default_channel, rating_levels=levels,
        time_formats=tuple(raw.get("time_formats", DEFAULT_TIME_FORMATS)), earliest=earliest,
        default_region=raw.get("default_region"), batch_cases=batch, delimiter=raw.get("delimiter", ","),
        mapping=load_mapping(config_dir / f"{system}_mapping.csv"),
    )


def load_mapping(path: Path) -> dict[tuple[str, str], Mapping]:
    """The reviewed mapping table (kind, old_name, code, reviewed_by); absent means empty."""
    if not path.is_file():
        return {}
    import csv

    out: dict[tuple[str, str], Mapping] = {}
    problems = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            kind, old = (row.get("kind") or "").strip(), norm(row.get("old_name") or "")
            if kind not in MAPPING_KINDS or not old or not (row.get("code") or "").strip():
                problems.append(f"line {n}: kind must be one of {', '.join(MAPPING_KINDS)}, old_name and code given")
                continue
            if (kind, old) in out:
                problems.append(f"line {n}: {kind} {old!r} is mapped twice")
            out[(kind, old)] = Mapping((row["code"] or "").strip(), (row.get("reviewed_by") or "").strip())
    if problems:
        raise ImportConfigError("import.config_invalid", detail=f"{path.name}: " + "; ".join(problems))
    return out


# ================================================================================================================
# rows and the report
# ================================================================================================================
@dataclass(eq=False)
class Row:
    """One row read from an export file, and where it ended."""

    file: str
    kind: str
    line: int
    values: dict[str, Any]
    status: str = ""                 # "imported" | "rejected"
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    case_no: str | None = None
    order: int = 0                   # file order, to keep rows of equal time in the order they were exported

    @property
    def legacy_no(self) -> str | None:
        value = self.values.get("legacy_no")
        return None if value is None else str(value)

    def reject(self, reason: str, **params: Any) -> None:
        """The first reason found stands: a row ends in one place."""
        if not self.status:
            self.status, self.reason, self.params = "rejected", reason, params

    def imported(self, case_no: str) -> None:
        if not self.status:
            self.status, self.case_no = "imported", case_no


@dataclass(frozen=True)
class FileRead:
    name: str
    kind: str | None
    encoding: str | None


@dataclass
class ImportResult:
    system: str
    title: str
    rows: list[Row]
    files: list[FileRead]
    started_at: datetime
    seconds: float = 0.0

    @property
    def cases_imported(self) -> int:
        return sum(1 for r in self.rows if r.kind == "cases" and r.status == "imported")

    def counts(self) -> dict[str, int]:
        imported = sum(1 for r in self.rows if r.status == "imported")
        return {"rows_read": len(self.rows), "imported": imported, "rejected": len(self.rows) - imported,
                "cases_imported": self.cases_imported,
                "already_imported": sum(1 for r in self.rows
                                        if r.reason in ("already_imported", "case_already_imported"))}

    @property
    def clean(self) -> bool:
        """Nothing was rejected but what an earlier run had imported already."""
        return all(r.status == "imported" or r.reason in ("already_imported", "case_already_imported")
                   for r in self.rows)


# ================================================================================================================
# reading the files into rows
# ================================================================================================================
@dataclass(frozen=True)
class Source:
    """An export file as uploaded or read from disk."""

    name: str
    data: bytes


def sources_from_paths(paths: list[Path]) -> list[Source]:
    """Files, or every CSV/XLSX in a folder, in name order."""
    out = []
    for p in paths:
        found = sorted(q for q in p.iterdir() if q.suffix.lower() in (".csv", ".xlsx")) if p.is_dir() else [p]
        out += [Source(q.name, q.read_bytes()) for q in found]
    return out


def kind_of(config: SystemConfig, name: str) -> str | None:
    base = Path(name).name.lower()
    for kind in KINDS:
        if any(fnmatch.fnmatch(base, pattern.lower()) for pattern in config.files.get(kind, ())):
            return kind
    return None


def read_rows(config: SystemConfig, sources: list[Source]) -> tuple[list[Row], list[FileRead]]:
    """Every data row of every file, with its fields named; rows of a file that cannot be used at all are
    rejected here, each with the file's reason."""
    rows: list[Row] = []
    files: list[FileRead] = []
    order = 0
    for src in sources:
        kind = kind_of(config, src.name)
        try:
            sheet = read_sheet(src.name, src.data, config.delimiter)
        except UnreadableFile as exc:
            files.append(FileRead(src.name, kind, None))
            lines = exc.lines or [0]   # an unreadable workbook: one line in the report stands for the file
            for line in lines:
                row = Row(src.name, kind or "unknown", line, {})
                row.reject(exc.reason, **exc.params)
                rows.append(row)
            continue
        files.append(FileRead(src.name, kind, sheet.encoding))
        fields = _field_columns(config, kind, sheet) if kind else {}
        missing = [f for f, req in FIELDS.get(kind or "", {}).items() if req and f not in fields]
        for line, cells in sheet.rows:
            order += 1
            values = {f: (cells[i] if i < len(cells) else None) for f, i in fields.items()}
            row = Row(src.name, kind or "unknown", line, values, order=order)
            if kind is None:
                row.reject("unknown_file")
            elif missing:
                expected = [old for old, f in config.columns.get(kind, {}).items() if f == missing[0]]
                row.reject("missing_column", field=missing[0], columns="、".join(expected))
            elif line in sheet.undecodable:
                row.reject("bad_encoding")
            rows.append(row)
    return rows, files


def _field_columns(config: SystemConfig, kind: str, sheet: Sheet) -> dict[str, int]:
    mapped = config.columns.get(kind, {})
    out: dict[str, int] = {}
    for i, header in enumerate(sheet.header):
        name = mapped.get(norm(header))
        if name and name not in out:
            out[name] = i
    return out


# ================================================================================================================
# checking each row on its own
# ================================================================================================================
class _Refused(Exception):
    """A row that keeps its case out, with the reason."""

    def __init__(self, row: Row, reason: str, **params: Any):
        super().__init__(reason)
        self.row, self.reason, self.params = row, reason, params


def _check_fields(row: Row, config: SystemConfig, now: datetime) -> None:
    """Required fields, times, numbers, hashes, levels and state names of one row; parsed values replace the
    text. Raises _Refused."""
    v = row.values
    for name, required in FIELDS[row.kind].items():
        if required and v.get(name) in (None, ""):
            raise _Refused(row, "missing_key" if name == "legacy_no" else "missing_field", field=name)
    v["legacy_no"] = str(v["legacy_no"])
    for name in TIME_FIELDS & v.keys():
        if v[name] is None:
            continue
        shown = str(v[name])
        try:
            v[name] = parse_time(v[name], config.time_formats)
        except BadTime:
            raise _Refused(row, "bad_time", field=name, value=shown) from None
        if v[name] > now:
            raise _Refused(row, "future_time", field=name, value=_fmt(v[name]))
        if v[name].date() < config.earliest:
            raise _Refused(row, "too_early", field=name, value=_fmt(v[name]), earliest=config.earliest.isoformat())
    if "state" in v and norm(v["state"]) not in config.states:
        raise _Refused(row, "unknown_state", name=str(v["state"]))
    if row.kind == "materials":
        for name in ("size_bytes", "round"):
            if v.get(name) is not None:
                text = str(v[name])
                if not text.isdigit():
                    raise _Refused(row, "bad_number", field=name, value=text)
                v[name] = int(text)
        digest = str(v["sha256"]).lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise _Refused(row, "bad_hash", value=str(v["sha256"])[:80])
        v["sha256"] = digest
    if row.kind == "ratings":
        level = config.rating_levels.get(norm(v["level"]))
        if level is None and str(v["level"]).isdigit() and 1 <= int(v["level"]) <= 5:
            level = int(v["level"])
        if level is None:
            raise _Refused(row, "bad_level", value=str(v["level"]))
        v["level"] = level
    if row.kind == "complaints" and len(str(v["content"])) > MAX_CONTENT:
        raise _Refused(row, "too_long", field="content", limit=MAX_CONTENT)
    if row.kind == "cases":
        _order(row, ("submitted_at", "accepted_at", "decided_at", "completed_at"))
    if row.kind == "complaints":
        _order(row, ("created_at", "answered_at"))


def _order(row: Row, names: tuple[str, ...]) -> None:
    """Impossible dates: each time given no earlier than the one given before it (a case is not decided before
    it is submitted); consecutive pairs suffice, the order being transitive."""
    present = [(n, row.values[n]) for n in names if row.values.get(n) is not None]
    for (a, at), (b, bt) in zip(present, present[1:]):
        if _before(bt, at):
            raise _Refused(row, "impossible_dates", later=b, later_at=_fmt(bt), earlier=a, earlier_at=_fmt(at))


def _before(later: datetime, earlier: datetime) -> bool:
    """`later` is before `earlier` — by the day when either is a bare date (old exports mix 2013-06-27 with
    2013-06-27 09:30, and the bare date is not midnight but "some time that day")."""
    if _bare(later) or _bare(earlier):
        return later.date() < earlier.date()
    return later < earlier


def _bare(at: datetime) -> bool:
    return (at.hour, at.minute, at.second) == (0, 0, 0)


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%d" if _bare(at) else "%Y-%m-%d %H:%M:%S")


# ================================================================================================================
# the catalogue: old names to codes
# ================================================================================================================
class Catalogue:
    """Old names to catalogue codes — exact first, then the reviewed mapping table — and the units a case is
    handled and decided by (app/cases.handling_unit, app/rules.deciding_unit), cached."""

    def __init__(self, conn: Connection, config: SystemConfig):
        self.conn = conn
        self.config = config
        self.items = {r.item_code: r for r in conn.execute(sa.select(s.items).where(s.items.c.is_current))}
        self.item_names = {norm(r.name): code for code, r in self.items.items()}
        self.item_names.update({norm(code): code for code in self.items})
        depts = conn.execute(sa.select(s.departments)).fetchall()
        self.dept_names = {norm(d.name): d.dept_code for d in depts}
        self.dept_names.update({norm(d.short_name): d.dept_code for d in depts})
        self.dept_names.update({norm(d.dept_code): d.dept_code for d in depts})
        self.dept_label = {d.dept_code: d.name for d in depts}
        self.regions: dict[str, str] = {}
        by_name: dict[str, list[str]] = defaultdict(list)
        for r in conn.execute(sa.select(s.regions.c.code, s.regions.c.name)):
            if r.code.startswith("4207"):
                self.regions[r.code] = r.name
                by_name[norm(r.name)].append(r.code)
        self.region_names = {name: codes[0] for name, codes in by_name.items() if len(codes) == 1}
        self.materials: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
        for m in conn.execute(sa.select(s.item_materials.c.item_code, s.item_materials.c.version,
                                        s.item_materials.c.seq, s.item_materials.c.name)):
            self.materials[(m.item_code, m.version)][norm(m.name)] = m.seq
        self.units = {u.unit_id: u for u in conn.execute(sa.select(s.org_units))}
        self._units: dict[tuple[str, str], str] = {}
        self._deciding: dict[tuple[str, str, str], str] = {}
        self._check_mapping()

    def _check_mapping(self) -> None:
        known = {"item": self.items, "department": self.dept_label, "region": self.regions,
                 "material": {n for names in self.materials.values() for n in names}}
        wrong = [f"{kind} {old!r} → {m.code!r}" for (kind, old), m in self.config.mapping.items()
                 if (norm(m.code) if kind == "material" else m.code) not in known[kind]]
        if wrong:
            raise ImportConfigError("import.config_invalid",
                                    detail="mapping codes not in the catalogue: " + "; ".join(wrong))
        if self.config.default_region and self.config.default_region not in self.regions:
            raise ImportConfigError("import.config_invalid",
                                    detail=f"default_region {self.config.default_region!r} is not a region of 4207")

    def _mapped(self, row: Row, kind: str, name: str, reason: str, **params: Any) -> str:
        entry = self.config.mapping.get((kind, norm(name)))
        if entry is None:
            raise _Refused(row, reason, name=name, **params)
        if not entry.reviewed_by:
            raise _Refused(row, "mapping_unreviewed", name=name)
        return entry.code

    def department(self, row: Row, name: str) -> str:
        return self.dept_names.get(norm(name)) or self._mapped(row, "department", name, "unknown_department")

    def item(self, row: Row, name: str) -> Any:
        code = self.item_names.get(norm(name)) or self._mapped(row, "item", name, "unknown_item")
        return self.items[code]

    def region(self, row: Row, value: str | None) -> str:
        if value is None:
            if self.config.default_region:
                return self.config.default_region
            raise _Refused(row, "missing_field", field="region")
        text = norm(value)
        if text in self.regions:
            return text
        return self.region_names.get(text) or self._mapped(row, "region", str(value), "unknown_region")

    def material(self, row: Row, item: Any, name: str) -> int:
        names = self.materials.get((item.item_code, item.version), {})
        seq = names.get(norm(name))
        if seq is None:
            seq = names.get(norm(self._mapped(row, "material", name, "unknown_material", item=item.name)))
        if seq is None:
            raise _Refused(row, "unknown_material", name=name, item=item.name)
        return seq

    def handling_unit(self, row: Row, item: Any, region_code: str) -> str:
        key = (item.item_code, region_code)
        if key not in self._units:
            try:
                self._units[key] = cases.handling_unit(self.conn, item, region_code, self.units)
            except cases.CaseError:
                raise _Refused(row, "no_unit", item=item.name) from None
        return self._units[key]

    def deciding_unit(self, case: dict[str, Any]) -> str:
        key = (case["unit_id"], case["region_code"][:6], case["dept_code"])
        if key not in self._deciding:
            self._deciding[key] = rules.deciding_unit(self.conn, case, self.units)
        return self._deciding[key]


# ================================================================================================================
# checking a case with what belongs to it, and rebuilding its record
# ================================================================================================================
@dataclass
class CasePlan:
    """A checked case: its row as perform would have left it, its record and its side rows — everything but
    the identifiers and the case number, which the batch's transaction assigns."""

    case_row: Row
    rows: list[Row]
    values: dict[str, Any]
    events: list[dict[str, Any]]
    stops: list[dict[str, Any]]
    rating: dict[str, Any] | None
    complaints: list[dict[str, Any]]
    materials: list[dict[str, Any]]
    result_no_from_case_no: bool      # perform's result number is "JG-" + the case number, known when written

    @property
    def legacy_no(self) -> str:
        return self.case_row.values["legacy_no"]


def _role(action: str, channel: str) -> str:
    """Who makes an old move here: the applicant's own moves by the applicant (a window clerk files a window
    case), a decision by a head, every other move by an officer — each a role the workflow allows."""
    if action in ("create", "submit"):
        return wf.APPLICANT if channel == "online" else wf.WINDOW_CLERK
    roles = wf.BY_ACTION[action].roles
    for role in (wf.OFFICER, wf.HEAD, wf.APPLICANT):
        if role in roles:
            return role
    return roles[0]


class _Replay:
    """A case's moves applied as app/cases.perform applies them (the clock, the rules' additions), so the row
    and the record end as the services would have left them."""

    def __init__(self, catalogue: Catalogue, cal: clock.WorkCalendar, case: dict[str, Any], no_comment: str):
        self.catalogue, self.cal, self.case = catalogue, cal, case
        self.stops: list[list[Any]] = []      # [started_on, ended_on | None, kind, reason]
        self.events: list[dict[str, Any]] = []
        self.no_comment = no_comment
        self.clock_then: tuple[dict[str, Any], list[clock.Stop], date] | None = None

    def settle_clock(self, today: date) -> None:
        """The clock fields the moves left, computed once instead of at every move (cases.clock_fields is pure,
        and each call overwrites what the one before set): the due dates of the last move that left the clock
        running, the warning level of the very last move; an open case's clock then runs on to today."""
        case = self.case
        if self.clock_then is not None:
            then, stops, day = self.clock_then
            case.update(cases.clock_fields(self.cal, then, stops, day))
        if not _clocked(case):
            case["warning_level"] = None
        if case["state"] in wf.OPEN_STATES and case["clock_start"] is not None:
            case.update(cases.clock_fields(self.cal, case, self.clock_stops(), today))

    def clock_stops(self) -> list[clock.Stop]:
        return [clock.Stop(a, b) for a, b, _, _ in self.stops]

    def move(self, action: str, at: datetime, *, comment: str | None = None,
             payload: dict[str, Any] | None = None) -> None:
        """One move, as perform makes it; raises wf.WorkflowError when the workflow does not allow it."""
        case = self.case
        role = _role(action, case["channel"])
        comment = (comment or "").strip() or None
        transition = wf.BY_ACTION[action]
        if transition.needs_comment and not comment:
            comment = self.no_comment   # a reason the old system did not keep: said so, never made up
        before = case["state"]
        wf.check_transition(action, before, role, comment)
        new_state = wf.target_state(transition, before)
        payload = dict(payload or {})
        today = at.date()
        stops = self.clock_stops()
        if transition.clock == wf.CLOCK_START_INTAKE:
            case.update(submitted_at=at, clock_start=today)
        elif transition.clock == wf.CLOCK_STOP:
            kind = "supplement" if action == "request_supplement" else "special"
            if kind == "supplement":   # as app/rules._request_supplement flags it, before the stop is written
                if case["supplement_count"] >= 1:
                    payload["repeat_notice"] = True
                if rules.intake_days_used(self.cal, case, stops, today) > rules.INTAKE_LIMIT_DAYS:
                    payload["late_notice"] = True
                case["supplement_count"] += 1
                payload["supplement_number"] = case["supplement_count"]
            self.stops.append([today, None, kind, comment])
            case["clock_stopped"] = True
        elif transition.clock == wf.CLOCK_RESTART:
            self.stops[-1][1] = today
            case["clock_stopped"] = False
        elif transition.clock == wf.CLOCK_START_LIMIT:
            case["accepted_unit_id"] = self.catalogue.deciding_unit(case)
            if rules.intake_days_used(self.cal, case, stops, today) > rules.INTAKE_LIMIT_DAYS \
                    and case["supplement_count"] == 0:
                payload["deemed_accepted_on"] = case["clock_start"].isoformat()   # art. 32
            else:
                case["clock_start"] = today
            case["accepted_at"] = at
        elif transition.clock == wf.CLOCK_END:
            if action in ("approve", "refuse"):
                case["decided_at"] = at
            for stop in self.stops:
                if stop[1] is None:
                    stop[1] = today
            case["clock_stopped"] = False
        if action == "complete":
            case["completed_at"] = at
            payload["result_no"] = case["result_no"]   # None until the case number is known (see CasePlan)
        case["state"] = new_state
        case["updated_at"] = at
        if new_state in wf.FINAL_STATES and new_state != before:
            case["closed_at"] = at
        if _clocked(case):   # perform recomputes the clock fields here (see settle_clock)
            self.clock_then = (dict(case), self.clock_stops(), today)
        if role == wf.WINDOW_CLERK:
            unit = case["unit_id"]
        elif role in (wf.OFFICER, wf.HEAD):
            unit = case.get("accepted_unit_id") or self.catalogue.deciding_unit(case)
        else:
            unit = None
        self.events.append(dict(occurred_at=at, actor_user_id=None, actor_role=role, actor_unit_id=unit,
                                action=action, from_state=before, to_state=new_state, comment=comment,
                                payload=payload or None))


def plan_case(case_row: Row, deps: dict[str, list[Row]], catalogue: Catalogue, cal: clock.WorkCalendar,
              config: SystemConfig, today: date) -> CasePlan:
    """Check one case with its events, materials, ratings and complaints and rebuild its record; raises
    _Refused naming the row at fault."""
    v = case_row.values
    dept = catalogue.department(case_row, v["department"]) if v.get("department") else None
    item = catalogue.item(case_row, v["item"])
    if dept is not None and dept != item.dept_code:
        raise _Refused(case_row, "department_mismatch", item=item.name, name=str(v["department"]),
                       item_dept=catalogue.dept_label.get(item.dept_code, item.dept_code))
    id_number = normalize_id(str(v["applicant_id"]))
    if validate_resident_id(id_number) is None:
        id_kind = "resident_id"
    elif validate_credit_code(id_number) is None:
        id_kind = "credit_code"
    else:
        raise _Refused(case_row, "bad_id", masked=mask_id(id_number))
    region = catalogue.region(case_row, v.get("region"))
    channel = config.default_channel
    if v.get("channel"):
        channel = config.channels.get(norm(v["channel"])) or ""
        if not channel:
            raise _Refused(case_row, "unknown_channel", name=str(v["channel"]))
    unit_id = catalogue.handling_unit(case_row, item, region)
    final_state = config.states[norm(v["state"])][-1]

    # The old steps and the ratings and complaints, in time order (equal times: steps first, then as exported).
    entries: list[tuple[datetime, int, int, int, Row, str | None]] = []
    for ev in deps.get("events", []):
        for k, target in enumerate(config.states[norm(ev.values["state"])]):
            entries.append((ev.values["occurred_at"], 0, ev.order, k, ev, target))
    for r in deps.get("ratings", []):
        entries.append((r.values["rated_at"], 1, r.order, 0, r, None))
    for c in deps.get("complaints", []):
        entries.append((c.values["created_at"], 2, c.order, 0, c, None))
    entries.sort(key=lambda e: e[:4])
    ratings = deps.get("ratings", [])
    if len(ratings) > 1:
        raise _Refused(ratings[1], "duplicate_rating", line=ratings[0].line)

    submitted_at = v["submitted_at"]
    submit_row = None
    if entries and entries[0][5] == wf.SUBMITTED and entries[0][3] == 0:
        # The old record's first step is the submission itself: its time is the submission's.
        submit_row = entries[0][4]
        if not _bare(entries[0][0]):   # the more precise of the two stamps
            submitted_at = entries[0][0]
        if entries[0][0].date() != v["submitted_at"].date():
            raise _Refused(case_row, "time_mismatch", field="submitted_at", value=_fmt(v["submitted_at"]),
                           event_value=_fmt(entries[0][0]))
        entries = entries[1:]
    for at, _, _, _, row, _ in entries:
        if _before(at, submitted_at):
            field_name = {"events": "occurred_at", "ratings": "rated_at", "complaints": "created_at"}[row.kind]
            raise _Refused(row, "impossible_dates", later=field_name, later_at=_fmt(at), earlier="submitted_at",
                           earlier_at=_fmt(submitted_at))

    case: dict[str, Any] = dict(
        item_code=item.item_code, item_version=item.version, dept_code=item.dept_code, unit_id=unit_id,
        region_code=region, window_id=None, channel=channel, applicant_user_id=None,
        applicant_name=str(v["applicant_name"]).strip(), applicant_id_kind=id_kind, applicant_id_number=id_number,
        agent_user_id=None, state=wf.DRAFT, form_data={}, promised_days=item.promised_days,
        statutory_limit=item.statutory_limit, statutory_unit=item.statutory_unit, extension_days=0,
        clock_start=None, promised_due=None, statutory_due=None, clock_stopped=False, supplement_count=0,
        created_at=submitted_at, submitted_at=None, accepted_at=None, decided_at=None, completed_at=None,
        closed_at=None, result_no=(str(v["result_no"]).strip() if v.get("result_no") else None),
        source_system=config.name, legacy_no=v["legacy_no"], version=0, updated_at=submitted_at,
        warning_level=None, request_key=None, assigned_user_id=None, accepted_unit_id=None,
    )
    replay = _Replay(catalogue, cal, case, t("import.no_comment"))
    # The first event as app/cases.create_case writes it, saying where the case came from.
    replay.events.append(dict(
        occurred_at=submitted_at, actor_user_id=None, actor_role=_role("create", channel),
        actor_unit_id=unit_id if channel == "window" else None, action="create", from_state=None, to_state=wf.DRAFT,
        comment=None, payload={"item_code": item.item_code, "item_version": item.version, "channel": channel,
                               "source_system": config.name, "legacy_no": v["legacy_no"]}))
    replay.move("submit", submitted_at, payload=_legacy_payload(submit_row))

    rating_plan = None
    complaint_plans = []
    for at, _, _, _, row, target in entries:
        # A bare date on the day of submission is some time after it, not midnight: the record stays in time order.
        at = max(at, submitted_at)
        before = case["state"]
        if row.kind == "events":
            if target == before:
                if before != wf.UNDER_REVIEW:
                    raise _Refused(row, "no_state_change", name=str(row.values["state"]), state=before)
                action = "review_opinion"     # another opinion while under review
            else:
                action = MOVES.get((before, target))
                if action is None:
                    raise _Refused(row, "illegal_transition", name=str(row.values["state"]), from_state=before,
                                   to_state=target)
            try:
                replay.move(action, at, comment=row.values.get("comment"), payload=_legacy_payload(row))
            except wf.WorkflowError:
                raise _Refused(row, "illegal_transition", name=str(row.values["state"]), from_state=before,
                               to_state=target) from None
        elif row.kind == "ratings":
            try:
                replay.move("rate", at, payload={"level": row.values["level"]})
            except wf.WorkflowError:
                raise _Refused(row, "not_allowed_now", action="rate", state=before, at=_fmt(at)) from None
            rating_plan = dict(level=row.values["level"], comment=(row.values.get("comment") or None),
                               rated_at=at, user_id=None)
        else:
            content = str(row.values["content"]).strip()
            try:
                replay.move("complain", at, comment=content)
            except wf.WorkflowError:
                raise _Refused(row, "not_allowed_now", action="complain", state=before, at=_fmt(at)) from None
            complaint_plans.append(dict(
                user_id=None, content=content, created_at=at,
                due_on=cal.add_working_days(at.date(), complaint_days()),   # as app/applications.complain
                answered_at=row.values.get("answered_at"), answer=row.values.get("answer"),
                # as app/inquiries gives one: a tracking number, the department that answers, the item
                kind="complaint", tracking_no=inquiries.new_tracking_no("complaint"), dept_code=item.dept_code,
                item_code=item.item_code, published=False))

    if case["state"] != final_state:
        if not deps.get("events") and final_state != wf.SUBMITTED:
            raise _Refused(case_row, "no_events", state=final_state)
        raise _Refused(case_row, "state_mismatch", state=final_state, final=case["state"])
    # The cases file's times against the record's. An old system's 决定时间 of a case it did not accept, and its
    # 办结时间 of a case that ended otherwise than by completion, are when the case closed.
    closed = case["closed_at"] if case["state"] in (wf.NOT_ACCEPTED, wf.WITHDRAWN) else None
    moments = {"accepted_at": case["accepted_at"], "decided_at": case["decided_at"] or closed,
               "completed_at": case["completed_at"] or closed}
    for name, moment in moments.items():
        if v.get(name) is not None and (moment is None or moment.date() != v[name].date()):
            raise _Refused(case_row, "time_mismatch", field=name, value=_fmt(v[name]),
                           event_value=_fmt(moment) if moment else "—")
    replay.settle_clock(today)   # an open case's clock runs on to today, as the background job keeps it

    materials = _plan_materials(deps.get("materials", []), item, catalogue, submitted_at)
    case["version"] = len(replay.events)
    for seq, event in enumerate(replay.events, start=1):
        event["seq"] = seq
    stops = [dict(seq=n, kind=kind, started_on=a, ended_on=b, reason=reason)
             for n, (a, b, kind, reason) in enumerate(replay.stops, start=1)]
    rows = [case_row] + [r for kind in KINDS[1:] for r in deps.get(kind, [])]
    return CasePlan(case_row, rows, case, replay.events, stops, rating_plan, complaint_plans, materials,
                    result_no_from_case_no=case["completed_at"] is not None and case["result_no"] is None)


def _clocked(case: dict[str, Any]) -> bool:
    """Whether cases.clock_fields gives this case due dates (it does not once a case is decided or closed)."""
    state = case["state"]
    return (case.get("clock_start") is not None and state not in wf.FINAL_STATES
            and state not in (wf.APPROVED, wf.REFUSED))


def _legacy_payload(row: Row | None) -> dict[str, Any] | None:
    """What the record keeps of an old step: its name there and who handled it (they have no account here)."""
    if row is None:
        return None
    out = {"legacy_step": str(row.values["state"])}
    if row.values.get("handler"):
        out["legacy_handler"] = str(row.values["handler"])
    return out


def _plan_materials(rows: list[Row], item: Any, catalogue: Catalogue, submitted_at: datetime) -> list[dict[str, Any]]:
    out: dict[tuple[int, int], tuple[Row, dict[str, Any]]] = {}
    for row in rows:
        v = row.values
        seq = catalogue.material(row, item, str(v["material"]))
        round_ = v.get("round") or 0
        name = Path(str(v["file_name"]).replace("\\", "/")).name[:200]
        entry = dict(material_seq=seq, round=round_, file_name=name,
                     extension=name.rsplit(".", 1)[-1].lower() if "." in name else "",
                     size_bytes=v.get("size_bytes") or 0, sha256=v["sha256"],
                     provided_at=v.get("provided_at") or submitted_at)
        if (seq, round_) in out:
            raise _Refused(row, "duplicate_material", line=out[(seq, round_)][0].line)
        out[(seq, round_)] = (row, entry)
    return [entry for _, entry in out.values()]


# ================================================================================================================
# grouping: duplicates, reruns, rows without their case
# ================================================================================================================
def _values_key(row: Row) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in row.values.items()))


def check_rows(rows: list[Row], config: SystemConfig, existing: dict[str, str], catalogue: Catalogue,
               cal: clock.WorkCalendar, progress: Callable[[str, int, int], None] | None = None) -> list[CasePlan]:
    """Decide every row but those of the cases to write; returns the plans of those cases."""
    now = timeutil.now()
    today = now.date()
    live = [r for r in rows if not r.status]
    for row in live:
        try:
            _check_fields(row, config, now)
        except _Refused as exc:
            exc.row.reject(exc.reason, **exc.params)

    # Cases: one row per legacy number. Identical repeats are set aside and the first stands; repeats that
    # differ leave no way to tell which is right, so none is imported.
    case_rows: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.kind == "cases" and row.legacy_no:
            case_rows[row.legacy_no].append(row)
    case_of: dict[str, Row] = {}
    for legacy_no, group in case_rows.items():
        first = group[0]
        if len(group) > 1 and len({_values_key(r) for r in group}) > 1:
            lines = "、".join(f"{r.file}:{r.line}" for r in group)
            for r in group:
                r.reject("duplicate_conflict", legacy_no=legacy_no, lines=lines)
        else:
            for r in group[1:]:
                r.reject("duplicate_case", legacy_no=legacy_no, file=first.file, line=first.line)
        if legacy_no in existing:
            first.reject("already_imported", legacy_no=legacy_no, case_no=existing[legacy_no])
        case_of[legacy_no] = first

    # What belongs to each case; identical repeats of a dependent row are set aside.
    deps: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    seen: dict[tuple, Row] = {}
    for row in rows:
        if row.kind in ("cases", "unknown") or not row.legacy_no:
            continue
        legacy_no = row.legacy_no
        if legacy_no in existing:
            row.reject("case_already_imported", legacy_no=legacy_no, case_no=existing[legacy_no])
            continue
        if legacy_no not in case_of:
            row.reject("unknown_case", legacy_no=legacy_no)
            continue
        key = (row.kind, _values_key(row))
        if not row.status and key in seen:
            row.reject("duplicate_row", file=seen[key].file, line=seen[key].line)
            continue
        seen.setdefault(key, row)
        deps[legacy_no][row.kind].append(row)

    plans: list[CasePlan] = []
    total = len(case_of)
    for n, (legacy_no, case_row) in enumerate(case_of.items(), start=1):
        mine = deps.get(legacy_no, {})
        faulty = next((r for kind in KINDS[1:] for r in mine.get(kind, []) if r.status), None)
        if not case_row.status and faulty is not None:
            case_row.reject("dependent_rejected", kind=faulty.kind, file=faulty.file, line=faulty.line)
        if not case_row.status:
            try:
                plans.append(plan_case(case_row, mine, catalogue, cal, config, today))
            except _Refused as exc:
                exc.row.reject(exc.reason, **exc.params)
                if exc.row is not case_row:
                    case_row.reject("dependent_rejected", kind=exc.row.kind, file=exc.row.file, line=exc.row.line)
        if case_row.status:   # the case stays out: so does everything that belongs to it
            for kind in KINDS[1:]:
                for r in mine.get(kind, []):
                    r.reject("case_rejected", legacy_no=legacy_no, file=case_row.file, line=case_row.line)
        if progress and (n % 500 == 0 or n == total):
            progress("check", n, total)
    return plans


# ================================================================================================================
# writing: one transaction per batch
# ================================================================================================================
def _reserve(conn: Connection, sequence: str, n: int, duckdb: bool) -> list[int]:
    """Identifiers from the app's own sequences (so the app's later inserts never collide)."""
    if n <= 0:
        return []
    if duckdb:
        q = sa.text(f"SELECT nextval('{sequence}') FROM range(:n)")   # a constant name, never user text
    else:
        q = sa.text(f"SELECT nextval('{sequence}') FROM generate_series(1, :n)")
    return sorted(int(r[0]) for r in conn.execute(q, {"n": n}))


def _crash_after() -> int | None:
    value = os.environ.get(CRASH_ENV)
    return int(value) if value else None


def write_batch(db: Database, config: SystemConfig, plans: list[CasePlan], cal: clock.WorkCalendar,
                written_before: int, crash_after: int | None) -> tuple[dict[str, str], dict[str, str]]:
    """Write one batch in one transaction. Returns (legacy_no → case_no of cases found imported meanwhile,
    legacy_no → case_no of the cases written)."""

    def work(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
        if not db.is_duckdb:
            # Two runs of the same system at once: the second waits, then finds the first one's cases.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"legacy:{config.name}"})
        c = s.cases.c
        found = {r.legacy_no: r.case_no for r in conn.execute(
            sa.select(c.legacy_no, c.case_no).where(c.source_system == config.name,
                                                     c.legacy_no.in_([p.legacy_no for p in plans])))}
        todo = [p for p in plans if p.legacy_no not in found]
        ids = _reserve(conn, "case_id_seq", len(todo), db.is_duckdb)
        serials = _reserve(conn, "case_no_seq", len(todo), db.is_duckdb)
        file_ids = iter(_reserve(conn, "file_id_seq", sum(len(p.materials) for p in todo), db.is_duckdb))
        case_rows, event_rows, stop_rows, rating_rows, complaint_rows, file_rows, material_rows = ([] for _ in range(7))
        written: dict[str, str] = {}
        for plan, case_id, serial in zip(todo, ids, serials):
            case_no = cases.format_case_no(serial, plan.values["created_at"].date())
            values = dict(plan.values, case_id=case_id, case_no=case_no)
            if plan.result_no_from_case_no:
                values["result_no"] = f"JG-{case_no}"
            case_rows.append(values)
            prev = None
            for event in plan.events:
                fields = dict(event, case_id=case_id)
                if fields["action"] == "complete":
                    fields["payload"] = dict(fields["payload"] or {}, result_no=values["result_no"])
                digest = record.event_hash(prev, **fields)
                event_rows.append(dict(fields, prev_hash=prev, hash=digest))
                prev = digest
            stop_rows += [dict(stop, case_id=case_id) for stop in plan.stops]
            if plan.rating:
                rating_rows.append(dict(plan.rating, case_id=case_id))
            complaint_rows += [dict(x, case_id=case_id) for x in plan.complaints]
            for m in plan.materials:
                file_id = next(file_ids)
                file_rows.append(dict(file_id=file_id, owner_user_id=None, file_name=m["file_name"],
                                      extension=m["extension"], size_bytes=m["size_bytes"], sha256=m["sha256"],
                                      # where the content-addressed store keeps it (app/files.py): a file copied
                                      # in later under its hash is found and verified
                                      storage_path=f"{m['sha256'][:2]}/{m['sha256']}", uploaded_at=m["provided_at"],
                                      uploaded_by=None))
                material_rows.append(dict(case_id=case_id, material_seq=m["material_seq"], round=m["round"],
                                          file_id=file_id, locker_id=None, provided_at=m["provided_at"],
                                          provided_by=None))
            written[plan.legacy_no] = case_no
        bulk_insert(conn, s.cases, case_rows)
        bulk_insert(conn, s.case_events, event_rows)
        if crash_after is not None and written_before + len(todo) >= crash_after:
            # Test hook: die inside the transaction, as a killed process would.
            sys.stdout.flush()
            os._exit(75)
        bulk_insert(conn, s.clock_stops, stop_rows)
        bulk_insert(conn, s.ratings, rating_rows)
        bulk_insert(conn, s.complaints, complaint_rows)
        bulk_insert(conn, s.stored_files, file_rows)
        bulk_insert(conn, s.case_materials, material_rows)
        ids_by_no = {r["legacy_no"]: r["case_id"] for r in case_rows}
        for plan in todo:
            if plan.rating and plan.rating["level"] in alarms.BAD_LEVELS:
                alarms.open_followup(conn, ids_by_no[plan.legacy_no], plan.rating["level"], plan.rating["rated_at"],
                                     cal)
        return found, written

    return db.write(work)


# ================================================================================================================
# the run
# ================================================================================================================
def existing_cases(db: Database, system: str) -> dict[str, str]:
    c = s.cases.c
    with db.read() as conn:
        return {r.legacy_no: r.case_no for r in conn.execute(
            sa.select(c.legacy_no, c.case_no).where(c.source_system == system))}


def run_import(db: Database, system: str, sources: list[Source], *, user_id: int | None = None,
               username: str | None = None, config_dir: Path = CONFIG_DIR, batch_cases: int | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> ImportResult:
    """Import the export files of one old system; returns the result (every row read, where it ended). Raises
    ImportConfigError before anything is read when the configuration or mapping table is wrong."""
    config = load_config(system, config_dir)
    started = time.perf_counter()
    started_at = timeutil.now()
    cal = calendar_store.load_calendar(db)
    with db.read() as conn:
        catalogue = Catalogue(conn, config)   # checks the mapping table against the catalogue first
        rows, files = read_rows(config, sources)
        if progress:
            progress("read", len(sources), len(sources))
        db.write(lambda w: audit.record(w, "legacy_import_started", user_id=user_id, username=username,
                                        detail={"system": config.name, "files": [f.name for f in files]}))
        blocked = next((r for r in rows if r.reason in FILE_REASONS), None)
        if blocked is not None:
            # A file that cannot be used may hold the events or ratings of any case: importing the others
            # could bring cases in without them, and a rerun would then find those cases imported already.
            for r in rows:
                r.reject("blocked_by_file", file=blocked.file)
            plans = []
        else:
            plans = check_rows(rows, config, existing_cases(db, config.name), catalogue, cal, progress)

    size = batch_cases or config.batch_cases
    crash_after = _crash_after()
    written_total = 0
    for start in range(0, len(plans), size):
        batch = plans[start:start + size]
        try:
            found, written = write_batch(db, config, batch, cal, written_total, crash_after)
        except Exception as exc:  # noqa: BLE001 - the batch is rolled back as a whole; the report says so
            for plan in batch:
                for row in plan.rows:
                    row.reject("write_failed", detail=f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        for plan in batch:
            if plan.legacy_no in found:   # another run wrote it meanwhile
                plan.case_row.reject("already_imported", legacy_no=plan.legacy_no, case_no=found[plan.legacy_no])
                for row in plan.rows[1:]:
                    row.reject("case_already_imported", legacy_no=plan.legacy_no, case_no=found[plan.legacy_no])
            else:
                for row in plan.rows:
                    row.imported(written[plan.legacy_no])
        written_total += len(written)
        if progress:
            progress("write", min(start + size, len(plans)), len(plans))
    for r in rows:   # a row no rule placed would be a bug here: it is reported, never lost
        r.reject("unplaced")
    result = ImportResult(config.name, config.title, rows, files, started_at, time.perf_counter() - started)
    db.write(lambda w: audit.record(w, "legacy_import", user_id=user_id, username=username,
                                    detail={"system": config.name, **result.counts(),
                                            "files": [f.name for f in files]}))
    return result


def case_ids_of(db: Database, system: str) -> list[int]:
    c = s.cases.c
    with db.read() as conn:
        return [r[0] for r in conn.execute(sa.select(c.case_id).where(c.source_system == system).order_by(c.case_id))]
