/*
 * dashboard.js — perfopt's live dashboard (served by perfopt-httpd at
 * /dashboard/dashboard.js): asks for an API token and keeps it in
 * sessionStorage (never in a URL or a cookie), sends it as a bearer token
 * to the shim's /api/v1/performance routes, draws the time series as SVG
 * (its own small plotting code, no library), lists the score, the open
 * alerts (with a resolve button), the recommendations and the recent
 * optimization runs, and refreshes itself.
 *
 * Every value from the server goes into the page as text (textContent,
 * attribute values), never as markup: statement texts and alert messages
 * are whatever the database's users wrote.
 */
'use strict';

(function () {
  var API = '/api/v1/performance';
  var TOKEN_KEY = 'perfopt.token';
  var REFRESH_MS = 10000;
  var SVG = 'http://www.w3.org/2000/svg';

  /*
   * The charts: each draws the history series whose name is listed (one
   * line per series and label set).  Latency and error rate also collect
   * live points from /status while the page is open, for servers whose
   * history has no such series.
   */
  var CHARTS = [
    {id: 'cpu', title: 'CPU busy %', unit: '%', series: ['cpu_busy_pct', 'cpu_iowait_pct']},
    {id: 'memory', title: 'Memory used %', unit: '%', series: ['memory_used_pct']},
    {id: 'disks', title: 'Disks used %', unit: '%', series: ['data_disk_used_pct', 'wal_disk_used_pct']},
    {id: 'network', title: 'Network bytes/s', unit: 'B/s',
      series: ['network_rx_bytes_per_second', 'network_tx_bytes_per_second']},
    {id: 'connections', title: 'Connections', unit: '',
      series: ['connections_active', 'connections_idle', 'connections_idle_in_transaction',
        'connections_waiting_on_lock']},
    {id: 'pool', title: 'Pool utilization %', unit: '%', series: ['pool_utilization_pct']},
    {id: 'commits', title: 'Commits/s per database', unit: '/s', series: ['commits_per_second']},
    {id: 'cache', title: 'Cache hit ratio % per database', unit: '%', series: ['cache_hit_pct']},
    {id: 'latency', title: 'Statement latency ms (p50, p95, p99)', unit: 'ms',
      series: ['latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms'],
      live: [['p50_ms', 'latency_p50_ms'], ['p95_ms', 'latency_p95_ms'], ['p99_ms', 'latency_p99_ms']]},
    {id: 'errors', title: 'Statement error rate %', unit: '%',
      series: ['error_rate_pct'],
      live: [['error_rate_percent', 'error_rate_pct']]}
  ];

  /* live points gathered from /status: name -> [[t, v, v, v], ...] */
  var live = {};
  var timer = null;
  var loading = false;
  var again = false;

  function $(id) { return document.getElementById(id); }

  function token() {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function svgEl(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function fmt(v, digits) {
    if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return '–';
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (a >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return v.toFixed(digits === undefined ? (a >= 100 ? 0 : a >= 10 ? 1 : 2) : digits);
  }

  function when(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  /* #error: the last refresh's trouble; #notice: the last action's (a refused resolve) */
  function showError(msg, id) {
    var p = $(id || 'error');
    if (msg) { p.textContent = msg; p.hidden = false; } else { p.textContent = ''; p.hidden = true; }
  }

  /* one API call: the parsed JSON body, or an Error with the HTTP status */
  function api(method, path) {
    return fetch(API + path, {
      method: method,
      headers: {'Authorization': 'Bearer ' + token(), 'Accept': 'application/json'},
      credentials: 'omit',
      cache: 'no-cache',
      referrerPolicy: 'no-referrer'
    }).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!r.ok) {
          var err = new Error(path + ': HTTP ' + r.status + (body && body.detail ? ' (' + body.detail + ')' : ''));
          err.status = r.status;
          throw err;
        }
        return body;
      });
    });
  }

  /* ---- charts ---- */

  function buildCharts() {
    var box = $('charts');
    clear(box);
    CHARTS.forEach(function (c) {
      var div = el('div', null, 'chart');
      div.id = 'chart-' + c.id;
      div.setAttribute('data-points', '0');
      div.appendChild(el('h2', c.title));
      var svg = svgEl('svg', {'class': 'plot', viewBox: '0 0 400 150', preserveAspectRatio: 'none'});
      div.appendChild(svg);
      div.appendChild(el('div', null, 'legend'));
      box.appendChild(div);
    });
  }

  function seriesLabel(s) {
    var labels = s.labels || {};
    var keys = Object.keys(labels);
    if (keys.length === 0) return s.name;
    return s.name + ' {' + keys.map(function (k) { return k + '=' + labels[k]; }).join(', ') + '}';
  }

  /* draw the series of one chart into its card over [from, to] (epoch seconds) */
  function drawChart(c, list, from, to) {
    var div = $('chart-' + c.id);
    var svg = div.querySelector('svg');
    var legend = div.querySelector('.legend');
    var W = 400, H = 150, L = 52, R = 6, T = 6, B = 18;
    var lo = Infinity, hi = -Infinity, total = 0;

    clear(svg);
    clear(legend);
    list.forEach(function (s) {
      s.points.forEach(function (p) {
        for (var i = 1; i <= 3; i++)
          if (typeof p[i] === 'number' && isFinite(p[i])) { lo = Math.min(lo, p[i]); hi = Math.max(hi, p[i]); }
      });
    });
    if (lo === Infinity) {
      var t = svgEl('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle', 'class': 'nodata'});
      t.textContent = 'no data in this range';
      svg.appendChild(t);
      div.setAttribute('data-points', '0');
      return;
    }
    lo = Math.min(lo, 0);
    if (hi <= lo) hi = lo + 1;
    hi = hi * 1.05;
    function x(t) { return L + (W - L - R) * Math.max(0, Math.min(1, (t - from) / Math.max(1, to - from))); }
    function y(v) { return T + (H - T - B) * (1 - (v - lo) / (hi - lo)); }

    svg.appendChild(svgEl('line', {x1: L, y1: T, x2: L, y2: H - B, 'class': 'axis'}));
    svg.appendChild(svgEl('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, 'class': 'axis'}));
    [[hi, T + 8], [lo, H - B]].forEach(function (a) {
      var t = svgEl('text', {x: L - 3, y: a[1], 'text-anchor': 'end'});
      t.textContent = fmt(a[0]) + (c.unit ? ' ' + c.unit : '');
      svg.appendChild(t);
    });
    [[from, 'start'], [to, 'end']].forEach(function (a) {
      var t = svgEl('text', {x: a[1] === 'start' ? L : W - R, y: H - 4, 'text-anchor': a[1]});
      t.textContent = new Date(a[0] * 1000).toLocaleTimeString();
      svg.appendChild(t);
    });

    list.forEach(function (s, i) {
      var pts = s.points.filter(function (p) {
        return typeof p[2] === 'number' && isFinite(p[2]) && p[0] <= to + 1;
      });
      var cls = 'c' + (i % 6);
      if (pts.length === 0) return;
      /* the min-max band, then the average line */
      var band = pts.map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[3] === null ? p[2] : p[3]).toFixed(1); })
        .concat(pts.slice().reverse().map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[1] === null ? p[2] : p[1]).toFixed(1); }));
      svg.appendChild(svgEl('polygon', {points: band.join(' '), 'class': 'band ' + cls}));
      var line = svgEl('polyline', {
        points: pts.map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[2]).toFixed(1); }).join(' '),
        'class': 'line ' + cls,
        'data-series': seriesLabel(s),
        'data-count': pts.length,
        'data-first': pts[0][0],
        'data-last': pts[pts.length - 1][0],
        'data-last-value': pts[pts.length - 1][2]
      });
      svg.appendChild(line);
      if (pts.length === 1)
        svg.appendChild(svgEl('circle', {cx: x(pts[0][0]), cy: y(pts[0][2]), r: 2.5, 'class': cls}));
      total += pts.length;
      var item = el('span');
      item.appendChild(el('span', null, 'swatch ' + cls));
      item.appendChild(document.createTextNode(seriesLabel(s) + ': ' + fmt(pts[pts.length - 1][2])));
      legend.appendChild(item);
    });
    div.setAttribute('data-points', String(total));
  }

  function drawCharts(history, from, to) {
    var all = (history && Array.isArray(history.series)) ? history.series : [];
    $('charts').setAttribute('data-span', String(to - from));
    CHARTS.forEach(function (c) {
      var list = all.filter(function (s) {
        return c.series.indexOf(s.name) >= 0 && Array.isArray(s.points) && s.points.length > 0;
      });
      /* live points only where the history has none of this chart's series */
      if (list.length === 0 && c.live)
        c.live.forEach(function (l) {
          var pts = (live[l[1]] || []).filter(function (p) { return p[0] >= from; });
          if (pts.length > 0) list.push({name: l[1] + ' (live)', labels: {}, points: pts});
        });
      drawChart(c, list, from, to);
    });
  }

  /* the statement latency of the last interval, kept as live points */
  function collectLive(status) {
    var li = status && status.api && status.api.last_interval;
    var now = Math.floor(Date.now() / 1000);
    if (!li) return;
    CHARTS.forEach(function (c) {
      (c.live || []).forEach(function (l) {
        var v = li[l[0]];
        if (typeof v !== 'number' || !isFinite(v)) return;
        var arr = live[l[1]] = live[l[1]] || [];
        arr.push([now, v, v, v]);
        while (arr.length > 2000) arr.shift();
      });
    });
  }

  /* ---- panels ---- */

  function drawScore(score) {
    var tbody = $('score-parts').querySelector('tbody');
    clear(tbody);
    $('score').textContent = score && typeof score.score === 'number' ? fmt(score.score, 1) : '–';
    ['database', 'api', 'monitoring'].forEach(function (part) {
      var p = score && score[part];
      var tr = el('tr');
      tr.id = 'score-' + part;
      tr.appendChild(el('th', part));
      tr.appendChild(el('td', p && typeof p.score === 'number' ? fmt(p.score, 1) : '–'));
      tr.appendChild(el('td', p && p.weight_percent !== undefined ? 'weight ' + p.weight_percent + '%' : '', 'muted'));
      tbody.appendChild(tr);
    });
  }

  /* a panel is redrawn only when its data changed (a button stays under the pointer) */
  var drawn = {};
  function changed(panel, data) {
    var sig = JSON.stringify(data === undefined ? null : data);
    if (drawn[panel] === sig) return false;
    drawn[panel] = sig;
    return true;
  }

  function drawAlerts(page) {
    var items = page && Array.isArray(page.items) ? page.items : [];
    var tbody = $('alerts').querySelector('tbody');
    if (!changed('alerts', items)) return;
    clear(tbody);
    $('alerts-empty').hidden = items.length > 0;
    items.forEach(function (a) {
      var tr = el('tr');
      tr.setAttribute('data-alert-id', String(a.id));
      var sev = el('td');
      sev.appendChild(el('span', a.severity, 'sev-' + String(a.severity).replace(/[^a-z]/g, '')));
      tr.appendChild(sev);
      tr.appendChild(el('td', a.metric));
      tr.appendChild(el('td', a.subject));
      tr.appendChild(el('td', a.message));
      tr.appendChild(el('td', when(a.first_seen)));
      var td = el('td');
      var b = el('button', 'resolve', 'resolve');
      b.type = 'button';
      b.setAttribute('data-alert-id', String(a.id));
      b.addEventListener('click', function () { resolve(a.id, b); });
      td.appendChild(b);
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
  }

  /* resolving needs an admin token: a reader's gets 403, said in the page */
  function resolve(id, button) {
    button.disabled = true;
    api('POST', '/alerts/' + encodeURIComponent(String(id)) + '/resolve').then(function () {
      showError(null, 'notice');
      refresh();
    }, function (e) {
      button.disabled = false;
      showError(e.status === 403 ? 'this token may not resolve alerts (an admin token may)' : e.message, 'notice');
    });
  }

  function drawRecommendations(list) {
    var tbody = $('recommendations').querySelector('tbody');
    var items = Array.isArray(list) ? list : (list && Array.isArray(list.items) ? list.items : []);
    if (!changed('recommendations', items)) return;
    clear(tbody);
    $('recommendations-empty').hidden = items.length > 0;
    items.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', r.kind));
      tr.appendChild(el('td', r.status));
      tr.appendChild(el('td', r.ddl || r.setting || r.table_name || ''));
      tr.appendChild(el('td', typeof r.benefit_ms === 'number' ? fmt(r.benefit_ms) + ' ms' : '–'));
      tr.appendChild(el('td', r.reason, 'reason'));
      tbody.appendChild(tr);
    });
  }

  function drawRuns(history, verifications, scoreNow) {
    var tbody = $('runs').querySelector('tbody');
    var items = history && Array.isArray(history.items) ? history.items.slice() : [];
    var byJob = {};
    (verifications || []).forEach(function (v) { if (v.job_id !== null) byJob[v.job_id] = v; });
    items.sort(function (a, b) { return b.id - a.id; });
    if (!changed('runs', [items, verifications, scoreNow && scoreNow.score])) return;
    clear(tbody);
    $('runs-empty').hidden = items.length > 0;
    items.slice(0, 10).forEach(function (h) {
      var rep = h.report || {};
      var actions = Array.isArray(rep.actions) ? rep.actions : [];
      var tr = el('tr');
      tr.appendChild(el('td', '#' + h.id + ' ' + (h.kind || rep.kind || '')));
      tr.appendChild(el('td', when(h.started_at)));
      var acts = el('td');
      actions.forEach(function (a) { acts.appendChild(el('div', (a.kind || '') + ': ' + (a.statement || ''))); });
      if (actions.length === 0) acts.textContent = 'none';
      tr.appendChild(acts);
      tr.appendChild(el('td', rep.score_before && typeof rep.score_before.score === 'number' ? fmt(rep.score_before.score, 1) : '–'));
      tr.appendChild(el('td', scoreNow && typeof scoreNow.score === 'number' ? fmt(scoreNow.score, 1) : '–'));
      tr.appendChild(el('td', typeof rep.estimated_improvement_ms === 'number' ? fmt(rep.estimated_improvement_ms) + ' ms' : '–'));
      var verdicts = el('td');
      actions.forEach(function (a) {
        var v = byJob[a.job_id];
        if (!v) return;
        var text = (v.index_name || '') + ': ' + (v.verdict || v.state || 'observing');
        if (typeof v.realized_improvement_ms === 'number') text += ' (' + fmt(v.realized_improvement_ms) + ' ms realized)';
        verdicts.appendChild(el('div', text, 'verdict-' + String(v.state || '').replace(/[^a-z_]/g, '')));
      });
      if (!verdicts.firstChild) verdicts.textContent = verifications === null ? 'n/a' : '–';
      tr.appendChild(verdicts);
      tbody.appendChild(tr);
    });
  }

  /* ---- refresh ---- */

  function optional(p) {
    /* a route this server may not have (older shim): null instead of failing the refresh */
    return p.then(function (v) { return v; }, function (e) {
      if (e.status === 404 || e.status === 403) return null;
      throw e;
    });
  }

  function refresh() {
    if (!token()) return;
    /* one refresh at a time; one asked for meanwhile (a new range) runs after it */
    if (loading) { again = true; return; }
    loading = true;
    again = false;
    var range = parseInt($('range').value, 10) || 3600;
    var to = Math.floor(Date.now() / 1000);
    var from = to - range;
    var q = '?from=' + from + '&to=' + to + '&points=300';
    Promise.all([
      api('GET', '/metrics/history' + q).then(null, function (e) { if (e.status === 404) return null; throw e; }),
      api('GET', '/status'),
      api('GET', '/alerts?state=open&limit=100'),
      api('GET', '/recommendations?limit=100'),
      api('GET', '/history?limit=10'),
      optional(api('GET', '/verifications?limit=100'))
    ]).then(function (r) {
      var status = r[1] || {};
      var ver = r[5] === null ? null : (Array.isArray(r[5]) ? r[5] : (r[5] && r[5].items) || []);
      showError(r[0] === null ? 'this server has no metrics history route: charts show live points only' : null);
      collectLive(status);
      drawCharts(r[0], from, to);
      drawScore(status.score);
      drawAlerts(r[2]);
      drawRecommendations(r[3]);
      drawRuns(r[4], ver, status.score);
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      document.body.setAttribute('data-refreshes', String((parseInt(document.body.getAttribute('data-refreshes'), 10) || 0) + 1));
    }, function (e) {
      if (e.status === 401) { logout('the token was refused'); return; }
      showError(e.message);
    }).then(function () {
      loading = false;
      if (again) refresh();
    });
  }

  function start() {
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('logout').hidden = false;
    buildCharts();
    refresh();
    if (timer === null) timer = window.setInterval(refresh, REFRESH_MS);
  }

  function logout(why) {
    try { window.sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing kept */ }
    if (timer !== null) { window.clearInterval(timer); timer = null; }
    $('dashboard').hidden = true;
    $('logout').hidden = true;
    showError(null, 'notice');
    drawn = {};
    $('login').hidden = false;
    $('updated').textContent = why || 'not loaded';
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var t = $('token').value.trim();
      $('token').value = '';
      if (!t) return;
      try { window.sessionStorage.setItem(TOKEN_KEY, t); } catch (e) { showError('sessionStorage is not available'); return; }
      start();
    });
    $('logout').addEventListener('click', function () { logout(null); });
    $('range').addEventListener('change', refresh);
    if (token()) start();
  });
})();
