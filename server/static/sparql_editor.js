// The SPARQL editor: YASGUI on our endpoint only when its assets are loaded, else the plain form
// (progressively enhanced: results are fetched as SPARQL JSON and shown as a table).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var endpoint = new URL(config.endpoint, window.location.href).toString();

  function startYasgui() {
    var root = document.getElementById("yasgui");
    var yasgui = new Yasgui(root, {
      requestConfig: { endpoint: endpoint, method: "POST" },
      copyEndpointOnNewTab: true,
      endpointCatalogueOptions: { getData: function () { return []; }, keys: [],
                                  renderItem: function () {} },
      persistenceId: null,  // no tabs kept in localStorage: the editor opens with one tab
      populateFromUrl: false,
      autofocus: false,
      yasqe: { autocompleters: ["prefixes", "variables"], prefixCcApi: null,
               value: config.query, resizeable: true, editorHeight: "320px" },
      yasr: { persistenceId: null },
    });
    var tab = yasgui.getTab();
    tab.setName(config.explicitQuery ? "Query" : "Start");
    tab.setQuery(config.query);
    // the canned queries are links below the editor: a click loads one into the open tab
    document.querySelectorAll("a[data-example]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var ex = config.examples[Number(link.dataset.example)];
        if (!ex) return;
        event.preventDefault();
        var current = yasgui.getTab();
        current.setName(ex.title || ex.name);
        current.setQuery(ex.query);
      });
    });
    window.jllmYasgui = yasgui;
  }

  function text(node) {
    if (!node) return "";
    return node.value;
  }

  // Only http(s) IRIs become links: a javascript: or data: IRI in a result is shown as text.
  function safeHref(value) {
    var url;
    try { url = new URL(value); } catch (err) { return null; }
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  }

  function renderTable(json, target) {
    target.textContent = "";
    if (typeof json.boolean === "boolean") {
      target.textContent = "ASK → " + json.boolean;
      return;
    }
    var vars = json.head.vars, table = document.createElement("table");
    table.className = "grid results";
    var head = table.createTHead().insertRow();
    vars.forEach(function (v) { var th = document.createElement("th"); th.textContent = v; head.appendChild(th); });
    var body = table.createTBody();
    json.results.bindings.forEach(function (b) {
      var row = body.insertRow();
      vars.forEach(function (v) {
        var cell = row.insertCell(), term = b[v];
        var href = term && term.type === "uri" ? safeHref(term.value) : null;
        if (href) {
          var a = document.createElement("a");
          a.href = href; a.textContent = term.value;
          cell.appendChild(a);
        } else {
          cell.textContent = text(term);
        }
      });
    });
    var count = document.createElement("p");
    count.className = "count";
    count.textContent = json.results.bindings.length + " result(s)";
    target.appendChild(count);
    target.appendChild(table);
  }

  function enhanceForm() {
    var form = document.getElementById("plain-form"), out = document.getElementById("plain-results");
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      var format = form.elements.format.value;
      if (format !== "text/html") return;  // other formats: let the browser post and show the response
      event.preventDefault();
      out.hidden = false;
      out.textContent = "…";
      fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/sparql-results+json" },
        body: new URLSearchParams({ query: form.elements.query.value }),
      }).then(function (response) {
        return response.text().then(function (body) {
          if (!response.ok) throw new Error(response.status + ": " + body);
          renderTable(JSON.parse(body), out);
        });
      }).catch(function (err) { out.textContent = String(err.message || err); });
    });
  }

  if (document.getElementById("yasgui").dataset.mode === "yasgui" && window.Yasgui) {
    try { startYasgui(); return; } catch (err) { console.error(err); }
  }
  enhanceForm();
})();
