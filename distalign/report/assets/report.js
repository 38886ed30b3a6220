/* distalign report: sortable tables (tablesort) and the leaderboard's dataset / steering switch. */
(function () {
  "use strict";
  document.querySelectorAll("table.sortable").forEach(function (table) {
    new Tablesort(table); // eslint-disable-line no-new
  });
  var dataset = document.getElementById("view-dataset");
  var steering = document.getElementById("view-steering");
  if (!dataset || !steering) return;
  var views = Array.prototype.slice.call(document.querySelectorAll("[data-view]"));
  function exists(key) {
    return views.some(function (v) { return v.getAttribute("data-view") === key; });
  }
  function show() {
    var first = null, keep = false;
    Array.prototype.forEach.call(steering.options, function (option) {
      var ok = exists(dataset.value + "|" + option.value);
      option.hidden = !ok;
      option.disabled = !ok;
      if (ok && first === null) first = option.value;
      if (ok && option.value === steering.value) keep = true;
    });
    if (!keep && first !== null) steering.value = first;
    var key = dataset.value + "|" + steering.value;
    views.forEach(function (v) { v.hidden = v.getAttribute("data-view") !== key; });
  }
  dataset.addEventListener("change", show);
  steering.addEventListener("change", show);
  show();
})();
