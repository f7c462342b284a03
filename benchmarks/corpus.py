"""Real-code check: run dbleak over the sources of real packages full of database code.

    python benchmarks/corpus.py [--select DBL1]
                                [--set libraries|apps|holdout|...|holdout6|all]
                                [--package NAME ...] [--json] [--sql KEY=VALUE ...]
                                [--lifecycle KEY=VALUE ...]

``--sql`` sets a ``[tool.dbleak.sql]`` option for the run (``--sql root-tables=small``; a list
option comma-separated: ``--sql bounded-columns=email,slug``).

Eight sets: ``libraries`` (the default: drivers, query tools and migration tools), ``apps``
(applications with a lot of ORM and SQL code, the DBL2xx review's second sample), ``holdout``
(applications first held out from tuning the DBL2xx analysis, the third review, since used to
find bugs), ``holdout2`` (a second held-out set, fixed before any of its findings was read, since
used to find bugs too), ``holdout3`` (a third held-out set, fixed before any of its findings
was read, since used to find bugs too), ``holdout4`` (a fourth held-out set, fixed before any
of its findings was read, since used to find bugs too), ``holdout5`` (a fifth, fixed the
same way, since used to find bugs too) and ``holdout6`` (a sixth); ``all`` is the eight
together (``dbl3holdout`` and ``dbl3holdout2``, the held-out DBL3xx precision reviews' 16 and
23 packages, are not in it). Each package is fetched once with
``pip download --no-deps --no-binary :all:`` (a wheel when the package has no source
distribution, or one that cannot be built offline) into ``benchmarks/corpus/_dl`` and unpacked
into ``benchmarks/corpus/<name>-<version>/`` (the folder is git-ignored). Findings are printed
as ``package  path:line:col  CODE  message``; review them by reading the code and record the
verdicts in ``benchmarks/corpus-review.md``. ``benchmarks/precision.py RUN.json`` computes a
run's precision from those verdicts (and lists what no review has judged yet).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
DOWNLOADS = CORPUS / "_dl"

PACKAGES = (
    "pgcli", "litecli", "mycli", "records", "peewee", "yoyo-migrations",
    "apache-airflow-providers-common-sql", "dataset", "sqlite-utils", "alembic",
    "sqlalchemy-utils", "aiosql", "datasette", "pony", "agate-sql", "sqlitedict", "dbutils",
    "aiopg", "pugsql", "sqlite-web", "databases", "aiosqlite", "ipython",
    "mysql-connector-python",
)

# Applications: the second DBL2xx review (benchmarks/corpus-review.md), pinned to what was read.
APPLICATIONS = (
    "Trac==1.6", "beets==2.14.1", "buildbot==4.3.0", "buku==5.1", "ckan==2.12.0",
    "django-oscar==4.2.1", "Flask-AppBuilder==5.3.0", "mailman==3.3.10", "mlflow==3.18.0",
    "optuna==5.0.0", "pretix==2026.8.0", "roundup==2.6.0", "wagtail==8.0.1", "weblate==5.14.3",
)
# Held-out applications: never used to tune the DBL2xx analysis; the third review.
HOLDOUT = (
    "apache-superset==6.1.0", "calibreweb==0.6.27", "matrix-synapse==1.163.2",
    "mayan-edms==4.12.2", "nautobot==3.2.7", "prefect==3.9.1", "privacyidea==3.14",
    "pulpcore==3.123.1",
)
# Second held-out set: fixed before any of its findings was read; measures the analysis as of
# commit 7812815 and validates later changes. zenml as a wheel (its sdist needs crates.io to
# build); apache-airflow was skipped (its sdist is a meta-package with no code).
HOLDOUT2 = (
    "dagster==1.13.29", "django-cms==5.1.3", "hyperkitty==1.3.12", "keystone==30.0.0",
    "kiwitcms==12.4", "label-studio==1.23.2", "misago==0.39.6", "zenml==0.98.0",
)
# Third held-out set: fixed before any of its findings was read; measures the analysis as of
# commit 1bc6c6c. wagtail-localize and indico as wheels (wagtail-localize's sdist cannot be built
# offline; indico 3.x has no sdist, and its newest release served is 3.2.9). Skipped from the
# candidate list: postorius (hardly any database code of its own: Mailman's REST API), pootle (no
# Python 3 release), saleor, netbox, sentry (no distribution served), and packages of the same
# name that are only API clients (awx, zulip, inventree, baserow, plane).
HOLDOUT3 = (
    "wger==2.1", "django-helpdesk==2.6.1", "mezzanine==6.1.1", "django-oscar-api==3.3.0",
    "wiki==0.13.0", "wagtail-localize==1.14.5", "indico==3.2.9", "trytond==8.2.1",
)
# Fourth held-out set: fixed before any of its findings was read; measures the analysis as of
# commit 128c2a3. pretalx 2025.2.2 and FlaskBB 2.0.2 are the newest releases the registry serves
# (the package list names pretalx 2026.2.1 and flaskbb 2.2.0). Skipped from the candidate list:
# pgadmin4 (a wheel of over 200,000 lines, too large to judge in one review), shuup (its only
# release served is 1.6.0), frappe, ctfd and bookwyrm (placeholders or API clients on PyPI),
# ralph and security-monkey (releases from 2015), peering-manager, seahub, funkwhale and tracim
# (not served).
HOLDOUT4 = (
    "pretalx==2025.2.2", "rdmo==2.5.2", "openwisp-controller==1.3.2", "django-filer==3.6.0",
    "flaskbb==2.0.2", "lemur==1.9.3", "ihatemoney==7.2.1", "kinto==26.5.0",
)
# Fifth held-out set: fixed before any of its findings was read; measures the analysis as of
# commit b01cabf. Skipped from the candidate list: django-machina (its sdist does not build
# offline), geonode (not served), glance and openwisp-radius (a second OpenStack service and a
# second openwisp module: ironic and openwisp-controller stand for them).
HOLDOUT5 = (
    "edx-enterprise==8.18.0", "ironic==39.0.0", "fittrackee==1.3.6", "arches==8.1.5",
    "evennia==5.0.1", "apache-airflow-core==3.3.2", "django-spirit==0.14.3", "askbot==0.13.0",
)
# Sixth held-out set: fixed before any of its findings was read; measures the analysis as of
# commit 38f56b3 (after the fixes the fifth set led to). Six applications and two Django
# libraries whose own code reads their tables (history and import/export). Skipped: pagure (not
# served); django-allauth, django-reversion and django-celery-beat (downloaded as candidates, the
# set was full).
HOLDOUT6 = (
    "Kallithea==0.7.0", "glance==33.0.0", "kolibri==0.19.5", "mediagoblin==0.9.0",
    "matrix-sydent==2.6.1", "openwisp-radius==1.3.3", "django-simple-history==3.13.0",
    "django-import-export==4.4.3",
)
# Held-out database libraries for the lifecycle rules (DBL1xx): fixed before any of their
# findings is read, to measure the recall work of the lifecycle-recall issue on code it was
# never tuned on (the libraries above steered it).
LIFECYCLE_HOLDOUT = (
    "psycopg==3.3.9", "pg8000==1.31.6", "PyMySQL==1.2.4", "aiomysql==0.3.2",
    "tortoise-orm==1.1.9", "piccolo==1.38.0", "sqlmodel==0.0.50", "Flask-SQLAlchemy==3.1.1",
)
# Held-out DBL3xx precision review, fixed before any of its findings was read, 2026-12-06:
# Django apps, SQLAlchemy extensions and database tools in none of the sets above, whose
# repositories are neither reserved nor in the recall corpus (django-silk, django-guardian,
# django-treebeard, patroni and pg_activity were left out for that reason). barman 3.19.1 is the
# newest release the registry serves (the package list names 3.20.1); django-q2 is served as a
# wheel only. Reviewed in benchmarks/corpus-review.md ("DBL3xx held-out review").
DBL3_HOLDOUT = (
    "django-mptt==0.20.0", "django-polymorphic==4.11.7", "django-auditlog==3.4.1",
    "django-extensions==4.1", "django-q2==1.11.1", "django-taggit==6.1.0",
    "django-celery-results==2.6.0", "django-axes==8.3.1", "django-watson==1.6.3",
    "sqlobject==3.14.0", "pydal==20260520.0", "barman==3.19.1",
    "schemainspect==3.1.1663587362", "sqlalchemy-continuum==2.0.0", "flask-admin==2.2.1",
    "storm==1.3",
)
# Second held-out DBL3xx precision review, fixed before any of its findings was read, 2026-12-08:
# Django applications and reusable apps whose views, management commands and tasks evaluate
# querysets (sql-explorer, cacheops, post-office, celery-beat, notifications, activity-stream,
# organizations, comments-xtd, tagulous, pghistory, parler, viewflow, waffle, scheduler,
# easy-audit, tables2, rest framework, modeltranslation, defender, background-tasks) and three
# SQLAlchemy applications (jupyterhub, Kotti, ziggurat-foundations), in none of the sets above,
# whose repositories are neither reserved (nor owned by a reserved repository's owner) nor in
# /tmp/used_repos.txt nor in the recall corpus. Every sdist downloads. Reviewed in
# benchmarks/corpus-review.md ("DBL3xx held-out review 2").
DBL3_HOLDOUT2 = (
    "django-sql-explorer==5.3.1", "django-cacheops==7.2", "django-post-office==3.12.0",
    "django-celery-beat==2.9.0", "django-notifications-hq==1.8.3",
    "django-activity-stream==2.0.0", "django-organizations==2.7.0",
    "django-comments-xtd==2.10.13", "django-tagulous==2.2.3", "django-pghistory==3.9.2",
    "django-parler==2.4", "django-viewflow==2.4.0", "django-waffle==5.0.0",
    "django-scheduler==0.12.0", "django-easy-audit==1.3.9", "django-tables2==3.0.1",
    "djangorestframework==3.18.3", "django-modeltranslation==0.20.6", "django-defender==0.9.8",
    "django-background-tasks==1.2.8", "jupyterhub==6.1.1", "Kotti==2.0.9",
    "ziggurat-foundations==0.9.1",
    # Batch 2, added and committed before any of its findings was read, after the 23 packages
    # above gave 6 findings (fewer than the review's aim of 25): five OpenStack services of
    # SQLAlchemy query code (the DB API modules of cinder, manila, designate, octavia, heat) and
    # seven Django applications and apps of ORM code (ledger, hordak, Cartridge, django-ca,
    # newsletter, oidc-provider, river), checked against the same exclusions.
    "cinder==29.0.0", "manila==23.0.1", "designate==23.0.0", "octavia==19.0.0",
    "openstack-heat==27.0.1", "django-ledger==0.8.5", "django-hordak==2.0.0",
    "Cartridge==1.3.4", "django-ca==3.2.0", "django-newsletter==1.2.1",
    "django-oidc-provider==0.9.0", "django-river==3.3.0",
)
SETS = {"libraries": PACKAGES, "lifecycle-holdout": LIFECYCLE_HOLDOUT, "apps": APPLICATIONS, "holdout": HOLDOUT, "holdout2": HOLDOUT2,
        "holdout3": HOLDOUT3, "holdout4": HOLDOUT4, "holdout5": HOLDOUT5, "holdout6": HOLDOUT6,
        "dbl3holdout": DBL3_HOLDOUT, "dbl3holdout2": DBL3_HOLDOUT2,
        "all": PACKAGES + LIFECYCLE_HOLDOUT + APPLICATIONS + HOLDOUT + HOLDOUT2 + HOLDOUT3 + HOLDOUT4 + HOLDOUT5
        + HOLDOUT6}


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _unpacked(name: str) -> Path | None:
    wanted = _normal(name)
    for folder in sorted(CORPUS.iterdir()) if CORPUS.exists() else ():
        if folder.is_dir() and folder.name != "_dl":
            base = _normal(folder.name.rsplit("-", 1)[0])
            if base == wanted:
                return folder
    return None


def _archive(name: str) -> Path | None:
    wanted = _normal(name)
    for path in sorted(DOWNLOADS.iterdir()) if DOWNLOADS.exists() else ():
        stem = path.name
        if stem.endswith(".whl"):
            if _normal(stem.split("-", 1)[0]) == wanted:
                return path
            continue
        for suffix in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
            stem = stem.removesuffix(suffix)
        if _normal(stem.rsplit("-", 1)[0]) == wanted:
            return path
    return None


def _download(requirement: str) -> bool:
    """Fetch the source distribution, or the wheel when there is none (pretix, weblate)."""
    failure = ""
    for binary in (["--no-binary", ":all:"], ["--only-binary", ":all:"]):
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", *binary,
             "--dest", str(DOWNLOADS), requirement],
            capture_output=True, text=True, check=False,
        )
        if done.returncode == 0:
            return True
        failure = (done.stderr.strip().splitlines() or [""])[-1]
    print(f"# {requirement}: download failed: {failure}", file=sys.stderr)
    return False


def fetch(requirement: str) -> Path | None:
    """The unpacked source folder of ``requirement``, downloading it when missing."""
    name = requirement.split("==", 1)[0]
    found = _unpacked(name)
    if found is not None:
        return found
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    archive = _archive(name)
    if archive is None:
        if not _download(requirement):
            return None
        archive = _archive(name)
        if archive is None:
            return None
    if archive.name.endswith(".whl"):
        name_part, version = archive.name.split("-")[:2]
        target = CORPUS / f"{name_part}-{version}"
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(target)
        return target
    target = CORPUS / archive.name.replace(".tar.gz", "").replace(".zip", "").replace(".tgz", "")
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(CORPUS)
    else:
        with tarfile.open(archive) as tarred:
            tarred.extractall(CORPUS, filter="data")
    if not target.exists():
        return _unpacked(name)
    return target


def findings(folder: Path, select: str, sql: dict[str, object] | None = None,
             lifecycle: dict[str, object] | None = None) -> list[dict[str, object]]:
    """dbleak's findings over ``folder`` (tests and docs included: they are real code too).

    Through the API: the corpus folder is git-ignored, which the CLI would respect.
    """
    from dbleak.api import check_paths
    from dbleak.settings import Settings

    settings = Settings(select=(select,), respect_gitignore=False, root=str(folder),
                        sql=dict(sql or {}), lifecycle=dict(lifecycle or {}))
    found: list[dict[str, object]] = []
    for result in check_paths([folder], lambda _path: settings):
        for finding in result.result.findings:
            found.append({"filename": finding.path, "code": finding.code, "message": finding.message,
                          "location": {"row": finding.start.line, "column": finding.start.column + 1}})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--select", default="DBL1", help="rule selector (default DBL1)")
    parser.add_argument("--set", choices=sorted(SETS), default="libraries",
                        help="which packages (default: libraries)")
    parser.add_argument("--package", action="append", help="only these packages")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--sql", action="append", default=[], metavar="KEY=VALUE",
                        help="a [tool.dbleak.sql] option, e.g. root-tables=small")
    parser.add_argument("--lifecycle", action="append", default=[], metavar="KEY=VALUE",
                        help="a [tool.dbleak.lifecycle] option, e.g. shortcut-cursors=report")
    parser.add_argument("--clean", action="store_true", help="delete the corpus and exit")
    parser.add_argument("--download-only", action="store_true",
                        help="fetch and unpack the packages, print their folders, run nothing "
                             "(to read code before any finding is seen)")
    args = parser.parse_args(argv)
    if args.clean:
        shutil.rmtree(CORPUS, ignore_errors=True)
        return 0
    everything: list[dict[str, object]] = []
    for name in args.package or SETS[args.set]:
        folder = fetch(name)
        if folder is None:
            continue
        if args.download_only:
            print(folder)
            continue
        sql: dict[str, object] = {}
        for option in args.sql:
            key, _, value = option.partition("=")
            # A list option (bounded-columns, small-tables) is given comma-separated.
            sql[key] = value.split(",") if key in ("bounded-columns", "small-tables") else value
        lifecycle = dict(option.partition("=")[::2] for option in args.lifecycle)
        for finding in findings(folder, args.select, sql, lifecycle):
            path = Path(str(finding.get("filename", "")))
            try:
                shown = path.resolve().relative_to(CORPUS.resolve())
            except ValueError:
                shown = path
            location = finding.get("location") or {}
            line = location.get("row") if isinstance(location, dict) else None
            column = location.get("column") if isinstance(location, dict) else None
            record = {"package": folder.name, "path": str(shown), "line": line, "column": column,
                      "code": finding.get("code"), "message": finding.get("message")}
            everything.append(record)
            if not args.json:
                print(f"{folder.name}\t{shown}:{line}:{column}\t{record['code']}\t{record['message']}")
    if args.json:
        print(json.dumps(everything, indent=2))
    else:
        print(f"# {len(everything)} findings", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
