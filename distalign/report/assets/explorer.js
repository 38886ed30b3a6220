/* distalign report, question explorer: filters, worst-first list, human vs model bars.
 *
 * The cells arrive as JSON in <script type="application/json" id="cells-data"> (written by Jinja2's tojson, which
 * escapes <, >, & and '). Everything taken from the data (model replies, prompts, parse errors, question texts) is
 * put on the page with textContent and never parsed as HTML, so a reply holding a script tag is shown as
 * text and runs nothing.
 *
 * A cell is [question, method, steering, group, score, parsed (1/0), options, human, model, reply, error, prompt].
 * Filters can be set from the address: explore-x.html#method=V&status=failed (status: parsed | failed).
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("cells-data").textContent);
  var PAGE = 50;
  var $ = function (id) { return document.getElementById(id); };
  var filters = { method: $("f-method"), steering: $("f-steering"), group: $("f-group"), status: $("f-status") };
  var order = $("f-order"), search = $("f-search"), list = $("cells"), count = $("count"), more = $("more");
  var matches = [], shown = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fill(select, labels) {
    labels.forEach(function (label, i) {
      var option = el("option", null, label);
      option.value = String(i);
      select.appendChild(option);
    });
  }
  fill(filters.method, data.methods);
  fill(filters.steering, data.steering);
  fill(filters.group, data.groups);

  function fromHash() {
    var labels = { method: data.methods, steering: data.steering, group: data.groups };
    location.hash.replace(/^#/, "").split("&").forEach(function (pair) {
      var kv = pair.split("="), name = decodeURIComponent(kv[0] || ""), value = decodeURIComponent(kv[1] || "");
      if (name === "status" && (value === "parsed" || value === "failed")) filters.status.value = value;
      else if (labels[name] && labels[name].indexOf(value) >= 0) filters[name].value = String(labels[name].indexOf(value));
    });
  }
  function keep(cell, needle) {
    var f = filters, question = data.questions[cell[0]];
    if (f.method.value !== "" && cell[1] !== Number(f.method.value)) return false;
    if (f.steering.value !== "" && cell[2] !== Number(f.steering.value)) return false;
    if (f.group.value !== "" && cell[3] !== Number(f.group.value)) return false;
    if (f.status.value !== "" && cell[5] !== (f.status.value === "parsed" ? 1 : 0)) return false;
    return needle === "" || (question[0] + " " + question[1]).toLowerCase().indexOf(needle) >= 0;
  }
  function apply() {
    var needle = search.value.trim().toLowerCase();
    matches = data.cells.filter(function (cell) { return keep(cell, needle); });
    if (order.value === "best") matches.reverse();
    list.textContent = "";
    shown = 0;
    showMore();
    count.textContent = matches.length.toLocaleString("en") + " of " + data.cells.length.toLocaleString("en") +
      " question cells";
  }
  function showMore() {
    var end = Math.min(matches.length, shown + PAGE);
    for (var i = shown; i < end; i++) list.appendChild(card(matches[i]));
    shown = end;
    more.hidden = shown >= matches.length;
  }
  function bar(kind, value) {
    var td = el("td"), track = el("div", "track " + kind), fill = el("div", "fill");
    fill.style.width = (Math.max(0, Math.min(1, value)) * 100).toFixed(1) + "%";
    track.appendChild(fill);
    td.appendChild(track);
    return td;
  }
  function pct(value) { return value === null ? "–" : (value * 100).toFixed(1) + "%"; }
  function bars(cell) {
    var table = el("table", "bars"), options = data.options[cell[6]], head = el("tr");
    ["", "human", "", "model", ""].forEach(function (label) { head.appendChild(el("th", null, label)); });
    table.appendChild(head);
    options.forEach(function (option, i) {
      var tr = el("tr"), human = cell[7][i], model = cell[8] === null ? null : cell[8][i];
      tr.appendChild(el("td", "opt", String.fromCharCode(65 + i) + ". " + option));
      tr.appendChild(bar("human", human));
      tr.appendChild(el("td", "val", pct(human)));
      tr.appendChild(bar("model", model === null ? 0 : model));
      tr.appendChild(el("td", "val", pct(model)));
      table.appendChild(tr);
    });
    return table;
  }
  function header(cell) {
    var head = el("header"), question = data.questions[cell[0]];
    head.appendChild(el("span", "tv", data.metric + " " + cell[4].toFixed(4)));
    head.appendChild(el("span", "question", question[1]));
    [data.methods[cell[1]], data.steering[cell[2]], data.groups[cell[3]]].forEach(function (tag) {
      head.appendChild(el("span", "badge", tag));
    });
    head.appendChild(el("span", cell[5] ? "badge ok" : "badge fail", cell[5] ? "parsed" : "parse failure"));
    return head;
  }
  function card(cell) {
    var article = el("article"), question = data.questions[cell[0]];
    article.appendChild(header(cell));
    var about = [question[0] === question[1] ? "" : question[0], question[2]].filter(Boolean).join(" · ");
    article.appendChild(el("div", "details-text", about));
    article.appendChild(bars(cell));
    if (!cell[5]) article.appendChild(el("p", "error", "Parse failure: " + (cell[10] || "no reason recorded") +
      " — " + data.failure_note));
    article.appendChild(el("div", "muted", "Reply"));
    article.appendChild(el("pre", "reply", cell[9] === "" ? "(empty reply)" : cell[9]));
    var details = el("details"), summary = el("summary", null, cell[11] >= 0 ? "Prompt as sent" : "Prompt");
    details.appendChild(summary);
    details.appendChild(el("pre", "prompt", cell[11] >= 0 ? data.prompts[cell[11]] : data.no_prompt));
    article.appendChild(details);
    return article;
  }

  fromHash();
  [filters.method, filters.steering, filters.group, filters.status, order].forEach(function (select) {
    select.addEventListener("change", apply);
  });
  search.addEventListener("input", apply);
  more.addEventListener("click", showMore);
  apply();
})();
