# ruff: noqa: E501 - embedded JavaScript and CSS, not Python: their lines follow their own style.
"""The style sheet and script embedded in every HTML report (see html.py).

Kept apart from html.py so that the Python that assembles the page stays
readable. The script builds every element from the embedded JSON document
with ``textContent`` only: it must never use ``innerHTML`` with data.
"""

from __future__ import annotations

STYLE = r"""
body { font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; word-break: break-all; }
h2 { font-size: 1.1em; margin-top: 1.5em; }
#meta { color: #555; font-size: 0.9em; margin-bottom: 1em; }
#meta span { margin-right: 1.5em; }
.badge { display: inline-block; padding: 0.2em 0.6em; margin: 0 0.3em 0.3em 0; border-radius: 0.3em;
         font-weight: bold; font-size: 0.9em; }
.PASS { background: #d4f4d4; } .FAIL { background: #f8caca; } .ERROR { background: #f3a0a0; }
.XFAIL { background: #d4eef4; } .XPASS, .VERIFY { background: #f6ecc0; } .FLAKY { background: #f0d4f4; }
.SKIP, .NOT_APPLICABLE { background: #dde3f6; }
#comparison { border: 2px solid #c33; border-radius: 0.4em; padding: 0.5em 1em; margin-bottom: 1em; }
#comparison.unchanged { border-color: #9c9; }
#comparison:empty { display: none; }
#comparison h2 { margin: 0.2em 0; }
#comparison ul { margin: 0.2em 0 0.6em 0; }
#controls { margin: 1em 0 0.5em 0; }
#controls button { margin-right: 0.3em; cursor: pointer; border: 1px solid #888; }
#controls button.off { opacity: 0.35; }
#shown-count { margin-left: 1em; color: #555; }
/* A fixed layout: with 10,000 rows, an automatic one measures every cell first. */
table { border-collapse: collapse; width: 100%; font-size: 0.9em; table-layout: fixed; }
th:nth-child(1) { width: 10em; } th:nth-child(2) { width: 35%; } th:nth-child(4) { width: 6em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th.sortable { cursor: pointer; text-decoration: underline dotted; }
tr.result { cursor: pointer; }
tr.result:hover { background: #f4f4f4; }
td.duration { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: monospace; word-break: break-all; }
tr.detail td { background: #fafafa; }
pre { white-space: pre-wrap; word-break: break-all; background: #f2f2f2; padding: 0.5em; margin: 0.3em 0;
      max-height: 30em; overflow: auto; }
#timeline { position: relative; border: 1px solid #ccc; overflow-x: auto; }
.lane { position: relative; height: 1.4em; border-bottom: 1px dotted #ddd; }
.lane-label { position: absolute; left: 0; width: 4em; font-size: 0.8em; color: #555; }
.lane-body { position: absolute; left: 4em; right: 0; top: 0; bottom: 0; }
.frag { position: absolute; top: 0.15em; bottom: 0.15em; min-width: 1px; border-radius: 2px;
        background: #7bbf7b; }
.frag.failing { background: #e8a0a0; }
.frag.FAILED, .frag.TIMEDOUT { background: #d65f5f; } .frag.ABORTED { background: #999; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var SHOWN_CHANGES = 20;
  var ORDER = ["PASS", "FAIL", "XFAIL", "XPASS", "VERIFY", "FLAKY", "SKIP", "NOT_APPLICABLE", "ERROR"];
  var CATEGORIES = [["new_failures", "New failures"], ["still_failing", "Still failing"], ["flaky", "Flaky"], ["fixed", "Fixed"],
                    ["newly_skipped", "Newly skipped"], ["new", "New testcases"],
                    ["removed", "Removed testcases"], ["slower", "Markedly slower"]];

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function mebibytes(bytes) { return (bytes / 1048576).toFixed(1) + " MiB"; }
  function seconds(value) {
    if (value === null || value === undefined) { return ""; }
    if (value < 59.995) { return value.toFixed(2) + "s"; }
    // Rounded first: 119.96 s gave "1m60.0s".
    var tenths = Math.round(value * 10);
    var minutes = Math.floor(tenths / 600);
    return minutes + "m" + ((tenths - minutes * 600) / 10).toFixed(1) + "s";
  }

  // Run metadata.
  var meta = document.getElementById("meta");
  var run = data.run;
  var facts = [["started", run.start ? new Date(run.start * 1000).toISOString() : null],
               ["duration", run.duration !== null ? seconds(run.duration) : null], ["host", run.host],
               ["jobs", run.jobs], ["e3suite", run.version], ["python", run.python],
               ["shard", run.shard], ["selection", run.selection && run.selection.length ? run.selection.join(" ") : null],
               ["command", run.argv ? run.argv.join(" ") : null]];
  facts.forEach(function (f) { if (f[1] !== null && f[1] !== undefined) { meta.appendChild(el("span", "", f[0] + ": " + f[1])); } });
  if (run.live) {
    // Read while it runs: a run that is going, not one that was killed.
    var going = {running: 0, waiting: 0};
    data.testcases.forEach(function (t) { if (t.status === null && going[t.message] !== undefined) { going[t.message] += 1; } });
    meta.appendChild(el("strong", "", "The run is still going: " + going.running + (going.running === 1 ? " testcase" : " testcases") + " running, " + going.waiting + " waiting (results so far)."));
  } else if (!run.complete) {
    meta.appendChild(el("strong", "", run.end !== null ? "The run's index is missing or unreadable: results rebuilt from its journal."
                                                      : "The run did not finish: results rebuilt from its journal."));
  }
  // Ctrl-C or SIGTERM: what it had not started is SKIP "not run: interrupted", easy to take for a skip.
  if (run.interrupted) {
    // "not run: interrupted", or "not run: time limit reached (--max-time N s)".
    var notRun = data.testcases.filter(function (t) { return t.status === "SKIP" && t.message.indexOf("not run: ") === 0; }).length;
    meta.appendChild(el("strong", "", "The run was interrupted" + (notRun ? ": " + notRun + (notRun === 1 ? " testcase" : " testcases") + " not run." : ".")));
  }

  // The comparison with the previous run: first, because it is the news.
  var comparison = data.comparison;
  var section = document.getElementById("comparison");
  if (comparison) {
    var changed = CATEGORIES.some(function (c) { return c[0] !== "still_failing" && comparison[c[0]].length; });
    if (!changed) {
      section.className = "unchanged";
      section.appendChild(el("p", "", "No change compared with " + comparison.old_dir + " (" + comparison.old_count + " testcases before)."));
    } else {
      section.appendChild(el("h2", "", "Changes since " + comparison.old_dir));
      CATEGORIES.forEach(function (c) {
        var items = comparison[c[0]];
        if (!items.length) { return; }
        var block = el("div", "category");
        block.id = "change-" + c[0];
        block.appendChild(el("strong", "", c[1] + " (" + items.length + ")"));
        var list = el("ul");
        // The first SHOWN_CHANGES, as the terminal shows them; the rest folded: compared with an
        // unrelated run, 10,000 "new testcases" pushed the table out of sight.
        var rest = null, restList = null;
        items.forEach(function (item, index) {
          var text = item.id;
          if (c[0] === "slower") { text += ": " + seconds(item.old_duration) + " \u2192 " + seconds(item.duration); }
          else if (c[0] === "removed") { text += " (was " + (item.old_status || "?") + ")"; }
          else { text += ": " + item.status + (item.old_status ? " (was " + item.old_status + ")" : "") + (item.message ? " \u2014 " + item.message : ""); }
          if (index === SHOWN_CHANGES) {
            rest = el("details", "more-changes");
            rest.appendChild(el("summary", "", "... and " + (items.length - SHOWN_CHANGES) + " more"));
            restList = rest.appendChild(el("ul"));
          }
          (restList || list).appendChild(el("li", "", text));
        });
        block.appendChild(list);
        if (rest) { block.appendChild(rest); }
        section.appendChild(block);
      });
    }
  }

  // Counts, which are also the verdict filters' labels.
  var counts = document.getElementById("counts");
  var total = el("span", "badge", data.counts.total + " testcases");
  total.id = "count-total";
  counts.appendChild(total);
  ["passed", "failed", "skipped"].forEach(function (k) {
    var badge = el("span", "badge", data.counts[k] + " " + k);
    badge.id = "count-" + k;
    counts.appendChild(badge);
  });
  // Counted as the summary line counts (what this run ran); a --failed run's table also lists the rest.
  var carried = data.testcases.filter(function (t) { return t.carried_over; }).length;
  if (carried) {
    var kept = el("span", "badge", carried + " carried over");
    kept.id = "count-carried-over";
    counts.appendChild(kept);
  }

  // One toggle per verdict in the table, carried-over results included: by_status leaves
  // them out, and a carried-over PASS had no toggle, so it could not be hidden.
  var inTable = {};
  data.testcases.forEach(function (t) { if (t.status) { inTable[t.status] = (inTable[t.status] || 0) + 1; } });
  var enabled = {};
  var filters = document.getElementById("verdict-filters");
  ORDER.forEach(function (status) {
    var n = inTable[status];
    if (!n) { return; }
    enabled[status] = true;
    var button = el("button", "verdict-toggle " + status, status + " " + n);
    button.type = "button";
    button.setAttribute("data-status", status);
    button.addEventListener("click", function () {
      enabled[status] = !enabled[status];
      button.classList.toggle("off", !enabled[status]);
      applyFilter();
    });
    filters.appendChild(button);
  });

  // The table: one row per testcase; the detail row is built on first expand.
  var tbody = document.querySelector("#results tbody");
  var rows = [];
  data.testcases.forEach(function (t, index) {
    var tr = el("tr", "result");
    tr.setAttribute("data-id", t.id);
    // No verdict yet (a run still going): RUNNING or WAITING, never "null".
    var label = t.status || t.message.toUpperCase();
    tr.setAttribute("data-status", label);
    var verdict = el("td", "verdict");
    verdict.appendChild(el("span", "badge " + label, label));
    tr.appendChild(verdict);
    tr.appendChild(el("td", "id", t.id));
    var note = t.attempts.length ? (t.status === "FLAKY" ? "attempt " + t.attempts.length + " of " +
      t.attempts_allowed + " passed" : t.attempts.length + " attempts") : "";
    if (t.carried_over) { note = note ? note + ", carried over" : "carried over"; }
    tr.appendChild(el("td", "message", t.message + (note ? " (" + note + ")" : "")));
    tr.appendChild(el("td", "duration", seconds(t.duration)));
    tr.appendChild(el("td", "duration cpu", t.cpu !== null ? seconds(t.cpu) : ""));
    tr.appendChild(el("td", "duration rss", t.peak_rss !== null ? mebibytes(t.peak_rss) : ""));
    var row = {t: t, tr: tr, detail: null, index: index,
               text: (t.id + "\n" + t.message).toLowerCase()};
    tr.addEventListener("click", function () { toggle(row); });
    rows.push(row);
  });
  var fragment = document.createDocumentFragment();
  rows.forEach(function (row) { fragment.appendChild(row.tr); });
  tbody.appendChild(fragment);

  function toggle(row) {
    if (row.detail) {
      row.detail.parentNode.removeChild(row.detail);
      row.detail = null;
      row.tr.classList.remove("expanded");
      return;
    }
    var t = row.t;
    var tr = el("tr", "detail");
    var td = el("td");
    td.colSpan = 6;
    td.appendChild(el("div", "detail-message", "Message: " + (t.message || "(none)")));
    if (t.failure_reasons.length) { td.appendChild(el("div", "", "Failure reasons: " + t.failure_reasons.join(", "))); }
    if (t.carried_over) { td.appendChild(el("div", "", "Carried over: not run again, this is the previous run's result")); }
    if (t.attempts.length) {
      td.appendChild(el("div", "", "Attempts (" + t.attempts.length + " of " + t.attempts_allowed + " allowed):"));
      var list = el("ol", "attempts");
      t.attempts.forEach(function (a) {
        var item = el("li", "", a.status + (a.message ? ": " + a.message : "") + " (" + seconds(a.duration) + ")");
        if (a.log && a.number < t.attempts.length) { item.appendChild(el("pre", "log", a.log)); }
        list.appendChild(item);
      });
      td.appendChild(list);
    }
    if (t.change) { td.appendChild(el("div", "", "Compared with the previous run: " + t.change.replace(/_/g, " "))); }
    if (t.diff) { td.appendChild(el("div", "", "Diff:")); td.appendChild(el("pre", "diff", t.diff)); }
    td.appendChild(el("div", "", t.log_truncated ? "Log (its end):" : "Log:"));
    td.appendChild(el("pre", "log", t.log || "(empty)"));
    tr.appendChild(td);
    row.detail = tr;
    row.tr.classList.add("expanded");
    row.tr.parentNode.insertBefore(tr, row.tr.nextSibling);
  }

  var filterInput = document.getElementById("filter-text");
  var shown = document.getElementById("shown-count");
  function applyFilter() {
    var needle = filterInput.value.toLowerCase();
    var n = 0;
    rows.forEach(function (row) {
      var visible = enabled[row.t.status] !== false && (!needle || row.text.indexOf(needle) >= 0);
      row.tr.style.display = visible ? "" : "none";
      if (row.detail) { row.detail.style.display = visible ? "" : "none"; }
      if (visible) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " testcases shown";
  }
  filterInput.addEventListener("input", applyFilter);

  // Sorting by duration: slowest first, then fastest first, then run order.
  var sortState = 0;
  var sortHeader = document.getElementById("sort-duration");
  sortHeader.addEventListener("click", function () {
    sortState = (sortState + 1) % 3;
    var sorted = rows.slice();
    if (sortState === 1) { sorted.sort(function (a, b) { return (b.t.duration || 0) - (a.t.duration || 0) || a.index - b.index; }); }
    if (sortState === 2) { sorted.sort(function (a, b) { return (a.t.duration || 0) - (b.t.duration || 0) || a.index - b.index; }); }
    sortHeader.textContent = ["duration", "duration \u25bc", "duration \u25b2"][sortState];
    var frag = document.createDocumentFragment();
    sorted.forEach(function (row) { frag.appendChild(row.tr); if (row.detail) { frag.appendChild(row.detail); } });
    tbody.appendChild(frag);
  });
  applyFilter();

  // Timeline: one lane per slot, one bar per fragment that ran. A result a
  // --failed run carried over ran in an earlier run: drawn, its bars would
  // stretch the time axis back to that run and sit on its slots.
  var timeline = document.getElementById("timeline");
  var bars = [];
  var t0 = Infinity, t1 = -Infinity;
  data.testcases.forEach(function (t) {
    if (t.carried_over) { return; }
    t.fragments.forEach(function (f) {
      if (f.start === null || f.end === null || f.slot === null) { return; }
      bars.push({test: t.id, status: t.status, f: f});
      if (f.start < t0) { t0 = f.start; }
      if (f.end > t1) { t1 = f.end; }
    });
  });
  if (!bars.length) {
    timeline.appendChild(el("p", "", "No fragment ran in a slot."));
  } else {
    var span = Math.max(t1 - t0, 1e-6);
    var lanes = {};
    bars.forEach(function (b) {
      var slot = b.f.slot;
      if (!lanes[slot]) {
        var lane = el("div", "lane");
        lane.appendChild(el("span", "lane-label", "slot " + slot));
        var body = el("div", "lane-body");
        lane.appendChild(body);
        lanes[slot] = {lane: lane, body: body};
      }
      // A fragment that completed in a failing testcase is still drawn as failing.
      var failing = b.status === "FAIL" || b.status === "ERROR";
      var bar = el("div", "frag " + b.f.state + (failing ? " failing" : ""));
      bar.style.left = ((b.f.start - t0) / span * 100) + "%";
      bar.style.width = ((b.f.end - b.f.start) / span * 100) + "%";
      bar.title = b.test + ":" + b.f.name + " " + b.f.state + " " + seconds(b.f.end - b.f.start);
      lanes[slot].body.appendChild(bar);
    });
    Object.keys(lanes).map(Number).sort(function (a, b) { return a - b; }).forEach(function (slot) {
      timeline.appendChild(lanes[slot].lane);
    });
    timeline.appendChild(el("div", "timeline-span", "0s \u2013 " + seconds(t1 - t0)));
  }
})();
"""
