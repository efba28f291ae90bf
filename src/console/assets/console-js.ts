// The console's one script, served as /console/assets/console.js (a TypeScript module for the same reason as
// the stylesheet: the build ships what is imported). Every page works without it; it adds live updates to the
// grid and arrow-key moves between its cells. It writes text with textContent and attributes with
// setAttribute only, never innerHTML, so nothing the server sends can become markup.
export const consoleJs = String.raw`'use strict';
// Live updates by polling /console/grid.json every 5 s, not server-sent events: the API hosts are stateless
// and may sit behind a balancer or a proxy that buffers or cuts long-lived responses; a poll is one short
// request any host answers from MySQL, survives a host restart or a flaky link without reconnect logic, and
// asks only for what changed since the last answer, so it stays light on a slow link.
(function () {
  // A link from another site arrives without the SameSite=Strict session cookie and shows the sign-in form;
  // asked from this page, the session answers if it is good, and the page asked for opens.
  var signIn = document.getElementById('signin');
  if (signIn) {
    fetch('/console/session.json', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) { return response.ok ? response.json() : undefined; })
      .then(function (session) { if (session && session.signedIn) location.replace(signIn.getAttribute('data-next') || '/console'); })
      .catch(function () {});
    return;
  }
  var grid = document.getElementById('grid');
  if (!grid) return;

  // Arrow keys move between the grid's cells (Tab still walks every link).
  grid.addEventListener('keydown', function (event) {
    var moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    var move = moves[event.key];
    var cell = event.target.closest && event.target.closest('td');
    if (!move || !cell) return;
    var row = cell.parentElement;
    var rows = Array.prototype.slice.call(grid.tBodies[0].rows);
    var r = rows.indexOf(row) + move[0];
    var c = cell.cellIndex + move[1];
    while (r >= 0 && r < rows.length && c >= 1 && c < rows[r].cells.length) {
      var target = rows[r].cells[c].querySelector('a');
      if (target) { target.focus(); event.preventDefault(); return; }
      r += move[0];
      c += move[1];
    }
  });

  if (grid.getAttribute('data-live') !== '1') return;
  var status = document.getElementById('live');
  var since = grid.getAttribute('data-since');
  var from = grid.getAttribute('data-from');
  var to = grid.getAttribute('data-to');
  var rowsByGeo = new Map();
  Array.prototype.forEach.call(grid.tBodies[0].rows, function (row) { rowsByGeo.set(row.getAttribute('data-g'), row); });
  var columnOf = new Map();
  var cycleRow = grid.querySelector('tr.cycles');
  Array.prototype.forEach.call(grid.querySelectorAll('tr.hours th[data-h]'), function (th) { columnOf.set(th.getAttribute('data-h'), th.cellIndex); });
  var delayMs = 5000;
  var timer = 0;

  function say(text) { if (status) status.textContent = text; }

  function element(view) {
    var node = document.createElement(view[3] ? 'a' : 'span');
    node.className = view[0];
    node.textContent = view[1];
    node.setAttribute('title', view[2]);
    if (view[3]) node.setAttribute('href', view[3]);
    return node;
  }

  function put(td, view) {
    if (!td) return;
    td.replaceChildren(element(view));
  }

  // The summary line above the grid counts the cells by their state's class; after a live update it counts
  // them again from the page, which has every cell (the poll sends only those that changed).
  var summary = document.getElementById('summary');
  var summaryWords = summary ? summary.getAttribute('data-words').split('|').map(function (pair) {
    var at = pair.indexOf(':');
    return [pair.slice(0, at), pair.slice(at + 1)];
  }) : [];

  function recount() {
    if (!summary) return;
    var counts = {};
    var cells = grid.tBodies[0].querySelectorAll('td > *');
    for (var i = 0; i < cells.length; i++) {
      var classes = cells[i].classList;
      for (var k = 0; k < classes.length; k++) counts[classes[k]] = (counts[classes[k]] || 0) + 1;
    }
    var parts = [];
    summaryWords.forEach(function (pair) { if (counts[pair[0]]) parts.push(counts[pair[0]] + ' ' + pair[1]); });
    if (parts.length) summary.textContent = parts.join(' \u00b7 ');
  }

  function apply(data) {
    if (data.reload) { location.reload(); return; }
    for (var i = 0; i < data.cells.length; i++) {
      var cell = data.cells[i];
      var row = rowsByGeo.get(cell[0]);
      var column = columnOf.get(cell[1]);
      if (!row) { location.reload(); return; } // a GEO this page does not know yet
      if (column !== undefined) put(row.cells[column], cell.slice(2));
    }
    for (var j = 0; j < data.hours.length; j++) {
      var hour = data.hours[j];
      var at = columnOf.get(hour[0]);
      if (cycleRow && at !== undefined) put(cycleRow.cells[at], hour.slice(1));
    }
    if (data.cells.length) recount();
    since = data.next;
    say('live: updated ' + data.at.slice(11, 19) + ' UTC' + (data.cells.length ? ' (' + data.cells.length + (data.cells.length === 1 ? ' cell' : ' cells') + ' changed)' : ''));
  }

  function schedule() {
    clearTimeout(timer);
    if (!document.hidden) timer = setTimeout(poll, delayMs);
  }

  function poll() {
    var url = '/console/grid.json?from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to) + '&since=' + encodeURIComponent(since);
    fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (response) {
        if (response.status === 401) {
          location.assign('/console/sign-in?next=' + encodeURIComponent(location.pathname + location.search));
          return undefined;
        }
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        apply(data);
        delayMs = 5000;
      })
      .catch(function (error) {
        // A host restarting or a link down: try again, less often, and say so.
        delayMs = Math.min(delayMs * 2, 60000);
        say('live: no answer (' + error.message + '); trying again in ' + Math.round(delayMs / 1000) + ' s');
      })
      .finally(schedule);
  }

  // A hidden tab does not poll; it catches up at once when it is shown again.
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) clearTimeout(timer);
    else poll();
  });
  say('live: updates every 5 s');
  schedule();
})();
`;
