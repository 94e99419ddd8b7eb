/* The Model health page: fetches api/health/<dataset> and draws it with uPlot (vendored).
   Every text from the data goes through textContent, never HTML: reasons and names are typed by people. */
(function () {
  "use strict";

  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const airflowBase = base.replace(/model-health\/$/, ""); // Airflow's own pages (dags/<id>/runs/<run>)
  // Okabe-Ito: told apart with the common colour-vision deficiencies.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const charts = [];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function link(text, href, where) {
    if (!href) return null;
    const absolute = /^https?:\/\//.test(href);
    const target = absolute ? href : (where === "airflow" ? airflowBase : base) + href;
    return el("a", { href: target, target: where === "airflow" ? "_top" : "_blank", rel: "noopener" }, text);
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, " UTC") : "";
  }

  function width(node) {
    return Math.max(480, node.getBoundingClientRect().width - 10);
  }

  function status(text) {
    document.getElementById("status").textContent = text;
  }

  function clear(id) {
    const node = document.querySelector(id);
    node.replaceChildren();
    return node;
  }

  function cellColor(ratio) {
    if (ratio === null || ratio === undefined) return "#eef1f4"; // not judged
    if (ratio >= 1) {
      const t = Math.min(1, (ratio - 1) / 2); // 1 .. 3 and more: red, darker
      return `rgb(${Math.round(215 - 90 * t)}, ${Math.round(48 - 40 * t)}, ${Math.round(39 - 30 * t)})`;
    }
    const t = Math.max(0, ratio); // 0 .. 1: white to amber
    return `rgb(255, ${Math.round(255 - 70 * t)}, ${Math.round(255 - 200 * t)})`;
  }

  function verticalLines(u, moments, color, dash) {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash(dash.map((d) => d * devicePixelRatio));
    for (const m of moments) {
      if (m < u.scales.x.min || m > u.scales.x.max) continue;
      const x = Math.round(u.valToPos(m, "x", true));
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  }

  function championChanges(data) {
    return data.versions.decisions
      .filter((e) => e.type === "promoted" || e.type === "rollback")
      .map((e) => ({ at: Date.parse(e.time) / 1000, version: e.version, type: e.type }));
  }

  function heatmap(data) {
    const drift = data.drift;
    const node = clear("#heatmap");
    if (!drift.ends.length) {
      node.append(el("p", { class: "empty" }, "No judged hourly window in this range."));
      clear("#share");
      clear("#legend");
      clear("#reports");
      return;
    }
    const n = drift.features.length;
    const rowOf = (i) => n - i - 1; // first feature on top
    const changes = championChanges(data);
    const empty = drift.ends.map(() => null);
    const readout = el("div", { class: "note" }, "Point at a cell to read it.");
    const chart = new uPlot(
      {
        width: width(node),
        height: 40 + 18 * (n + 0.6),
        legend: { show: false },
        cursor: { drag: { x: true, y: false } },
        // y: the features in [0, n], the alert ticks in the strip above them
        scales: { x: { time: true, range: [drift.ends[0] - 3600, drift.ends[drift.ends.length - 1]] }, y: { auto: false, range: [0, n + 0.6] } },
        series: [{}, { stroke: "transparent", points: { show: false } }],
        axes: [
          {},
          {
            size: 170,
            splits: () => drift.features.map((_, i) => rowOf(i) + 0.5).concat([n + 0.3]),
            values: () => drift.features.map((f) => (drift.critical.includes(f) ? f + " *" : f)).concat(["alerts"]),
            grid: { show: false },
          },
        ],
        hooks: {
          draw: [
            (u) => {
              const ctx = u.ctx;
              const y = (value) => u.valToPos(value, "y", true);
              for (let w = 0; w < drift.ends.length; w++) {
                const x0 = u.valToPos(drift.ends[w] - 3600, "x", true);
                const x1 = u.valToPos(drift.ends[w], "x", true);
                for (let f = 0; f < n; f++) {
                  const top = y(rowOf(f) + 1);
                  ctx.fillStyle = cellColor(drift.scores[f][w]);
                  ctx.fillRect(x0, top, Math.max(1, x1 - x0), y(rowOf(f)) - top - 1);
                }
              }
              ctx.fillStyle = "#b42318"; // alerts: a tick in the strip above the first row
              for (const w of drift.alerts) {
                const x0 = u.valToPos(drift.ends[w] - 3600, "x", true);
                const x1 = u.valToPos(drift.ends[w], "x", true);
                ctx.fillRect(x0, y(n + 0.5), Math.max(2, x1 - x0), y(n + 0.1) - y(n + 0.5));
              }
              verticalLines(u, drift.triggers.map((t) => t.end), "#E69F00", [6, 4]);
              verticalLines(u, changes.map((c) => c.at), "#0072B2", [2, 3]);
            },
          ],
          setCursor: [
            (u) => {
              const { left, top } = u.cursor;
              if (left === undefined || left < 0) return;
              const at = u.posToVal(left, "x");
              const f = n - 1 - Math.floor(u.posToVal(top, "y")); // the strip above gives f < 0
              let w = drift.ends.findIndex((end) => end >= at);
              if (w < 0 || f < 0 || f >= n) return;
              const value = drift.scores[f][w];
              readout.textContent = `${new Date(drift.ends[w] * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC, ${drift.features[f]}: ` +
                (value === null ? `not judged (${drift.status[w]})` : `${value.toFixed(3)} of the threshold${value >= 1 ? " (drifted)" : ""}`) +
                (drift.alerts.includes(w) ? "; the window alerted" : "");
            },
          ],
        },
      },
      [drift.ends, empty],
      node,
    );
    charts.push(chart);
    node.append(readout);
    const legend = clear("#legend");
    legend.append(
      el("span", {}, el("span", { class: "swatch", style: "background: linear-gradient(90deg, #fff, rgb(255,185,55))" }), " 0 to 1"),
      el("span", {}, el("span", { class: "swatch", style: "background: linear-gradient(90deg, rgb(215,48,39), rgb(125,8,9))" }), " 1 (drifted) to 3 and more"),
      el("span", {}, el("span", { class: "swatch", style: "background: #eef1f4" }), " not judged"),
      el("span", {}, "* critical feature: drift in one alone is dataset drift"),
    );
    const rule = drift.rule;
    legend.append(el("span", {}, `Rule: ${Math.round(rule.drift_share * 100)} % of features drifted, or one critical feature, in ${rule.consecutive_windows} windows in a row; cooldown ${rule.cooldown_hours} h.`));
    share(drift, changes);
    reports(drift);
  }

  function share(drift, changes) {
    const node = clear("#share");
    const limit = drift.ends.map(() => drift.rule.drift_share);
    charts.push(
      new uPlot(
        {
          width: width(node),
          height: 150,
          scales: { x: { time: true }, y: { auto: false, range: [0, 1] } },
          series: [
            {},
            { label: "share of features drifted", stroke: "#000000", width: 1, spanGaps: false },
            { label: `limit (${drift.rule.drift_share})`, stroke: "#b42318", dash: [6, 4], width: 1, points: { show: false } },
          ],
          hooks: {
            draw: [
              (u) => {
                verticalLines(u, drift.triggers.map((t) => t.end), "#E69F00", [6, 4]);
                verticalLines(u, changes.map((c) => c.at), "#0072B2", [2, 3]);
              },
            ],
          },
        },
        [drift.ends, drift.share, limit],
        node,
      ),
    );
  }

  function reports(drift) {
    const node = clear("#reports");
    const rows = drift.reports.filter(([, href]) => href).slice(-20).reverse();
    const triggers = drift.triggers.slice(-20).reverse();
    if (rows.length) {
      node.append(el("h3", {}, "Evidently reports of the windows that alerted (newest first)"));
      node.append(el("ul", {}, rows.map(([i, href]) => el("li", {}, link(new Date(drift.ends[i] * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC", href)))));
    }
    if (triggers.length) {
      node.append(el("h3", {}, "Retrainings the drift monitor triggered"));
      node.append(el("ul", {}, triggers.map((t) => el("li", {}, link(t.run_id, t.link, "airflow"), " ", t.reason || ""))));
    }
  }

  function days(list) {
    return list.map((d) => Date.parse(d + "T00:00:00Z") / 1000);
  }

  function dayRange(data) {
    // the page's whole range, so one day of data is not stretched over years
    const [first, last] = days([data.range.first, data.range.last]);
    return { time: true, range: [first, last + 86400] };
  }

  function auc(data) {
    const perf = data.performance;
    const node = clear("#auc");
    if (!perf.days.length) {
      node.append(el("p", { class: "empty" }, "No realized or estimated AUC in this range yet (outcomes mature after the label delay)."));
      return;
    }
    // older records have no band or drop line: those series stay empty on their days
    const bandLow = perf.estimated_low || perf.days.map(() => null);
    const bandHigh = perf.estimated_high || perf.days.map(() => null);
    const drop = perf.drop_line || perf.days.map(() => null);
    const values = perf.realized.concat(perf.estimated, bandLow, drop).filter((v) => v !== null);
    const low = Math.min(perf.floor, ...values) - 0.02;
    const level = perf.confidence ? `${Math.round(perf.confidence * 100)} % ` : "";
    charts.push(
      new uPlot(
        {
          width: width(node),
          height: 260,
          scales: { x: dayRange(data), y: { auto: false, range: [Math.max(0, low), 1] } },
          series: [
            {},
            { label: "realized AUC (matured outcomes)", stroke: "#0072B2", width: 2, points: { show: true } },
            { label: "estimated AUC (scores only, CBPE)", stroke: "#E69F00", width: 2, dash: [4, 3], points: { show: true } },
            { label: `estimate's ${level}band, high`, stroke: "#f3c46b", width: 1, points: { show: false } },
            { label: `estimate's ${level}band, low`, stroke: "#f3c46b", width: 1, points: { show: false } },
            { label: `floor (${perf.floor})`, stroke: "#b42318", width: 1, dash: [6, 4], points: { show: false } },
            { label: `drop line (reference estimate - ${perf.max_drop})`, stroke: "#7b8794", width: 1, dash: [2, 3], points: { show: false } },
          ],
          bands: [{ series: [3, 4], fill: "rgba(230, 159, 0, 0.18)" }],
        },
        [days(perf.days), perf.realized, perf.estimated, bandHigh, bandLow, perf.days.map(() => perf.floor), drop],
        node,
      ),
    );
    node.append(
      el("p", { class: "note" }, "The band is the estimate's sampling band (the day's rows resampled); an estimate alerts below the floor, or when its whole band lies under the drop line."),
    );
    for (const a of perf.estimated_alerts || []) {
      node.append(el("p", { class: "warn" }, `Estimated-AUC alert on ${a.day}: ${a.rules.join("; ")}`));
    }
  }

  function fairness(data) {
    const fair = data.fairness;
    const node = clear("#fairness .body");
    if (!fair.days.length) {
      node.append(el("p", { class: "empty" }, "No judged day of decisions in this range."));
      return;
    }
    for (const [attribute, found] of Object.entries(fair.by)) {
      node.append(el("h3", {}, attribute));
      node.append(el("p", {}, `Favorable decision: ${fair.decision}.`));
      const small = Object.entries(found.not_judged || {});
      if (small.length) {
        node.append(
          el("p", { class: "note" }, `Not judged, under ${fair.min_group_rows} decisions a day: ` + small.map(([g, n]) => `${g} (at most ${n})`).join(", ") + "."),
        );
      }
      const groups = Object.keys(found.approval_rate);
      const rates = el("div");
      node.append(rates);
      charts.push(
        new uPlot(
          {
            width: width(node),
            height: 200,
            scales: { x: dayRange(data), y: { auto: false, range: [0, 1] } },
            series: [{}].concat(groups.map((g, i) => ({ label: `favorable-decision rate, ${attribute}=${g}`, stroke: PALETTE[i % PALETTE.length], width: 2 }))),
          },
          [days(fair.days)].concat(groups.map((g) => found.approval_rate[g])),
          rates,
        ),
      );
      const ratio = el("div");
      node.append(ratio);
      charts.push(
        new uPlot(
          {
            width: width(node),
            height: 180,
            scales: { x: dayRange(data), y: { auto: false, range: [0, 1.2] } },
            series: [
              {},
              { label: "lowest / highest favorable-decision rate", stroke: "#000000", width: 2 },
              { label: "interval low", stroke: "#9aa5b1", width: 1, dash: [2, 2] },
              { label: "interval high", stroke: "#9aa5b1", width: 1, dash: [2, 2] },
              { label: `limit (${fair.limit})`, stroke: "#b42318", width: 1, dash: [6, 4], points: { show: false } },
            ],
          },
          [days(fair.days), found.ratio, found.low, found.high, fair.days.map(() => fair.limit)],
          ratio,
        ),
      );
      if (found.alerts.length) {
        node.append(el("p", { class: "warn" }, `Bias alerts on ${found.alerts.map((i) => fair.days[i]).join(", ")}`));
      }
    }
  }

  function champion(data) {
    const v = data.versions;
    const node = clear("#champion .body");
    const c = v.champion;
    if (!c.version) {
      node.append(el("p", { class: "empty" }, "No champion yet: the first retraining that passes every gate makes one."));
    } else {
      node.append(
        el("p", {}, el("span", { class: "big" }, `v${c.version}`), " ", c.since ? `champion since ${when(c.since)}, by ${c.by}` : "", " ",
          link("in MLflow", c.mlflow)),
      );
      if (c.unexplained) {
        node.append(el("p", { class: "warn" }, "The registry serves a champion the audit trail's last promotion or rollback did not make: it was moved outside the package's DAGs (registry_reconciliation alerts on it)."));
      }
      if (c.event && c.event.reason) node.append(el("p", {}, "Reason: ", c.event.reason));
    }
    const aliases = Object.entries(v.aliases).filter(([a]) => a !== "champion");
    node.append(el("p", {}, aliases.map(([alias, version]) => el("span", { class: "pill" }, `${alias}: ${version ? "v" + version : "none"}`))));
  }

  function detail(e) {
    const parts = [];
    if (e.reason) parts.push(e.reason);
    if (e.failed_gates && e.failed_gates.length) parts.push("failed " + e.failed_gates.join(", "));
    if (e.replaced_version) parts.push(`replaced v${e.replaced_version}`);
    if (e.mode) parts.push(`mode ${e.mode}`);
    if (e.timed_out) parts.push("nobody answered before the timeout");
    const evidence = e.evidence || {};
    const comparison = evidence.comparison || evidence;
    if (comparison.difference !== undefined && comparison.difference !== null) {
      parts.push(`AUC difference ${Number(comparison.difference).toFixed(4)} [${Number(comparison.lower).toFixed(4)}, ${Number(comparison.upper).toFixed(4)}]`);
    }
    return parts.join("; ");
  }

  function events(list, id, emptyText) {
    const node = clear(id);
    if (!list.length) {
      node.append(el("p", { class: "empty" }, emptyText));
      return;
    }
    node.append(
      el("table", {},
        el("thead", {}, el("tr", {}, ["when", "what", "version", "who", "why and evidence", "links"].map((h) => el("th", {}, h)))),
        el("tbody", {}, list.slice(0, 200).map((e) =>
          el("tr", {},
            el("td", {}, when(e.time)),
            el("td", {}, el("span", { class: "pill" }, e.type)),
            el("td", {}, e.version ? `v${e.version}` : ""),
            el("td", {}, e.actor || ""),
            el("td", {}, detail(e)),
            el("td", {}, link("run", e.links && e.links.run, "airflow"), " ", link("MLflow", e.links && e.links.mlflow)),
          ))),
      ),
    );
  }

  async function load() {
    const dataset = document.getElementById("dataset").value;
    const span = document.getElementById("days").value;
    status("loading…");
    const started = performance.now();
    const response = await fetch(`${base}api/health/${encodeURIComponent(dataset)}?days=${span}`, { credentials: "same-origin" });
    if (!response.ok) {
      status(`${response.status}: ${(await response.json().catch(() => ({}))).detail || response.statusText}`);
      return;
    }
    const data = await response.json();
    while (charts.length) charts.pop().destroy();
    champion(data);
    heatmap(data);
    auc(data);
    fairness(data);
    events(data.versions.decisions, "#timeline .body", "No decision recorded yet.");
    events(data.versions.alerts, "#alerts .body", "No alert recorded.");
    status(`${data.dataset}: ${data.range.first} to ${data.range.last}, ${data.drift.ends.length} hourly windows; drawn in ${Math.round(performance.now() - started)} ms`);
    document.body.dataset.loaded = dataset;
  }

  async function start() {
    const response = await fetch(`${base}api/datasets`, { credentials: "same-origin" });
    if (!response.ok) {
      status(`${response.status}: ${(await response.json().catch(() => ({}))).detail || response.statusText}`);
      return;
    }
    const found = await response.json();
    const select = document.getElementById("dataset");
    for (const name of found.datasets) select.append(el("option", { value: name }, name));
    const asked = new URLSearchParams(location.search);
    select.value = asked.get("dataset") || found.default;
    const span = document.getElementById("days");
    if ([...span.options].some((o) => o.value === asked.get("days"))) span.value = asked.get("days");
    select.addEventListener("change", load);
    document.getElementById("days").addEventListener("change", load);
    await load();
  }

  start().catch((error) => status(`failed: ${error}`));
})();
