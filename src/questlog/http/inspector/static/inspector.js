// questlog inspector: fetches the node's JSON read routes and renders them. Read-only.
"use strict";
(function () {
  var meta = function (name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : "";
  };
  var API = meta("questlog-api");       // every JSON path is built on this one prefix
  var TOKEN = meta("questlog-token");
  var UI = (document.querySelector('link[rel="stylesheet"]').getAttribute("href") || "")
    .replace(/\/static\/inspector\.css$/, "");
  var params = new URLSearchParams(window.location.search);
  var INTERVAL_MS = Math.max(200, Number(params.get("interval_ms")) || 1000);

  function api(path) {
    var headers = { "Accept": "application/json" };
    if (TOKEN) { headers["Authorization"] = "Bearer " + TOKEN; }
    return fetch(API + path, { headers: headers, cache: "no-store" }).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(r.status + " " + (body.detail || body.title || r.statusText));
        });
      }
      return r.json();
    });
  }

  // el("td", {class: "x"}, "text", child...): DOM built with textContent, never HTML strings.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) { continue; }
      node.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function fill(tbody, rows) {
    tbody.replaceChildren.apply(tbody, rows);
  }
  function link(href, text) { return el("a", { href: UI + href }, text); }
  function setStatus(text, bad) {
    var s = document.getElementById("status");
    s.textContent = text;
    s.className = bad ? "status bad" : "status";
  }
  function poll(render, ms) {
    var run = function () {
      render().then(function () {
        setStatus("updated " + new Date().toLocaleTimeString());
      }, function (err) { setStatus(String(err.message || err), true); })
        .then(function () { window.setTimeout(run, ms); });
    };
    run();
  }
  function hpBar(hp, max, temp) {
    var pct = max > 0 ? Math.max(0, Math.min(100, Math.round(100 * hp / max))) : 0;
    var tone = pct > 50 ? "ok" : pct > 20 ? "low" : "crit";
    return el("div", { class: "hp" },
      el("div", { class: "bar" }, el("div", { class: "fill " + tone, style: "width:" + pct + "%" })),
      el("span", { class: "hp-text" }, "HP " + hp + "/" + max + (temp ? " (+" + temp + " temp)" : "")));
  }
  function enc(s) { return encodeURIComponent(s); }

  var pages = {};

  pages.index = function () {
    var list = function (type, tableId, row) {
      return api("/events?type=" + type + "&limit=1000").then(function (page) {
        fill(document.querySelector("#" + tableId + " tbody"), page.events.map(row));
      });
    };
    poll(function () {
      return Promise.all([
        list("CampaignCreated", "campaigns", function (e) {
          var id = e.data.campaign_id;
          return el("tr", {}, el("td", {}, link("/campaigns/" + enc(id), id)),
            el("td", {}, e.data.name), el("td", {}, e.position));
        }),
        list("EncounterStarted", "encounters", function (e) {
          var id = e.stream_id.replace(/^encounter-/, "");
          return el("tr", {}, el("td", {}, link("/encounters/" + enc(id), id)),
            el("td", {}, link("/campaigns/" + enc(e.data.campaign_id), e.data.campaign_id)),
            el("td", {}, e.position));
        })]);
    }, 5000);
  };

  pages.campaign = function (id) {
    var base = "/game/campaigns/" + enc(id);
    poll(function () {
      return Promise.all([api(base), api(base + "/party"), api(base + "/quests"),
        api(base + "/chat?page_size=200")]).then(function (got) {
        var c = got[0], party = got[1].party, quests = got[2].quests, chat = got[3];
        document.getElementById("campaign-name").textContent = c.name + " (" + c.campaign_id + ")";
        var facts = document.getElementById("campaign-facts");
        facts.replaceChildren(
          "location: " + (c.location ? c.location.name : "-") + " · session " + c.session_number +
          (c.session_active ? " (running)" : "") + " · ",
          c.in_combat && c.active_encounter_id
            ? link("/encounters/" + enc(c.active_encounter_id), "in combat: " + c.active_encounter_id)
            : "not in combat");
        document.getElementById("party").replaceChildren.apply(
          document.getElementById("party"), party.map(function (p) {
            return el("div", { class: "card" + (p.dead ? " dead" : ""), "data-character": p.character_id },
              el("h3", {}, p.name), el("div", { class: "sub" }, "level " + p.level + " · " + p.xp + " XP"),
              hpBar(p.current_hp, p.max_hp, p.temp_hp),
              el("div", { class: "conditions" }, p.conditions.length
                ? p.conditions.map(function (x) { return el("span", { class: "tag" }, x); })
                  .reduce(function (f, t) { f.appendChild(t); return f; }, document.createDocumentFragment())
                : "no conditions"),
              p.dead ? el("div", { class: "tag bad" }, "dead") : null);
          }));
        fill(document.querySelector("#quests tbody"), quests.map(function (q) {
          var progress = q.objectives_total ? (q.objectives_completed || 0) + "/" + q.objectives_total : "";
          return el("tr", { class: "quest-" + q.status }, el("td", {}, q.title), el("td", {}, q.status),
            el("td", {}, progress), el("td", {}, q.description));
        }));
        var ol = document.getElementById("chat");
        ol.replaceChildren.apply(ol, chat.messages.map(function (m) {
          return el("li", { class: "msg " + m.role }, el("span", { class: "who" }, m.role), " ", m.content);
        }));
      });
    }, INTERVAL_MS * 3);
  };

  pages.encounter = function (id) {
    poll(function () {
      return api("/game/encounters/" + enc(id)).then(function (t) {
        document.getElementById("encounter-facts").replaceChildren(
          "status: " + t.status + " · round " + t.round + " · current: " +
          (t.current_combatant_id || "-") + (t.outcome ? " · outcome: " + t.outcome : "") + " · campaign ",
          link("/campaigns/" + enc(t.campaign_id), t.campaign_id));
        fill(document.querySelector("#tracker tbody"), t.combatants.map(function (c) {
          var current = c.combatant_id === t.current_combatant_id;
          var cls = (current ? "current " : "") + (c.defeated ? "defeated " : "") + (c.present ? "" : "left");
          return el("tr", { class: cls, "data-combatant": c.combatant_id },
            el("td", {}, current ? "▶" : ""), el("td", {}, c.name), el("td", {}, c.kind),
            el("td", {}, c.initiative === null ? "-" : c.initiative),
            el("td", {}, hpBar(c.hp, c.max_hp, c.temp_hp)), el("td", {}, c.ac),
            el("td", {}, c.conditions.join(", ") + (c.present ? "" : " (left)")));
        }));
      });
    }, INTERVAL_MS);
  };

  pages.events = function () {
    var form = document.getElementById("filter");
    ["stream", "type", "from", "limit"].forEach(function (k) {
      if (params.get(k)) { form.elements[k].value = params.get(k); }
    });
    var stream = params.get("stream") || "", type = params.get("type") || "";
    var from = Number(params.get("from")) || 0;
    var limit = Math.min(1000, Math.max(1, Number(params.get("limit")) || 100));
    var request;
    if (stream) {
      // One stream: the route pages by version; type and position filter here.
      request = api("/streams/" + enc(stream) + "?limit=1000").then(function (page) {
        return { events: page.events.filter(function (e) {
          return (!type || e.type === type) && e.position >= from;
        }).slice(0, limit), next: null };
      });
    } else {
      request = api("/events?from_position=" + from + "&limit=" + limit +
        (type ? "&type=" + enc(type) : "")).then(function (page) {
        return { events: page.events, next: page.next_from_position };
      });
    }
    var detail = document.getElementById("event-detail");
    request.then(function (got) {
      setStatus(got.events.length + " event(s)");
      fill(document.querySelector("#events tbody"), got.events.map(function (e) {
        var row = el("tr", { class: "event", "data-position": e.position },
          el("td", {}, e.position), el("td", {}, e.stream_id), el("td", {}, e.stream_version),
          el("td", {}, e.type), el("td", {}, e.recorded_at));
        row.addEventListener("click", function () {
          document.getElementById("event-hash").textContent = "hash " + e.hash;
          detail.textContent = JSON.stringify(e, null, 2);
        });
        return row;
      }));
      if (got.next) {
        var next = new URLSearchParams(params);
        next.set("from", got.next);
        var a = document.getElementById("next-page");
        a.href = "?" + next.toString();
        a.hidden = false;
      }
    }, function (err) { setStatus(String(err.message || err), true); });
  };

  pages.projections = function () {
    var history = {}, samples = 0, KEEP = 60;
    var colours = ["#2b6cb0", "#c05621", "#2f855a", "#b83280", "#6b46c1", "#975a16", "#00838f", "#c53030"];
    function draw() {
      var svg = document.getElementById("lag-chart"), ns = "http://www.w3.org/2000/svg";
      var names = Object.keys(history).sort();
      var max = 1;
      names.forEach(function (n) { history[n].forEach(function (v) { max = Math.max(max, v); }); });
      var kids = [];
      var axis = document.createElementNS(ns, "text");
      axis.setAttribute("x", "4"); axis.setAttribute("y", "12");
      axis.textContent = "max " + max;
      kids.push(axis);
      names.forEach(function (n, i) {
        var pts = history[n].map(function (v, j) {
          var x = 40 + j * (590 / (KEEP - 1)), y = 190 - (v / max) * 170;
          return x.toFixed(1) + "," + y.toFixed(1);
        });
        var line = document.createElementNS(ns, "polyline");
        line.setAttribute("points", pts.join(" "));
        line.setAttribute("fill", "none");
        line.setAttribute("stroke", colours[i % colours.length]);
        line.setAttribute("stroke-width", "2");
        line.setAttribute("data-projector", n);
        kids.push(line);
      });
      svg.replaceChildren.apply(svg, kids);
      var legend = document.getElementById("lag-legend");
      legend.replaceChildren.apply(legend, names.map(function (n, i) {
        return el("span", { style: "color:" + colours[i % colours.length] }, "■ " + n + " ");
      }));
    }
    poll(function () {
      return api("/projections").then(function (got) {
        samples++;
        document.getElementById("head").textContent = "head position " + got.head_position +
          " · " + samples + " sample(s)";
        fill(document.querySelector("#projections tbody"), got.projections.map(function (p) {
          var h = history[p.name] || (history[p.name] = []);
          h.push(p.lag);
          if (h.length > KEEP) { h.shift(); }
          return el("tr", { class: "state-" + p.state, "data-projector": p.name },
            el("td", {}, p.name), el("td", {}, p.mode), el("td", {}, p.position), el("td", {}, p.lag),
            el("td", {}, p.lag_seconds), el("td", {}, p.state),
            el("td", {}, p.last_error ? p.last_error + " (at " + p.error_position + ")" : ""));
        }));
        draw();
      });
    }, INTERVAL_MS * 2);
  };

  var which = pages[document.body.dataset.page];
  if (which) { which(document.body.dataset.id); }
}());
