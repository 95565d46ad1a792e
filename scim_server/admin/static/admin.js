// rolebridge admin pages: live preview of a draft mapping, and rows that open their
// explanation. Plain DOM and fetch; every page works without this file.
(function () {
  "use strict";
  var script = document.getElementById("admin-js");
  var csrf = script ? script.dataset.csrf : "";
  var explainUrl = script ? script.dataset.explain : "";
  var textarea = document.getElementById("document");

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    }).then(function (r) { return r.text(); });
  }

  function toggle(row) {
    var detail = row.nextElementSibling;
    if (!detail || !detail.classList.contains("explain")) { return; }
    detail.hidden = !detail.hidden;
    row.setAttribute("aria-expanded", String(!detail.hidden));
    var why = detail.querySelector(".why");
    if (!detail.hidden && why && why.dataset.loaded === "false" && row.dataset.user) {
      why.dataset.loaded = "true";
      why.textContent = "loading the explanation…";
      var body = {user: row.dataset.user};
      if (textarea) { body.document = textarea.value; }
      post(explainUrl, body).then(function (html) { why.innerHTML = html; });
    }
  }

  document.addEventListener("click", function (ev) {
    var row = ev.target.closest ? ev.target.closest("tr.row") : null;
    if (row) { toggle(row); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target.matches && ev.target.matches("tr.row")) { toggle(ev.target); }
  });

  var preview = document.getElementById("preview");
  if (textarea && preview) {
    var state = document.getElementById("preview-state");
    var timer = null;
    var seq = 0;
    var refresh = function () {
      var mine = ++seq;
      state.textContent = "updating…";
      post(preview.dataset.url, {document: textarea.value}).then(function (html) {
        if (mine !== seq) { return; }  // a newer edit is on its way
        preview.innerHTML = html;
        state.textContent = "on the live directory, nothing saved";
      });
    };
    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });
  }
}());
