// hubkey-cloud console. Every value that comes from the cloud's state (and so
// from devices) is put into the page with textContent or as a text node: this
// file never assigns innerHTML, outerHTML or insertAdjacentHTML, and builds
// links only from encodeURIComponent of values.
'use strict';

const state = {
  token: null, readOnly: true, overview: null, view: null,
  list: { q: '', sort: 'device_id', desc: false, offset: 0, limit: 50 },
};

// ---- token: given once in the link's fragment (#token=...), kept for the tab
(function takeToken() {
  const m = /(?:^#|&)token=([0-9a-f]{32})/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('hubkey-console-token', m[1]);
    history.replaceState(null, '', location.pathname + '#/');
  }
  state.token = sessionStorage.getItem('hubkey-console-token');
})();

// ---- DOM helpers
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
function txt(v) { return v === null || v === undefined ? '' : String(v); }
function json(v) { return JSON.stringify(v, null, 2); }
function shortTime(t) { return t ? String(t).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''; }
function deviceHref(hub, id) {
  return '#/device/' + encodeURIComponent(hub) + '/' + encodeURIComponent(id);
}

// ---- API
async function api(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}
async function post(path, obj) {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Hubkey-Token': state.token || '' },
    body: JSON.stringify(obj),
  });
  const body = await r.json();
  return { ok: r.ok, status: r.status, body };
}

// ---- live updates (Server-Sent Events)
let refreshTimer = null;
function connectEvents() {
  const es = new EventSource('/api/events');
  const live = document.getElementById('live');
  es.onopen = () => { live.textContent = 'live'; live.className = 'live'; };
  es.onerror = () => { live.textContent = 'reconnecting'; live.className = 'live off'; };
  es.addEventListener('telemetry', (ev) => {
    const row = JSON.parse(ev.data);
    if (state.view && state.view.onTelemetry) state.view.onTelemetry(row);
  });
  es.addEventListener('change', (ev) => {
    state.overview = JSON.parse(ev.data);
    if (!refreshTimer) {
      // The view may have changed by the time the timer fires.
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        if (state.view && state.view.onChange) state.view.onChange().catch(() => {});
      }, 100);
    }
  });
}

// ---- plot of numeric telemetry fields
const COLORS = ['#2a62c9', '#d9480f', '#17853b', '#862e9c', '#c2255c', '#0b7285', '#5c940d', '#e67700'];
class Plot {
  constructor() {
    this.canvas = el('canvas', { class: 'plot', id: 'plot' });
    this.legend = el('div', { class: 'legend', id: 'plot-legend' });
    this.series = new Map();
    this.node = el('div', {}, this.canvas, this.legend);
  }
  add(row) {
    let body;
    try { body = JSON.parse(row.body); } catch (e) { return; }
    if (!body || typeof body !== 'object') return;
    const t = Date.parse(row.time) || Date.now();
    const fields = [];
    for (const [k, v] of Object.entries(body)) {
      if (typeof v === 'number') fields.push([k, v]);
      else if (v && typeof v === 'object' && !Array.isArray(v))
        for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') fields.push([k + '.' + k2, v2]);
    }
    for (const [k, v] of fields) {
      const name = (this.perDevice ? '' : row.device_id + ' ') + k;
      if (!this.series.has(name)) {
        if (this.series.size >= COLORS.length) continue;
        this.series.set(name, []);
      }
      const s = this.series.get(name);
      s.push([t, v]);
      if (s.length > 200) s.shift();
    }
    this.draw();
  }
  draw() {
    const c = this.canvas, w = c.clientWidth || 600, h = c.clientHeight || 220;
    const dpr = window.devicePixelRatio || 1;
    c.width = w * dpr; c.height = h * dpr;
    const g = c.getContext('2d');
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    let t0 = Infinity, t1 = -Infinity, v0 = Infinity, v1 = -Infinity;
    for (const s of this.series.values()) for (const [t, v] of s) {
      t0 = Math.min(t0, t); t1 = Math.max(t1, t); v0 = Math.min(v0, v); v1 = Math.max(v1, v);
    }
    clear(this.legend);
    if (t0 === Infinity) {
      g.fillStyle = '#667085'; g.font = '13px system-ui';
      g.fillText('numeric fields of JSON telemetry are plotted here as they arrive', 12, 24);
      return;
    }
    if (t1 === t0) t1 = t0 + 1;
    if (v1 === v0) { v1 += 1; v0 -= 1; }
    const L = 56, R = 10, T = 10, B = 20;
    const x = (t) => L + (t - t0) / (t1 - t0) * (w - L - R);
    const y = (v) => T + (1 - (v - v0) / (v1 - v0)) * (h - T - B);
    g.strokeStyle = '#e4e7ec'; g.fillStyle = '#667085'; g.font = '11px system-ui';
    for (let i = 0; i <= 4; i++) {
      const v = v0 + (v1 - v0) * i / 4;
      g.beginPath(); g.moveTo(L, y(v)); g.lineTo(w - R, y(v)); g.stroke();
      g.fillText(Number(v.toPrecision(4)).toString(), 4, y(v) + 4);
    }
    g.fillText(new Date(t0).toISOString().slice(11, 19), L, h - 5);
    g.fillText(new Date(t1).toISOString().slice(11, 19), w - R - 48, h - 5);
    let i = 0;
    for (const [name, s] of this.series) {
      const color = COLORS[i++ % COLORS.length];
      g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
      s.forEach(([t, v], j) => { if (j) g.lineTo(x(t), y(v)); else g.moveTo(x(t), y(v)); });
      g.stroke();
      if (s.length === 1) { g.fillStyle = color; g.fillRect(x(s[0][0]) - 2, y(s[0][1]) - 2, 4, 4); }
      const item = el('span', { text: name });
      item.style.setProperty('--c', color);
      this.legend.appendChild(item);
    }
  }
}

