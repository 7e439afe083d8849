// tureen UI behaviour that htmx does not cover: selections, dialogs, folding child runs, copy buttons.
// Every page works without it (forms and links); this only makes them quicker to use.
(function () {
  "use strict";
  function updateSelection(form) {
    var boxes = form.querySelectorAll('input[type=checkbox][name=run], input[type=checkbox][name=experiment]');
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) n++; });
    var out = document.getElementById("sel-count");
    if (out) out.textContent = String(n);
    form.querySelectorAll("[data-needs]").forEach(function (btn) {
      btn.disabled = n < Number(btn.getAttribute("data-needs"));
    });
    var rename = form.querySelector(".js-rename");
    if (rename) rename.disabled = n !== 1;
  }
  function init(root) {
    root.querySelectorAll("#runs-form, #exp-form").forEach(updateSelection);
  }
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.classList && t.classList.contains("js-all")) {
      var form = t.closest("form");
      form.querySelectorAll("input[type=checkbox][name=run]").forEach(function (b) {
        if (!b.closest("tr").classList.contains("hidden")) b.checked = t.checked;
      });
    }
    var f = t.closest && t.closest("#runs-form, #exp-form");
    if (f) updateSelection(f);
    if (t.id === "chart-smooth") {
      var o = document.getElementById("smooth-out");
      if (o) o.textContent = t.value;
    }
  });
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("button, a") : null;
    if (!t) return;
    if (t.classList.contains("js-rename")) {
      var form = t.closest("form");
      var box = form.querySelector("input[name=run]:checked");
      var dlg = document.getElementById("rename-dialog");
      if (!box || !dlg) return;
      var row = box.closest("tr");
      document.getElementById("rename-run").value = box.value;
      var name = row.querySelector("td.name a");
      document.getElementById("rename-name").value = name ? name.textContent.trim() : "";
      dlg.showModal();
    } else if (t.classList.contains("js-close")) {
      t.closest("dialog").close();
    } else if (t.classList.contains("js-fold")) {
      var tr = t.closest("tr");
      var open = t.getAttribute("aria-expanded") === "true";
      // hiding a run hides every level below it; showing it shows its children as they were folded
      var setHidden = function (runId, hide) {
        document.querySelectorAll('tr[data-parent="' + runId + '"]').forEach(function (c) {
          c.classList.toggle("hidden", hide);
          var f = c.querySelector(".js-fold");
          if (hide || !f || f.getAttribute("aria-expanded") === "true") { setHidden(c.getAttribute("data-run"), hide); }
        });
      };
      setHidden(tr.getAttribute("data-run"), open);
      t.setAttribute("aria-expanded", open ? "false" : "true");
      t.setAttribute("aria-label", open ? "Show child runs" : "Hide child runs");
      t.textContent = open ? "▸" : "▾";
    } else if (t.classList.contains("js-copy")) {
      var src = document.querySelector(t.getAttribute("data-copy"));
      if (src && navigator.clipboard) {
        navigator.clipboard.writeText(src.textContent).then(function () { t.textContent = "Copied"; },
          function () { t.textContent = "Select and copy"; });
      }
    }
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { init(document); });
})();
