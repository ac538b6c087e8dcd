"""Import an old system's export (植入, domain.md §10): the command behind the administrator's 数据导入 page.

    python -m pipelines.import_legacy --system city_approval EXPORT_DIR_OR_FILES... [--database-url URL]
                                      [--report report.xlsx] [--batch-size 500]

Prints progress and the report summary, writes the report (every row read: imported, or rejected with its
reason; CSV or XLSX by the file's suffix; default import_<system>_<time>.csv here) and exits 0 when nothing was
rejected but what an earlier run had imported already, 1 otherwise (the report needs reading), 2 when the
system's configuration is wrong. A DuckDB file is opened by one process only: stop the server first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import legacy_import, legacy_report, timeutil
from app.config import load_settings
from app.db import get_database
from app.i18n import t


def _progress(stage: str, done: int, total: int) -> None:
    print(f"\r{stage}: {done:,}/{total:,}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="export files, or folders of them")
    parser.add_argument("--system", required=True, help="source system: data/import/<system>.toml")
    parser.add_argument("--database-url", default=None, help="default: EZZ_DATABASE_URL or data/ezz.duckdb")
    parser.add_argument("--report", type=Path, default=None, help="the report file (.csv or .xlsx)")
    parser.add_argument("--batch-size", type=int, default=None, help="cases per transaction (default: the config's)")
    parser.add_argument("--config-dir", type=Path, default=legacy_import.CONFIG_DIR)
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    args = parser.parse_args(argv)
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        parser.error(f"not found: {', '.join(map(str, missing))}")
    settings = load_settings()
    db = get_database(args.database_url or settings.database_url, schema=settings.database_schema)
    db.migrate()
    sources = legacy_import.sources_from_paths(args.paths)
    try:
        result = legacy_import.run_import(db, args.system, sources, username="import_legacy",
                                          config_dir=args.config_dir, batch_cases=args.batch_size,
                                          progress=_progress)
    except legacy_import.ImportConfigError as exc:
        print(t(exc.key, args.lang, **exc.params), file=sys.stderr)
        return 2
    for line in legacy_report.summary_lines(result, args.lang):
        print(line)
    report = args.report or Path(f"import_{args.system}_{timeutil.now():%Y%m%d_%H%M%S}.csv")
    legacy_report.write_report(result, report, args.lang)
    print(t("import.report_written", args.lang, path=report))
    if result.cases_imported:
        print(t("import.marts_hint", args.lang))
    return 0 if result.clean else 1


if __name__ == "__main__":
    sys.exit(main())