// ---- telemetry table (shared by the device page and the telemetry page)
function bodyText(row) {
  if (row.body === null || row.body === undefined) return '(binary, ' + row.size + ' bytes)';
  return row.size > 4096 ? row.body + ' … (' + row.size + ' bytes)' : row.body;
}
function propsText(p) {
  if (!p || typeof p !== 'object') return txt(p);
  return Object.entries(p).map(([k, v]) => k + '=' + txt(v)).join(' ');
}
function telemetryRow(row, withDevice) {
  return el('tr', { 'data-id': row.id },
    el('td', { class: 'mono', text: shortTime(row.time) }),
    withDevice ? el('td', {}, el('a', { href: deviceHref(row.hub, row.device_id), text: row.device_id })) : null,
    el('td', { class: 'mono tm-body', text: bodyText(row) }),
    el('td', { class: 'mono tm-props', text: propsText(row.props) }));
}
function telemetryTable(id, withDevice) {
  return el('table', { id },
    el('thead', {}, el('tr', {}, el('th', { text: 'time (UTC)' }),
      withDevice ? el('th', { text: 'device' }) : null, el('th', { text: 'body' }),
      el('th', { text: 'properties' }))),
    el('tbody'));
}
function prependRow(table, tr, max) {
  const tb = table.tBodies[0];
  tb.insertBefore(tr, tb.firstChild);
  while (tb.rows.length > max) tb.deleteRow(tb.rows.length - 1);
}

// ---- views
function card(id, n, label) {
  return el('div', { class: 'card' }, el('div', { class: 'n', id, text: txt(n) }), el('div', { class: 'l', text: label }));
}

