// Compare runs: parallel coordinates and a scatter plot on <canvas>, drawn from the JSON on the page.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("compare-data").textContent);
  var runs = data.runs, dims = data.dims.filter(function (d) {
    return d.values.some(function (v) { return v != null && v !== ""; });
  });
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#c026d3", "#65a30d"];
  function scaleOf(d) {
    if (d.numeric) {
      var vals = d.values.filter(function (v) { return v != null; });
      var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
      if (lo === hi) { lo -= 1; hi += 1; }
      return { f: function (v) { return v == null ? null : (v - lo) / (hi - lo); }, lo: lo, hi: hi };
    }
    var cats = Array.from(new Set(d.values.filter(function (v) { return v != null; }).map(String))).sort();
    return { f: function (v) { return v == null ? null : cats.length < 2 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1); }, cats: cats };
  }
  function fmt(v) { return typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(+v.toPrecision(4))) : String(v); }
  function setup(canvas) {
    var ratio = window.devicePixelRatio || 1, w = canvas.clientWidth, h = Number(canvas.getAttribute("height"));
    canvas.width = w * ratio; canvas.height = h * ratio; canvas.style.height = h + "px";
    var ctx = canvas.getContext("2d"); ctx.scale(ratio, ratio);
    return { ctx: ctx, w: w, h: h };
  }
  var scales = dims.map(scaleOf);
  // the parallel plot draws the first axes only (the server puts those that differ first): a few dozen axes
  // stay readable, and hundreds would cost the main thread more than the 200 ms a frame may take
  var PC_MAX = data.pc_max || 24;
  // the chosen axes and the scatter's X/Y live in the URL (pc= repeated, sx=, sy=: the keys' names), so a
  // reload or a shared link shows the same plots; names that are not keys of these runs are ignored
  var query = new URLSearchParams(location.search), byName = {};
  dims.forEach(function (d, i) { byName[d.name] = i; });
  function known(name) { return Object.prototype.hasOwnProperty.call(byName, name); }
  var pcIdx = [];
  query.getAll("pc").forEach(function (n) { if (known(n) && pcIdx.indexOf(byName[n]) < 0) pcIdx.push(byName[n]); });
  pcIdx.sort(function (a, b) { return a - b; });
  if (!pcIdx.length) pcIdx = dims.slice(0, PC_MAX).map(function (d, i) { return i; });
  pcIdx = pcIdx.slice(0, PC_MAX);
  var pdims, pscales;
  function choosePc(idx) {
    pcIdx = idx.slice(0, PC_MAX);
    pdims = pcIdx.map(function (i) { return dims[i]; });
    pscales = pcIdx.map(function (i) { return scales[i]; });
    document.getElementById("parallel").setAttribute("data-axes", JSON.stringify(pdims.map(function (d) { return d.name; })));
  }
  choosePc(pcIdx);
  var pcSel = document.getElementById("pc-axes");
  dims.forEach(function (d, i) { var o = new Option(d.name, String(i)); o.selected = pcIdx.indexOf(i) >= 0; pcSel.add(o); });
  var colorSel = document.getElementById("pc-color");
  var numericIdx = [];
  dims.forEach(function (d, i) { if (d.numeric) numericIdx.push(i); });
  numericIdx.forEach(function (i) { colorSel.add(new Option(dims[i].name, String(i))); });
  var metricIdx = numericIdx.filter(function (i) { return dims[i].name.indexOf("metrics.") === 0; });
  if (metricIdx.length) colorSel.value = String(metricIdx[0]);
  var brush = {};  // dim index -> [lo, hi] in 0..1 (from the top)

  function drawParallel() {
    var c = setup(document.getElementById("parallel")), ctx = c.ctx, pad = 40, top = 30, bottom = c.h - 40;
    ctx.clearRect(0, 0, c.w, c.h);
    if (!pdims.length) { ctx.fillText("No parameters or metrics to draw", 20, 40); return; }
    var step = pdims.length > 1 ? (c.w - 2 * pad) / (pdims.length - 1) : 0;
    var ci = Number(colorSel.value), cs = isNaN(ci) ? null : scales[ci];
    function y(t) { return bottom - t * (bottom - top); }
    runs.forEach(function (run, r) {
      var keep = Object.keys(brush).every(function (k) {
        var t = pscales[k].f(pdims[k].values[r]); if (t == null) return false;
        var yy = 1 - t; return yy >= brush[k][0] && yy <= brush[k][1];
      });
      var t0 = cs ? cs.f(dims[ci].values[r]) : null;
      ctx.strokeStyle = keep ? (t0 == null ? "#94a3b8" : "hsl(" + Math.round(220 - 220 * t0) + ",70%,45%)") : "rgba(148,163,184,.15)";
      ctx.lineWidth = keep ? 1.4 : 1;
      ctx.beginPath();
      var started = false;
      pdims.forEach(function (d, i) {
        var t = pscales[i].f(d.values[r]);
        if (t == null) { started = false; return; }
        var xx = pad + i * step, yy = y(t);
        if (!started) { ctx.moveTo(xx, yy); started = true; } else ctx.lineTo(xx, yy);
      });
      ctx.stroke();
    });
    ctx.fillStyle = "#1d2430"; ctx.strokeStyle = "#475569"; ctx.lineWidth = 1; ctx.font = "11px system-ui, sans-serif";
    pdims.forEach(function (d, i) {
      var xx = pad + i * step;
      ctx.beginPath(); ctx.moveTo(xx, top); ctx.lineTo(xx, bottom); ctx.stroke();
      ctx.textAlign = "center";
      var label = d.name.length > 22 ? d.name.slice(0, 21) + "…" : d.name;
      ctx.fillText(label, xx, top - 12);
      var s = pscales[i];
      ctx.fillStyle = "#687385";
      if (s.cats) { s.cats.slice(0, 12).forEach(function (cat) { ctx.fillText(cat.slice(0, 14), xx, y(s.f(cat)) - 3); }); }
      else { ctx.fillText(fmt(s.hi), xx, top - 1); ctx.fillText(fmt(s.lo), xx, bottom + 14); }
      ctx.fillStyle = "#1d2430";
      if (brush[i]) { ctx.fillStyle = "rgba(37,99,235,.15)"; ctx.fillRect(xx - 8, top + brush[i][0] * (bottom - top), 16, (brush[i][1] - brush[i][0]) * (bottom - top)); ctx.fillStyle = "#1d2430"; }
    });
  }
  (function brushing() {
    var canvas = document.getElementById("parallel"), dragging = null;
    function pos(ev) { var r = canvas.getBoundingClientRect(); return { x: ev.clientX - r.left, y: ev.clientY - r.top }; }
    function axisAt(x) {
      var pad = 40, step = pdims.length > 1 ? (canvas.clientWidth - 2 * pad) / (pdims.length - 1) : 0;
      for (var i = 0; i < pdims.length; i++) if (Math.abs(pad + i * step - x) < 12) return i;
      return -1;
    }
    canvas.addEventListener("mousedown", function (ev) {
      var p = pos(ev), i = axisAt(p.x); if (i < 0) return;
      var top = 30, bottom = Number(canvas.getAttribute("height")) - 40;
      dragging = { i: i, y0: Math.min(1, Math.max(0, (p.y - top) / (bottom - top))) };
      delete brush[i]; drawParallel();
    });
    window.addEventListener("mousemove", function (ev) {
      if (!dragging) return;
      var p = pos(ev), top = 30, bottom = Number(canvas.getAttribute("height")) - 40;
      var y1 = Math.min(1, Math.max(0, (p.y - top) / (bottom - top)));
      brush[dragging.i] = [Math.min(dragging.y0, y1), Math.max(dragging.y0, y1)]; drawParallel();
    });
    window.addEventListener("mouseup", function () {
      if (dragging && brush[dragging.i] && brush[dragging.i][1] - brush[dragging.i][0] < 0.01) delete brush[dragging.i];
      dragging = null; drawParallel();
    });
  })();

  var sx = document.getElementById("sc-x"), sy = document.getElementById("sc-y");
  dims.forEach(function (d, i) { sx.add(new Option(d.name, String(i))); sy.add(new Option(d.name, String(i))); });
  var firstParam = dims.findIndex(function (d) { return d.name.indexOf("params.") === 0; });
  sx.value = String(known(query.get("sx")) ? byName[query.get("sx")] : firstParam >= 0 ? firstParam : 0);
  sy.value = String(known(query.get("sy")) ? byName[query.get("sy")] : metricIdx.length ? metricIdx[0] : Math.min(1, dims.length - 1));
  function drawScatter() {
    var canvas = document.getElementById("scatter");
    var c = setup(canvas), ctx = c.ctx, pad = 56;
    ctx.clearRect(0, 0, c.w, c.h);
    var xi = Number(sx.value), yi = Number(sy.value);
    if (!dims.length) return;
    canvas.setAttribute("data-x", dims[xi].name); canvas.setAttribute("data-y", dims[yi].name);
    var xs = scales[xi], ys = scales[yi];
    ctx.strokeStyle = "#cbd5e1"; ctx.lineWidth = 1;
    ctx.strokeRect(pad, 16, c.w - pad - 16, c.h - pad - 16);
    ctx.fillStyle = "#687385"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center";
    ctx.fillText(dims[xi].name, pad + (c.w - pad - 16) / 2, c.h - 14);
    if (xs.lo != null) { ctx.fillText(fmt(xs.lo), pad, c.h - pad + 14); ctx.fillText(fmt(xs.hi), c.w - 16, c.h - pad + 14); }
    ctx.save(); ctx.translate(14, 16 + (c.h - pad - 16) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(dims[yi].name, 0, 0); ctx.restore();
    if (ys.lo != null) { ctx.textAlign = "right"; ctx.fillText(fmt(ys.hi), pad - 4, 24); ctx.fillText(fmt(ys.lo), pad - 4, c.h - pad); }
    runs.forEach(function (run, r) {
      var tx = xs.f(dims[xi].values[r]), ty = ys.f(dims[yi].values[r]);
      if (tx == null || ty == null) return;
      var px = pad + 6 + tx * (c.w - pad - 28), py = c.h - pad - 6 - ty * (c.h - pad - 28);
      ctx.fillStyle = PALETTE[r % PALETTE.length]; ctx.beginPath(); ctx.arc(px, py, 4.5, 0, Math.PI * 2); ctx.fill();
    });
  }
  // each plot is drawn in a task of its own, after the page's first frame: the parsing and layout of the
  // page, and each plot, are separate pieces of main-thread work (none holds the tab for long)
  var t0 = performance.now();
  function later(fn) { requestAnimationFrame(function () { setTimeout(fn, 0); }); }
  later(function () {
    drawParallel();
    later(function () {
      drawScatter();
      window.__compareMs = performance.now() - t0;
      document.body.setAttribute("data-compare-ready", "1");
    });
  });
  // the choices go into the page's URL (replaced, not pushed: a choice is not a page to go back to), and into
  // the links and forms that lead to this page again
  function rewrite(q) {
    ["pc", "sx", "sy"].forEach(function (k) { q.delete(k); });
    pcIdx.forEach(function (i) { q.append("pc", dims[i].name); });
    if (dims.length) { q.set("sx", dims[Number(sx.value)].name); q.set("sy", dims[Number(sy.value)].name); }
    return q;
  }
  function saveChoices() {
    history.replaceState(null, "", location.pathname + "?" + rewrite(new URLSearchParams(location.search)).toString());
    var toggle = document.getElementById("diff-toggle");
    if (toggle) {
      var u = new URL(toggle.href, location.href);
      toggle.href = u.pathname + "?" + rewrite(u.searchParams).toString();
    }
    var form = document.getElementById("compare-filter");
    if (form) {
      form.querySelectorAll("input.js-choice").forEach(function (el) { el.remove(); });
      rewrite(new URLSearchParams()).forEach(function (v, k) {
        var el = document.createElement("input");
        el.type = "hidden"; el.name = k; el.value = v; el.className = "js-choice"; form.appendChild(el);
      });
    }
  }
  pcSel.addEventListener("change", function () {
    var idx = [];
    Array.prototype.forEach.call(pcSel.selectedOptions, function (o) { idx.push(Number(o.value)); });
    brush = {};
    choosePc(idx);
    saveChoices(); drawParallel();
  });
  colorSel.addEventListener("change", drawParallel);
  sx.addEventListener("change", function () { saveChoices(); drawScatter(); });
  sy.addEventListener("change", function () { saveChoices(); drawScatter(); });
  window.addEventListener("resize", function () { drawParallel(); drawScatter(); });
})();
