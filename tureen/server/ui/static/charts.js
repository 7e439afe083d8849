// Metric charts: one uPlot per metric key, a line per run. One request per chart fetches every run's line;
// the server downsamples each to `points` buckets of one shared grid, keeping each bucket's min and max;
// zooming fetches the visible range again through the same request.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("chart-config").textContent);
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#c026d3", "#65a30d",
    "#b45309", "#4f46e5", "#0d9488", "#e11d48"];
  function color(i) { return PALETTE[i % PALETTE.length]; }
  document.querySelectorAll(".swatch").forEach(function (s) { s.style.background = color(Number(s.getAttribute("data-i"))); });
  var xMode = cfg.x;  // step | time | relative: the server answers steps, or milliseconds (absolute or since the run's start)
  function toX(v) { return xMode === "step" ? v : v / 1000; }
  function fromX(v) { return xMode === "step" ? v : v * 1000; }

  // one request per chart: every run's line of one metric, downsampled on one shared grid of buckets
  function fetchLines(key, lo, hi) {
    var q = new URLSearchParams({ key: key, x: xMode, points: String(cfg.points) });
    cfg.runs.forEach(function (run) { q.append("run", run.id); });
    if (lo != null) q.set("lo", String(Math.floor(fromX(lo))));
    if (hi != null) q.set("hi", String(Math.ceil(fromX(hi))));
    return fetch(cfg.api + "?" + q.toString(), { headers: { "Accept": "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
        return body;
      });
    });
  }
  // Smoothing as MLflow's charts do it: an exponential moving average whose start is debiased (the running
  // average begins at zero, so each value is divided by 1 - factor^n, n = the points seen so far); the factor
  // is clamped to 0..0.99; missing points stay gaps and do not count.
  function clampFactor(f) { f = Number(f); return isFinite(f) ? Math.min(0.99, Math.max(0, f)) : 0; }
  function smooth(ys, factor) {
    factor = clampFactor(factor);
    if (!factor) return ys;
    var out = new Array(ys.length), acc = 0, n = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (y == null || !isFinite(y)) { out[i] = y == null ? null : y; continue; }
      acc = acc * factor + (1 - factor) * y;
      n++;
      out[i] = acc / (1 - Math.pow(factor, n));
    }
    return out;
  }
  window.__tureenSmooth = smooth;  // the tests compare the plot's data with it and with their own sums
  function table(body, grid) {
    var xs = body.x.map(toX), ys = body.y.slice();
    if (body.downsampled && xs.length > 1 && grid.hi != null) {
      // a bucket's min and max share its centre: spread them a quarter bucket apart (the same on every
      // run, so the lines of one chart keep sharing their x values)
      var bw = (toX(grid.hi) - toX(grid.lo)) / grid.points / 4;
      for (var i = 1; i < xs.length; i++) if (xs[i] === xs[i - 1]) { xs[i - 1] -= bw; xs[i] += bw; }
    }
    return [xs, ys];
  }
  function build(fig, key) {
    var plotEl = fig.querySelector(".plot"), note = fig.querySelector(".chart-note");
    var state = { plot: null, loading: 0 };
    function load(lo, hi) {
      state.loading++;
      var mine = state.loading;
      note.textContent = "loading…";
      return fetchLines(key, lo, hi).catch(function (e) {
        return { runs: cfg.runs.map(function () { return { x: [], y: [] }; }), error: e.message };
      }).then(function (grid) {
        var bodies = grid.runs;
        if (grid.error) bodies.forEach(function (b) { b.error = grid.error; });
        if (mine !== state.loading) return;
        var tables = bodies.map(function (b) { return table(b, grid); });
        var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
        for (var s = 1; s < data.length; s++) data[s] = smooth(data[s], cfg.smooth);
        var total = 0, ds = false, errs = [];
        bodies.forEach(function (b) { total += b.count || 0; ds = ds || b.downsampled; if (b.error) errs.push(b.error); });
        var logOk = true;
        for (var s2 = 1; s2 < data.length; s2++) data[s2].forEach(function (v) { if (v != null && v <= 0) logOk = false; });
        note.textContent = total + " points" + (ds ? " (downsampled, min/max kept)" : "") +
          (cfg.log && !logOk ? " · log scale needs positive values" : "") + (errs.length ? " · " + errs[0] : "");
        if (state.plot && lo != null) { state.plot.setData(data, false); return; }
        if (state.plot) state.plot.destroy();
        var series = [{ label: xMode === "step" ? "step" : xMode === "time" ? "time" : "seconds" }];
        cfg.runs.forEach(function (run, i) {
          series.push({ label: run.name, stroke: color(i), width: 1.5, spanGaps: true, points: { show: false } });
        });
        var opts = {
          width: Math.max(320, plotEl.clientWidth || 560), height: 300, series: series,
          scales: { x: { time: xMode === "time" }, y: { distr: cfg.log && logOk ? 3 : 1 } },
          axes: [{}, { size: 60 }], legend: { show: cfg.runs.length <= 12 },
          cursor: { drag: { x: true, y: false } },
          hooks: { setSelect: [function (u) {
            if (u.select.width < 4) return;
            var lo2 = u.posToVal(u.select.left, "x"), hi2 = u.posToVal(u.select.left + u.select.width, "x");
            u.setScale("x", { min: lo2, max: hi2 });
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            load(lo2, hi2);
          }] },
        };
        state.plot = fig._plot = new uPlot(opts, data, plotEl);
      }).finally(function () { if (mine === state.loading) fig.setAttribute("data-ready", "1"); });
    }
    fig._reset = function () { load(null, null); };
    return load(null, null);
  }
  var figs = Array.prototype.slice.call(document.querySelectorAll("figure.chart"));
  var t0 = performance.now();
  Promise.all(figs.map(function (f) { return build(f, f.getAttribute("data-key")); })).then(function () {
    window.__chartsMs = performance.now() - t0;
    document.body.setAttribute("data-charts-ready", "1");
  });
  var reset = document.getElementById("chart-reset");
  if (reset) reset.addEventListener("click", function () { figs.forEach(function (f) { f._reset(); }); });
})();
