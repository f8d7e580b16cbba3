// The alert pages: a live preview while composing, a live progress bar while sending.
// Served from 'self' under the console's CSP; no inline script anywhere.
(function () {
  "use strict";

  function text(el, value) { if (el) { el.textContent = value; } }

  // Compose: ask the server (the same code that sends) for segments and the audience.
  var form = document.getElementById("compose");
  if (form) {
    var timer = null;
    var token = form.querySelector("input[name=csrf_token]").value;
    var preview = function () {
      fetch(form.dataset.preview, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"X-CSRFToken": token}
      }).then(function (r) { return r.json(); }).then(function (data) {
        form.querySelectorAll("[data-counter]").forEach(function (el) {
          var s = data.segments[el.dataset.counter];
          text(el, s ? s.chars + " characters, " + s.segments + " SMS segment" +
                       (s.segments === 1 ? "" : "s") + " (" + s.encoding + ")" : "");
          el.classList.toggle("over", !!s && s.segments > 2);
        });
        var who = document.getElementById("audience");
        var detail = document.getElementById("audience-detail");
        detail.textContent = "";
        var a = data.audience;
        if (!a) { text(who, data.error || ""); return; }
        text(who, a.total + " people" + (a.opted_out ? " (" + a.opted_out +
             " more stopped alerts and will not get it)" : "") +
             (data.needs_approval ? ". A second person must approve it." : "."));
        [["Area", a.areas], ["Language", a.languages], ["Channel", a.channels]]
          .forEach(function (pair) {
            var p = document.createElement("p");
            p.className = "muted";
            p.textContent = pair[0] + ": " + Object.keys(pair[1]).map(function (k) {
              return k + " " + pair[1][k];
            }).join(", ");
            detail.appendChild(p);
          });
        if (data.error) {  // e.g. no text yet: the counts above still hold
          var problem = document.createElement("p");
          problem.className = "alert";
          problem.textContent = data.error;
          detail.appendChild(problem);
        }
      }).catch(function () { text(document.getElementById("audience"), "Preview unavailable."); });
    };
    var soon = function () { clearTimeout(timer); timer = setTimeout(preview, 300); };
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    preview();
  }

  // Progress: poll the counts every second until the alert is done or cancelled.
  var box = document.getElementById("progress");
  if (box) {
    var poll = function () {
      fetch(box.dataset.url, {credentials: "same-origin"})
        .then(function (r) { return r.json(); }).then(function (p) {
          document.getElementById("bar").value = p.percent;
          text(document.getElementById("percent"), p.percent + "%");
          text(document.getElementById("status"), p.status.replace("_", " "));
          box.querySelectorAll("[data-count]").forEach(function (el) {
            text(el, p[el.dataset.count]);
          });
          // Approve, cancel and the waiting notice only while the status allows them.
          document.querySelectorAll("[data-while]").forEach(function (el) {
            el.hidden = el.dataset.while.split(" ").indexOf(p.status) < 0;
          });
          if (p.status !== "done" && p.status !== "cancelled") { setTimeout(poll, 1000); }
        }).catch(function () { setTimeout(poll, 3000); });
    };
    if (box.dataset.status !== "done" && box.dataset.status !== "cancelled") { poll(); }
  }
}());
