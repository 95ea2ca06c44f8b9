// Keeps the day board current: re-fetches the staffing strip and the chairs every 30 s while
// the page is visible.
(function () {
  "use strict";
  var board = document.querySelector("[data-refresh]");
  if (!board) { return; }
  function refresh() {
    if (document.hidden) { return; }
    fetch(board.getAttribute("data-refresh"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { board.innerHTML = html; } })
      .catch(function () { /* offline for a moment: keep what is shown */ });
  }
  window.setInterval(refresh, 30000);
  document.addEventListener("visibilitychange", refresh);
}());
