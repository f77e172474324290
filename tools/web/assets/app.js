// SPDX-License-Identifier: MIT
// firegw-web's one script (no inline script: the Content-Security-Policy forbids it). On the
// devices page it fetches /api/devices every few seconds and writes each device's state, last
// poll and values into its row, without reloading the page; text goes in with textContent,
// never as HTML. An element marked data-live (the overview's figures, the hazard list) is
// replaced by the same element of the page fetched again: the server's own escaped HTML,
// parsed by DOMParser (whose scripts never run), not text put together here.
"use strict";

(function () {
  function when(s) {
    return s && s.length >= 19 ? s.slice(0, 10) + " " + s.slice(11, 19) : "-";
  }

  // As web_pages_values writes them: "leak 12 mA, t1 24.5 °C".
  function values(v) {
    var parts = [];
    Object.keys(v || {}).forEach(function (k) {
      var x = v[k] || {};
      var t = k + " " + (typeof x.value === "number" ? String(x.value) : "-");
      if (x.unit) t += " " + x.unit;
      parts.push(t);
    });
    return parts.join(", ");
  }

  function set(row, cls, text) {
    var td = row.querySelector("td." + cls);
    if (td && td.textContent !== text) td.textContent = text;
  }

  function refresh(table) {
    fetch(table.dataset.refresh, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) {
          window.location.assign("/login");
          throw new Error("logged out");
        }
        return r.json();
      })
      .then(function (j) {
        if (!j.ok) return;
        var rows = {};
        table.querySelectorAll("tr[data-dev]").forEach(function (tr) {
          rows[tr.dataset.dev] = tr;
        });
        (j.devices || []).forEach(function (d) {
          var row = rows[d.id];
          if (!row) return;
          var why = d.why || "";
          if (d.backing_off) why += " (" + Math.floor(d.retry_in_s || 0) + " s)";
          set(row, "why", why);
          set(row, "last", when(d.last_ok));
          set(row, "values", d.online ? values(d.values) : "");
          row.className = d.online ? "on" : "off";
        });
        var stamp = document.getElementById("refreshed");
        if (stamp) stamp.textContent = new Date().toLocaleTimeString();
      })
      .catch(function () {});
  }

  function refreshLive() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.redirected || r.status !== 200) throw new Error("not the page");
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh && fresh.innerHTML !== el.innerHTML) el.replaceWith(document.adoptNode(fresh));
        });
      })
      .catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.querySelector("table[data-refresh]");
    if (table) {
      refresh(table);
      window.setInterval(function () { refresh(table); }, 2000);
    }
    if (document.querySelector("[data-live][id]"))
      window.setInterval(refreshLive, 3000);
  });
})();
