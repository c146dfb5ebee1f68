// chosync dashboard: the sync log's live tail. The server sends each new
// row as HTML it has escaped; nothing from the catalogue or a platform is
// ever turned into markup here.
"use strict";
(function () {
  const table = document.getElementById("log");
  if (!table || !window.EventSource) return;
  const body = table.tBodies[0];
  const live = document.getElementById("live");
  const source = new EventSource(table.dataset.stream);
  source.addEventListener("open", () => live && live.classList.add("on"));
  source.addEventListener("error", () => live && live.classList.remove("on"));
  source.addEventListener("row", (event) => {
    if (body.querySelector(`tr[data-id="${CSS.escape(event.lastEventId)}"]`)) return;
    body.insertAdjacentHTML("afterbegin", event.data);
    const row = body.firstElementChild;
    if (row) row.classList.add("new");
    while (body.rows.length > 500) body.deleteRow(-1);
  });
})();
