/* A catalog import's live progress: polls the API's GET /api/v1/imports/<id>/ with the
   page's session (the X-Consentry-Party header names the party), shows the share done on the
   <progress> bar and the status; when the job has finished, fetches this page again and puts
   its report (the counts and the rejected rows) in place, without reloading. */
(function () {
  "use strict";
  var root = document.getElementById("import-job");
  var wordsNode = document.getElementById("import-words");
  if (!root || !wordsNode) return;
  var words = JSON.parse(wordsNode.textContent);
  var bar = document.getElementById("import-bar");
  var percent = document.getElementById("import-percent");
  var status = document.getElementById("import-status");
  var problem = document.getElementById("import-poll-error");
  var FINISHED = ["succeeded", "succeeded_with_problems", "failed"];
  var INTERVAL = 500;

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return String(values[key]); })
      .replace(/%%/g, "%");
  }

  function show(job) {
    var share = job.status === "succeeded" || job.status === "succeeded_with_problems" ? 1 : job.progress;
    if (share === null || share === undefined) {
      bar.removeAttribute("value");
      percent.textContent = words.reading;
    } else {
      var n = Math.floor(share * 100);
      bar.value = n;
      percent.textContent = format(words.percent, { n: n });
    }
    status.textContent = words.status[job.status] || job.status;
    status.className = "status " + job.status;
    root.dataset.status = job.status;
  }

  function report() {
    // The finished page's report, as the server renders it (the rows' fields included).
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var got = fresh.getElementById("import-report");
        if (got) document.getElementById("import-report").replaceWith(got);
        status.textContent = status.textContent + " — " + words.finished;
      })
      .catch(function () { window.location.reload(); });
  }

  function poll() {
    fetch(root.dataset.api, {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Consentry-Party": root.dataset.party },
    })
      .then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (job) {
        problem.hidden = true;
        show(job);
        if (FINISHED.indexOf(job.status) >= 0) report();
        else window.setTimeout(poll, INTERVAL);
      })
      .catch(function (err) {
        problem.textContent = format(words.poll_failed, { status: err.message });
        problem.hidden = false;
        window.setTimeout(poll, INTERVAL * 4);
      });
  }

  if (FINISHED.indexOf(root.dataset.status) < 0) poll();
})();
