// Follows a use request on its page while its items are decided: polls the page's progress
// (JSON, `data-progress`) and puts the progress and the items, rendered by the server as the
// page renders them, in place; stops once every item is decided. Without the script, the page
// shows the state at its loading (and a link to reload it).
"use strict";

(function () {
  const box = document.getElementById("request-live");
  if (!box || box.dataset.completed === "true") return;
  const progress = document.getElementById("progress");
  const items = document.getElementById("items-body");

  async function tick() {
    let wait = 5;
    try {
      const response = await fetch(box.dataset.progress, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.ok && (response.headers.get("Content-Type") || "").startsWith("application/json")) {
        const data = await response.json();
        progress.innerHTML = data.progress_html;
        // Only the rows whose outcome changed are replaced: an explanation opened stays open.
        const rows = document.createElement("tbody");
        rows.innerHTML = data.items_html;
        for (const row of Array.from(rows.children)) {
          const shown = row.id && document.getElementById(row.id);
          if (!shown) items.appendChild(row);
          else if (shown.dataset.outcome !== row.dataset.outcome) shown.replaceWith(row);
        }
        if (data.completed) {
          box.dataset.completed = "true";
          return;
        }
        wait = data.retry_after;
      }
    } catch (e) {
      // the network failed: try again a little later
    }
    setTimeout(tick, wait * 1000);
  }

  setTimeout(tick, 1000);
})();