function overviewView() {
  const root = el('div', { id: 'overview' });
  async function render() {
    const o = state.overview = await api('/api/overview');
    clear(root).append(
      el('h2', { text: 'Fleet' }),
      el('div', { class: 'cards' },
        card('ov-devices', o.devices, 'devices'),
        card('ov-connected', o.connected, 'connected now'),
        card('ov-regs-hour', o.registrations_last_hour, 'DPS registrations, last hour'),
        card('ov-assigned-hour', o.assigned_last_hour, 'devices assigned, last hour'),
        card('ov-enrollments', o.enrollments, 'enrollments'),
        card('ov-pending', o.pending_commands, 'commands pending')),
      el('h3', { text: 'Hubs' }),
      el('table', { id: 'hub-table' },
        el('thead', {}, el('tr', {}, ...['hub', 'devices', 'connected', 'disabled', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, o.hubs.map((h) => {
          const bar = el('div', { class: 'bar' }, el('div'));
          bar.firstChild.style.width = (h.devices ? 100 * h.connected / h.devices : 0) + '%';
          return el('tr', { 'data-hub': h.name },
            el('td', {}, el('a', { href: '#/devices?q=' + encodeURIComponent(h.name), text: h.name })),
            el('td', { class: 'hub-devices', text: txt(h.devices) }),
            el('td', { class: 'hub-connected', text: txt(h.connected) }),
            el('td', { text: txt(h.disabled) }), el('td', {}, bar));
        }))),
      el('h3', { text: 'Latest DPS registrations' }),
      el('table', { id: 'recent-registrations' },
        el('thead', {}, el('tr', {}, ...['registration ID', 'status', 'assigned hub', 'enrollment', 'count', 'time (UTC)'].map((h) => el('th', { text: h })))),
        el('tbody', {}, (o.recent_registrations || []).map((r) => el('tr', {},
          el('td', { class: 'mono' }, r.hub && r.device_id ? el('a', { href: deviceHref(r.hub, r.device_id), text: r.reg_id }) : r.reg_id),
          el('td', { text: txt(r.status) }), el('td', { text: txt(r.hub) }),
          el('td', { text: txt(r.enrollment_kind) + ' ' + txt(r.enrollment_name) }),
          el('td', { text: txt(r.count) }), el('td', { class: 'mono', text: shortTime(r.updated) }))))),
      el('p', { class: 'muted', text: 'State as of ' + shortTime(o.time) + '. Updates live.' }));
  }
  return { node: root, render, onChange: render };
}

const COLUMNS = [
  ['connected', 'state'], ['device_id', 'device ID'], ['hub', 'hub'], ['enrollment', 'enrollment'],
  ['status', 'DPS status'], ['last_seen', 'last seen (UTC)'], [null, 'thumbprint'], ['created', 'created'],
];
function devicesView(params) {
  const L = state.list;
  if (params.has('q')) { L.q = params.get('q'); L.offset = 0; }
  const root = el('div', { id: 'devices' });
  const search = el('input', { id: 'device-search', type: 'search', placeholder: 'search ID, hub, enrollment, thumbprint', size: 40, value: L.q });
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { L.q = search.value; L.offset = 0; render(); }, 150);
  });
  const info = el('span', { id: 'device-count', class: 'muted' });
  const prev = el('button', { class: 'secondary', id: 'page-prev', text: '‹ previous', onclick: () => { L.offset = Math.max(0, L.offset - L.limit); render(); } });
  const next = el('button', { class: 'secondary', id: 'page-next', text: 'next ›', onclick: () => { L.offset += L.limit; render(); } });
  const table = el('table', { id: 'device-table' }, el('thead', {}, el('tr', {}, COLUMNS.map(([key, label]) => {
    const th = el('th', { text: label, class: key ? 'sortable' : '', 'data-sort': key });
    if (key) th.addEventListener('click', () => { L.desc = L.sort === key ? !L.desc : false; L.sort = key; L.offset = 0; render(); });
    return th;
  }))), el('tbody'));
  root.append(el('h2', { text: 'Devices' }), el('div', { class: 'toolbar' }, search, prev, next, info), table);
  async function render() {
    const p = new URLSearchParams({ q: L.q, sort: L.sort, order: L.desc ? 'desc' : 'asc', offset: L.offset, limit: L.limit });
    const r = await api('/api/devices?' + p);
    for (const th of table.tHead.rows[0].cells) {
      th.classList.toggle('sorted', th.dataset.sort === L.sort);
      th.classList.toggle('desc', th.dataset.sort === L.sort && L.desc);
    }
    info.textContent = r.total ? (r.offset + 1) + '–' + (r.offset + r.items.length) + ' of ' + r.total : 'no devices';
    prev.disabled = r.offset === 0;
    next.disabled = r.offset + r.items.length >= r.total;
    const tb = clear(table.tBodies[0]);
    for (const d of r.items) {
      const st = !d.enabled ? 'disabled' : d.connected ? 'on' : '';
      tb.appendChild(el('tr', { 'data-device': d.device_id, 'data-hub': d.hub },
        el('td', {}, el('span', { class: 'dot ' + st }), !d.enabled ? 'disabled' : d.connected ? 'connected' : 'offline'),
        el('td', { class: 'mono' }, el('a', { href: deviceHref(d.hub, d.device_id), text: d.device_id })),
        el('td', { text: d.hub }),
        el('td', { text: d.enrollment_name ? d.enrollment_kind + ' ' + d.enrollment_name : (d.source === 'cli' ? '(added by CLI)' : '') }),
        el('td', { text: txt(d.reg_status) }),
        el('td', { class: 'mono', text: shortTime(d.last_seen) }),
        el('td', { class: 'mono', title: txt(d.sha256 || d.sha1), text: txt(d.sha256 || d.sha1).slice(0, 16) }),
        el('td', { class: 'mono', text: shortTime(d.created) })));
    }
  }
  return { node: root, render, onChange: render };
}

