"""`storewatch archive pack`: a run's web archive as one WACZ file, to browse in ReplayWeb.page or pywb."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, database, print_line
from storage.errors import StorewatchError

archive_app = typer.Typer(help="The web archive of the crawls (WARC files): package a run as WACZ.", no_args_is_help=True)


@archive_app.command("pack")
def pack(
    run: Annotated[str, typer.Argument(help="The run to package: N or run:N (see `storewatch runs`)")],
    out: Annotated[Path, typer.Option("--out", help="The WACZ file to write (replaced whole if it exists)")],
    db: DbOption = None,
) -> None:
    """Package run N's WARC files, with the earlier files its revisit records refer to, as a WACZ file (Webrecorder's
    `wacz` package: its CDXJ index, pages and datapackage), which ReplayWeb.page (https://replayweb.page) and
    pywb open: a person can browse what the store showed on that day.

    Example:

    \b
        storewatch archive pack run:38 --out pytorch_hub-2024-04-30.wacz
    """
    from webarchive.wacz_pack import pack_run

    number = run.removeprefix("run:")
    if not number.isdigit():
        raise StorewatchError(f"{run!r} is not a run: give N or run:N (see `storewatch runs`)")
    if out.suffix != ".wacz":
        raise StorewatchError(f"--out {out}: a WACZ file's name ends in .wacz")
    if not out.parent.is_dir():
        raise StorewatchError(f"--out {out}: no folder {out.parent}")
    engine = database(db)
    try:
        files = pack_run(engine, int(number), out)
    finally:
        engine.dispose()
    print_line(f"{out}: run {number}, {len(files)} WARC file{'s' if len(files) != 1 else ''}, {out.stat().st_size:,} bytes")
