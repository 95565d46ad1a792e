// rolebridge admin pages: confirmations with counts, rows that open their explanation,
// and the mapping editor (line numbers, live preview, drafts kept in this browser).
// Plain DOM and fetch; every page works without this file.
(function () {
  "use strict";
  var script = document.getElementById("admin-js");
  var csrf = script ? script.dataset.csrf : "";
  var explainUrl = script ? script.dataset.explain : "";
  var textarea = document.getElementById("document");
  var form = document.getElementById("mapping-form");

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf,
                "X-Requested-With": "fetch"},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (text) { return {status: r.status, ok: r.ok, text: text}; });
    });
  }

  // Confirmations: a form with data-confirm asks first, with the counts it carries.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    var submitter = ev.submitter;
    var message = f.dataset ? f.dataset.confirm : "";
    if (submitter && submitter.id === "save") { message = saveMessage(); }
    if (message && !window.confirm(message)) { ev.preventDefault(); }
  });

  function toggle(row) {
    var detail = row.nextElementSibling;
    if (!detail || !detail.classList.contains("explain")) { return; }
    detail.hidden = !detail.hidden;
    var button = row.querySelector(".why-toggle");
    if (button) { button.setAttribute("aria-expanded", String(!detail.hidden)); }
    var why = detail.querySelector(".why");
    if (!detail.hidden && why && why.dataset.loaded === "false" && row.dataset.user) {
      why.dataset.loaded = "true";
      why.textContent = "loading the explanation…";
      var body = {user: row.dataset.user};
      if (textarea) { body.document = textarea.value; }
      post(explainUrl, body).then(function (r) { why.innerHTML = r.text; });
    }
  }

  document.addEventListener("click", function (ev) {
    var row = ev.target.closest ? ev.target.closest("tr.row") : null;
    if (row && !(ev.target.closest("a"))) { toggle(row); }
  });

  if (!textarea || !form) { return; }

  // Line numbers, and the error's line marked.
  var gutter = document.getElementById("gutter");
  var errorLine = 0;
  function numberLines() {
    var n = textarea.value.split("\n").length;
    var out = [];
    for (var i = 1; i <= n; i++) {
      out.push(i === errorLine ? '<span class="error-line">' + i + "</span>" : "<span>" + i + "</span>");
    }
    gutter.innerHTML = out.join("\n") + "\n";
    gutter.scrollTop = textarea.scrollTop;
  }
  textarea.addEventListener("scroll", function () { gutter.scrollTop = textarea.scrollTop; });
  errorLine = parseInt(textarea.dataset.errorLine || "0", 10);
  numberLines();

  // Drafts survive: kept in this browser until saved; restored when the page comes back.
  var draftKey = "rolebridge-draft:" + form.dataset.org;
  var note = document.getElementById("draft-note");
  var afterSave = document.getElementById("after-save");
  function keepDraft() {
    try { localStorage.setItem(draftKey, JSON.stringify({document: textarea.value, at: new Date().toISOString()})); } catch (e) { /* storage full or off */ }
  }
  function dropDraft() { try { localStorage.removeItem(draftKey); } catch (e) { /* off */ } }
  if (afterSave) { dropDraft(); }
  var kept = null;
  try { kept = JSON.parse(localStorage.getItem(draftKey) || "null"); } catch (e) { kept = null; }
  if (kept && kept.document && kept.document !== textarea.value) {
    textarea.value = kept.document;
    numberLines();
    note.hidden = false;
    note.innerHTML = "";
    note.appendChild(document.createTextNode("Your unsaved draft from " + kept.at + " is back in the editor. "));
    var drop = document.createElement("button");
    drop.type = "button";
    drop.className = "secondary";
    drop.id = "discard-draft";
    drop.textContent = "Discard the draft";
    drop.addEventListener("click", function () { dropDraft(); window.location.reload(); });
    note.appendChild(drop);
    setTimeout(function () { refresh(); }, 0);
  }

  function saveMessage() {
    var summary = document.getElementById("preview-summary");
    var next = form.dataset.version ? parseInt(form.dataset.version, 10) + 1 : 1;
    var does = summary ? summary.dataset.does : "";
    return "Save as version " + next + "?" + (does ? " Under it a plan would " + does + "." : "") +
      " Nothing changes on the platform until a plan is applied.";
  }

  // Live preview: a compact error, never a whole page; an ended session signs in in place.
  var preview = document.getElementById("preview");
  var state = document.getElementById("preview-state");
  var timer = null;
  var seq = 0;
  function markError() {
    var err = preview.querySelector("#mapping-error");
    errorLine = err && err.dataset.line ? parseInt(err.dataset.line, 10) : 0;
    numberLines();
  }
  function refresh() {
    var mine = ++seq;
    state.textContent = "updating…";
    post(preview.dataset.url, {document: textarea.value}).then(function (r) {
      if (mine !== seq) { return; }  // a newer edit is on its way
      if (r.status === 401) { signInAgain(r.text); return; }
      if (!r.ok && r.text.indexOf("<html") !== -1) {
        preview.innerHTML = '<p class="errors" id="mapping-error">The preview failed (' + r.status + "); your draft is kept.</p>";
      } else {
        preview.innerHTML = r.text;
      }
      state.textContent = "on the live directory, nothing saved";
      markError();
    }, function () {
      preview.innerHTML = '<p class="errors" id="mapping-error">The server did not answer; your draft is kept.</p>';
      state.textContent = "offline";
    });
  }
  function signInAgain(fragment) {
    state.textContent = "signed out";
    preview.innerHTML = fragment;
    var box = document.getElementById("signed-out");
    var link = document.getElementById("sign-in-again");
    if (!box || !link) { return; }
    var inline = document.createElement("form");
    inline.className = "inline-sign-in";
    inline.innerHTML = '<label for="again-key">API key</label> <input id="again-key" type="password" autocomplete="off" required> <button type="submit">Sign in</button>';
    box.appendChild(inline);
    inline.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var data = new URLSearchParams();
      data.set("api_key", document.getElementById("again-key").value);
      data.set("csrf_token", csrf);
      fetch(link.getAttribute("href"), {method: "POST", credentials: "same-origin", body: data})
        .then(function (r) { return r.text().then(function (t) { return {r: r, t: t}; }); })
        .then(function (res) {
          var m = res.t.match(/data-csrf="([^"]+)"/);
          if (!res.r.ok || !m || res.t.indexOf('id="api_key"') !== -1) {
            box.querySelector("label").textContent = "That key was refused; API key";
            return;
          }
          csrf = m[1];
          Array.prototype.forEach.call(document.querySelectorAll("input[name=csrf_token]"), function (i) { i.value = csrf; });
          refresh();
        });
    });
  }
  textarea.addEventListener("input", function () {
    keepDraft();
    numberLines();
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  form.addEventListener("submit", function () {
    // a browser's form sends CRLF; the server keeps LF either way
    textarea.value = textarea.value.replace(/\r\n?/g, "\n");
    keepDraft();
  });
}());