function kv(rows) {
  return el('table', { class: 'kv' }, el('tbody', {}, rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { class: 'mono', text: txt(v) })))));
}

function actionPanel(title, fields, button, run) {
  const result = el('div', { class: 'result' });
  const btn = el('button', { text: button });
  const form = el('div', { class: 'panel' }, el('h3', { text: title }), ...fields, el('div', {}, btn), result);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    result.className = 'result';
    result.textContent = 'working…';
    try {
      const r = await run();
      result.className = 'result' + (r.ok && r.body.ok !== false ? '' : ' bad');
      result.textContent = r.text;
    } catch (e) {
      result.className = 'result bad';
      result.textContent = String(e);
    }
    btn.disabled = false;
  });
  return { form, result, btn };
}

function deviceView(hub, id) {
  const root = el('div', { id: 'device' });
  const plot = new Plot();
  plot.perDevice = true;
  const tm = telemetryTable('device-telemetry', false);
  const dyn = el('div');
  let actions = null;
  let current = null; // the device as last rendered
  function buildActions() {
    const who = { hub, device_id: id };
    const c2dBody = el('textarea', { id: 'c2d-body', rows: 2, placeholder: 'message body' });
    const c2dProps = el('input', { id: 'c2d-props', placeholder: 'properties: name=value&name2=value2', size: 40 });
    const c2d = actionPanel('Send a cloud-to-device message', [c2dBody, c2dProps], 'Send', async () => {
      const props = {};
      for (const part of c2dProps.value.split('&').filter(Boolean)) {
        const i = part.indexOf('=');
        if (i <= 0) return { ok: false, body: {}, text: 'properties must be name=value pairs joined by &' };
        props[part.slice(0, i)] = part.slice(i + 1);
      }
      const r = await post('/api/c2d', { ...who, body: c2dBody.value, props });
      return { ...r, text: r.ok ? 'queued as message ' + r.body.id : r.body.error };
    });
    const mName = el('input', { id: 'method-name', placeholder: 'method name', size: 18 });
    const mPayload = el('input', { id: 'method-payload', placeholder: 'JSON payload (optional)', size: 30 });
    const mTimeout = el('input', { id: 'method-timeout', type: 'number', min: 1, max: 300, value: 30, size: 4 });
    const method = actionPanel('Invoke a direct method', [mName, ' ', mPayload, ' timeout (s) ', mTimeout], 'Invoke', async () => {
      const r = await post('/api/method', { ...who, name: mName.value, payload: mPayload.value, timeout: Number(mTimeout.value) || 30 });
      return { ...r, text: r.ok ? 'status ' + r.body.status + ': ' + JSON.stringify(r.body.payload) : r.body.error };
    });
    method.result.id = 'method-result';
    c2d.result.id = 'c2d-result';
    const patch = el('textarea', { id: 'twin-patch', rows: 3, placeholder: '{"interval": 10}' });
    const twin = actionPanel('Patch desired properties', [patch], 'Patch', async () => {
      const r = await post('/api/twin', { ...who, patch: patch.value });
      return { ...r, text: r.ok ? 'desired $version ' + r.body.desired_version : r.body.error };
    });
    twin.result.id = 'twin-result';
    const toggle = actionPanel('Enable or disable', [el('p', { class: 'muted', text: 'A disabled device is disconnected and refused until enabled.' })],
      'Disable device', async () => {
        const r = await post('/api/enable', { ...who, enabled: !current.enabled });
        await render();
        return { ...r, text: r.ok ? (r.body.enabled ? 'enabled' : 'disabled') : r.body.error };
      });
    toggle.result.id = 'enable-result';
    toggle.btn.id = 'enable-button';
    return { node: el('div', { class: 'grid', id: 'actions' }, c2d.form, method.form, twin.form, toggle.form), toggle: toggle.btn };
  }
  async function render() {
    const q = new URLSearchParams({ hub, id });
    let d;
    try { d = await api('/api/device?' + q); } catch (e) {
      clear(root).append(el('h2', { text: 'No device ' + id + ' in ' + hub }));
      return;
    }
    const c = d.connection || {};
    const st = !d.enabled ? 'disabled' : c.connected ? 'connected' : 'offline';
    const reg = d.registration;
    clear(dyn).append(
      el('h2', {}, el('span', { class: 'dot ' + (!d.enabled ? 'disabled' : c.connected ? 'on' : '') }), el('span', { id: 'device-title', text: d.device_id }), el('span', { class: 'muted', text: ' in ' + d.hub + ' · ' + st })),
      el('div', { class: 'grid' },
        el('div', { class: 'panel' }, el('h3', { text: 'Identity and connection' }), kv([
          ['state', st], ['last connect', shortTime(c.last_connect)], ['last disconnect', shortTime(c.last_disconnect)],
          ['thumbprint SHA-256', d.sha256], ['thumbprint SHA-1', d.sha1], ['created', shortTime(d.created)], ['source', d.source]])),
        el('div', { class: 'panel' }, el('h3', { text: 'DPS registration' }), reg ? kv([
          ['registration ID', reg.reg_id], ['status', reg.status + (reg.substatus ? ' (' + reg.substatus + ')' : '')],
          ['enrollment', txt(reg.enrollment_kind) + ' ' + txt(reg.enrollment_name)], ['assigned hub', reg.hub],
          ['initial hub', reg.initial_hub], ['registrations', reg.count], ['first', shortTime(reg.created)], ['last', shortTime(reg.updated)],
          ['error', reg.error_code ? reg.error_code + ' ' + txt(reg.error_message) : '']]) : el('p', { class: 'muted', text: 'not registered through DPS' }))),
      el('h3', { text: 'Registration history (last day)' }),
      el('table', { id: 'operations' }, el('thead', {}, el('tr', {}, ['time (UTC)', 'status', 'assigned hub', 'operation'].map((h) => el('th', { text: h })))),
        el('tbody', {}, d.operations.map((o) => {
          const r = o.result || {}, s = r.registrationState || {};
          return el('tr', {}, el('td', { class: 'mono', text: shortTime(o.created) }), el('td', { text: txt(r.status) }),
            el('td', { text: txt(s.assignedHub) }), el('td', { class: 'mono', text: o.op_id }));
        }))),
      el('h3', { text: 'Twin' }),
      el('div', { class: 'grid' },
        el('div', {}, el('div', { class: 'muted', id: 'desired-version', text: 'desired, $version ' + d.twin.desired_version }), el('pre', { id: 'twin-desired', text: json(d.twin.desired) })),
        el('div', {}, el('div', { class: 'muted', id: 'reported-version', text: 'reported, $version ' + d.twin.reported_version }), el('pre', { id: 'twin-reported', text: json(d.twin.reported) }))),
      el('h3', { text: 'Recent cloud-to-device commands' }),
      el('table', { id: 'commands' }, el('thead', {}, el('tr', {}, ['id', 'kind', 'name', 'payload', 'delivery', 'status', 'answer', 'created'].map((h) => el('th', { text: h })))),
        el('tbody', {}, d.commands.map((m) => el('tr', {},
          el('td', { text: txt(m.id) }), el('td', { text: m.kind }), el('td', { text: txt(m.name) }),
          el('td', { class: 'mono', text: txt(m.payload) }),
          el('td', { class: 'state-' + m.state, text: m.state === 'done' ? (m.kind === 'c2d' ? 'delivered' : 'done') : m.state }),
          el('td', { text: txt(m.status) }), el('td', { class: 'mono', text: txt(m.response) }),
          el('td', { class: 'mono', text: shortTime(m.created) }))))));
    current = d;
    if (!state.readOnly && !actions) actions = buildActions();
    if (actions) actions.toggle.textContent = d.enabled ? 'Disable device' : 'Enable device';
    return d;
  }
  root.append(dyn);
  async function first() {
    const d = await render();
    if (!d) return;
    if (actions) root.append(el('h3', { text: 'Actions' }), el('div', { id: 'actions-slot' }, actions.node));
    root.append(el('h3', { text: 'Live telemetry' }), plot.node, tm);
    for (const row of d.telemetry.slice().reverse()) { plot.add(row); prependRow(tm, telemetryRow(row, false), 100); }
  }
  return {
    node: root, render: first, onChange: render,
    onTelemetry(row) {
      if (row.hub !== hub || row.device_id !== id) return;
      plot.add(row);
      prependRow(tm, telemetryRow(row, false), 100);
    },
  };
}

