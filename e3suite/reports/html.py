"""The HTML report: one self-contained file a person opens in a browser.

The page embeds the JSON report document (see json_report.py) in a
``<script type="application/json">`` element and renders it with a small
script of its own: counts, the comparison with the previous run first, a
table filterable by verdict and text and sortable by duration whose rows
expand to message, diff and log, and a timeline of slots.

Safety: test output is never markup. The data block escapes ``<``, ``>``
and ``&`` as JSON ``\\uXXXX`` sequences, so a log holding ``</script>``
cannot close the block, and the script only ever sets ``textContent``,
never ``innerHTML``, from data. The page loads nothing from the network.

This module never reads the results directory: it renders a RunReport.
"""

from __future__ import annotations

import html
import json
import os

from e3suite.reports.data import RunReport
from e3suite.reports.html_assets import SCRIPT, STYLE
from e3suite.reports.json_report import report_document

_JSON_IN_SCRIPT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _readable_path(path: str) -> str:
    """``path`` as UTF-8 text: a byte that is not UTF-8 spelled out (``r\\xe9``), as the terminal does.

    Python decodes such a byte of a file name as a lone surrogate, which no
    UTF-8 file can hold: the HTML report of ``out/r\\xe9`` (and the run that
    wrote it, after all its testcases ran) stopped with a UnicodeEncodeError.
    """
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file name decodes to: spelled out as such
        return path.encode("utf-8", "backslashreplace").decode("utf-8")


def render_html(report: RunReport) -> str:
    """The HTML document of ``report``."""
    data = json.dumps(report_document(report), separators=(",", ":")).translate(_JSON_IN_SCRIPT)
    title = html.escape(f"e3suite report: {_readable_path(str(report.path))}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # Nothing may be fetched: the report must open offline, from a CI artefact.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n"
        '<div id="meta"></div>\n'
        '<section id="comparison"></section>\n'
        '<div id="counts"></div>\n'
        '<div id="controls">'
        '<span id="verdict-filters"></span>'
        '<input id="filter-text" type="search" placeholder="filter by id or message" size="40">'
        '<span id="shown-count"></span></div>\n'
        '<table id="results"><thead><tr><th>verdict</th><th>testcase</th><th>message</th>'
        '<th id="sort-duration" class="sortable" title="sort by duration">duration</th>'
        '<th title="CPU time of its commands">CPU</th><th title="largest peak resident size of its commands">'
        "peak RSS</th></tr></thead>"
        "<tbody></tbody></table>\n"
        '<h2>Timeline of slots</h2>\n<div id="timeline"></div>\n'
        f'<script id="report-data" type="application/json">{data}</script>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
