// The journey dashboard's live feed: finished journeys pushed over /ws/journeys/ are put at the top of the
// "Recent journeys" table. The page works without this script; it only saves the reload.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var recent = document.querySelector("#recent tbody");
  if (!status || !recent) return;
  var filtersNode = document.getElementById("dashboard-filters");
  var filters = filtersNode ? JSON.parse(filtersNode.textContent) : {};
  var maxRows = 25; // as many as the page lists (views.RECENT_LIMIT)
  var fresh = 0;
  var delay = 1000;
  var pinger = null;

  function setState(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function matches(journey) {
    // The same filters the server applied to the page (the slowest list is left as it was loaded).
    if (filters.channel && journey.channelType !== filters.channel) return false;
    if (filters.instanceId && journey.instanceId !== filters.instanceId) return false;
    if (filters.status && journey.status !== filters.status) return false;
    return true;
  }

  function show(message) {
    if (!matches(message.journey)) return;
    var holder = document.createElement("tbody");
    holder.innerHTML = message.html.trim();
    var row = holder.querySelector("tr.journey-row");
    if (!row) return;
    var previous = recent.querySelector('tr.journey-row[data-correlation-id="' + CSS.escape(row.dataset.correlationId) + '"]');
    if (previous) previous.remove();
    row.classList.add("journey-row--new");
    recent.insertBefore(row, recent.firstChild);
    while (recent.rows.length > maxRows) recent.deleteRow(recent.rows.length - 1);
    var empty = document.querySelector('[data-empty-for="recent"]');
    if (empty) empty.remove();
    var counter = document.getElementById("new-since-load");
    if (counter) {
      fresh += 1;
      counter.hidden = false;
      counter.querySelector("span").textContent = String(fresh);
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/journeys/");
    setState("connecting", "live: connecting…");
    socket.onopen = function () {
      delay = 1000;
      setState("open", "live");
      pinger = window.setInterval(function () { socket.send(JSON.stringify({ type: "ping" })); }, 25000);
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "journey") show(message);
    };
    socket.onclose = function (event) {
      window.clearInterval(pinger);
      if (event.code === 4401) {
        setState("closed", "live: log in again");
        return;
      }
      setState("closed", "live: reconnecting…");
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  connect();
})();