function telemetryView() {
  const root = el('div', { id: 'telemetry' });
  const plot = new Plot();
  const tm = telemetryTable('telemetry-table', true);
  const filter = el('input', { id: 'telemetry-filter', type: 'search', placeholder: 'only device ID', size: 30 });
  filter.addEventListener('change', () => render());
  root.append(el('h2', { text: 'Live telemetry' }), el('div', { class: 'toolbar' }, filter), plot.node, tm);
  async function render() {
    plot.series.clear();
    clear(tm.tBodies[0]);
    const o = state.overview || await api('/api/overview');
    const after = Math.max(0, o.telemetry_last_id - 200);
    const p = new URLSearchParams({ after, limit: 200 });
    if (filter.value) p.set('device', filter.value);
    const r = await api('/api/telemetry?' + p);
    for (const row of r.items) { plot.add(row); prependRow(tm, telemetryRow(row, true), 200); }
    plot.draw();
  }
  return {
    node: root, render,
    onTelemetry(row) {
      if (filter.value && row.device_id !== filter.value) return;
      plot.add(row);
      prependRow(tm, telemetryRow(row, true), 200);
    },
  };
}

// ---- router
async function route() {
  const h = location.hash || '#/';
  const [path, query] = h.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  let v, nav;
  if (parts[0] === 'devices') { v = devicesView(params); nav = 'nav-devices'; }
  else if (parts[0] === 'device' && parts.length === 3) { v = deviceView(decodeURIComponent(parts[1]), decodeURIComponent(parts[2])); nav = 'nav-devices'; }
  else if (parts[0] === 'telemetry') { v = telemetryView(); nav = 'nav-telemetry'; }
  else { v = overviewView(); nav = 'nav-overview'; }
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.id === nav);
  state.view = v;
  clear(document.getElementById('view')).appendChild(v.node);
  try { await v.render(); } catch (e) {
    v.node.appendChild(el('p', { class: 'result bad', text: String(e) }));
  }
  document.body.dataset.ready = h;
}

async function start() {
  const o = await api('/api/overview');
  state.overview = o;
  state.readOnly = o.read_only || !state.token;
  document.getElementById('mode').textContent = o.read_only ? 'read-only' : state.token ? 'actions enabled' : 'read-only (open the link with the token for actions)';
  window.addEventListener('hashchange', route);
  connectEvents();
  await route();
}
start();
