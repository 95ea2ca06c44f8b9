// Keeps every staff page within the width of the screen (a phone, a tablet).
// - A plain table (one header row, no footer, no merged cells) becomes a list on a phone: each cell is
//   labelled with its column's header (data-label, shown by sustain.css under 600 px).
// - Every table sits in a box (.scroll-x) that scrolls sideways on its own, never the page; a
//   table a template already put in such a box (a week grid, a rota) keeps its columns.
// - A box that scrolls and holds nothing to tab to takes the focus itself, so the keyboard can
//   scroll it too.
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function isPlain(table) {
    var head = table.tHead;
    if (!head || head.rows.length !== 1 || table.tFoot ||
        table.querySelector("[colspan], [rowspan]")) {
      return false;
    }
    var columns = head.rows[0].cells.length;
    return Array.prototype.every.call(table.tBodies, function (body) {
      return Array.prototype.every.call(body.rows, function (row) {
        return row.cells.length === columns;
      });
    });
  }

  // Laid out as blocks, a table keeps its meaning for a screen reader only through its roles.
  function stack(table) {
    var labels = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
      th.setAttribute("role", "columnheader");
      return th.textContent.replace(/\s+/g, " ").trim();
    });
    table.setAttribute("role", "table");
    table.tHead.setAttribute("role", "rowgroup");
    table.tHead.rows[0].setAttribute("role", "row");
    Array.prototype.forEach.call(table.tBodies, function (body) {
      body.setAttribute("role", "rowgroup");
      Array.prototype.forEach.call(body.rows, function (row) {
        row.setAttribute("role", "row");
        Array.prototype.forEach.call(row.cells, function (cell, i) {
          cell.setAttribute("role", cell.tagName === "TH" ? "rowheader" : "cell");
          if (labels[i]) { cell.setAttribute("data-label", labels[i]); }
        });
      });
    });
    table.classList.add("stacks");
  }

  function fit() {
    document.querySelectorAll("main table").forEach(function (table) {
      if (table.parentElement.classList.contains("scroll-x")) { return; }
      if (isPlain(table)) { stack(table); }
      var box = document.createElement("div");
      box.className = "scroll-x";
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    });
    document.querySelectorAll(".scroll-x").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth;
      if (scrolls && !box.querySelector(FOCUSABLE)) {
        box.setAttribute("tabindex", "0");
      } else if (!scrolls) {
        box.removeAttribute("tabindex");
      }
    });
  }

  fit();
  window.addEventListener("resize", fit);
  // The day board replaces its content every 30 s (board.js).
  new MutationObserver(fit).observe(
    document.querySelector("main") || document.body, { childList: true, subtree: true }
  );
}());
