/*!
 * Journeys web SDK — dependency-free, no build step, ES2017.
 *
 *   <script src="https://HOST/static/sdk/journeys.js" data-key="SDK_KEY" async></script>
 *
 * data-key is the project's public sdk_key (its settings page shows the snippet); a
 * server ingest_key there still works, but it belongs on servers.
 *
 * Optional attributes: data-api="https://api.example.com" (API base URL; default: the
 * origin the script itself was loaded from), data-auto-page="false" (no automatic
 * Page Viewed events), data-sw="/journeys-sw.js" (the web push service worker, on the
 * page's own origin). Reference: docs/sdk.md.
 *
 * Ground rules this file follows:
 * - It runs on other people's pages: nothing it does may throw into the host page,
 *   and the only global it creates is `window.journeys`.
 * - The ingest key is write-only and meant to be public; nothing else secret lives here.
 * - Delivery is at-least-once: every event gets its id once, on the client, and keeps it
 *   across retries and page loads, so the server's dedupe turns it into exactly-once.
 */
(() => {
  'use strict';

  const w = window;
  const d = document;
  const VERSION = '1.0.0';

  // Loaded twice (e.g. the snippet pasted into two templates): keep the first instance,
  // a second one would double every page view.
  const existing = w.journeys;
  if (existing && existing.version && typeof existing.track === 'function') return;

  const KEYS = {
    anon: 'journeys.anonymous_id',
    profile: 'journeys.profile_id',
    userHash: 'journeys.user_hash',
    session: 'journeys.session',
    queue: 'journeys.queue',
  };
  const SESSION_MS = 30 * 60 * 1000; // a session ends after 30 min without a page view
  const FLUSH_DELAY_MS = 500; // batch what happens in the same half second
  const BATCH_SIZE = 20; // ...or send as soon as this many are waiting
  const QUEUE_CAP = 500; // bounded: a site that is offline for days must not fill storage
  const KEEPALIVE_BYTES = 60000; // browsers cap keepalive bodies at 64 KiB in total
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 60000;
  const NAV_SETTLE_MS = 50; // SPA routers set document.title just after pushState

  const warned = new Set();
  const warn = (...args) => {
    try { console.warn('[journeys]', ...args); } catch (_) { /* no console: stay silent */ }
  };
  const warnOnce = (tag, ...args) => {
    if (!warned.has(tag)) { warned.add(tag); warn(...args); }
  };

  // ---------------------------------------------------------------------------------
  // Storage. localStorage can be missing or throw (Safari private mode, sandboxed
  // iframes, quota exceeded, storage blocked by the user); fall back to memory so the
  // SDK keeps working for the lifetime of the page.
  // ---------------------------------------------------------------------------------
  const memory = Object.create(null);
  let storageOk = true;
  const store = {
    get(k) {
      if (storageOk) {
        try { return w.localStorage.getItem(k); } catch (_) { storageOk = false; }
      }
      return k in memory ? memory[k] : null;
    },
    set(k, v) {
      memory[k] = v;
      if (storageOk) {
        try { w.localStorage.setItem(k, v); } catch (_) { storageOk = false; }
      }
    },
    del(k) {
      delete memory[k];
      if (storageOk) {
        try { w.localStorage.removeItem(k); } catch (_) { storageOk = false; }
      }
    },
  };

  // crypto.randomUUID only exists in secure contexts (https, localhost); plain-http
  // sites still deserve unique ids, so build a v4 UUID from getRandomValues instead.
  const uuid = () => {
    const c = w.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try { return c.randomUUID(); } catch (_) { /* fall through */ }
    }
    const b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  // ---------------------------------------------------------------------------------
  // Configuration, read from our own <script> tag. document.currentScript is set while
  // a classic (also async) script runs; the selector is for odd loaders that eval us.
  // ---------------------------------------------------------------------------------
  const script = d.currentScript
    || d.querySelector('script[data-key][src*="journeys"]')
    || d.querySelector('script[data-key]');
  const attr = (name) => (script && script.getAttribute(name)) || null;
  const ingestKey = attr('data-key');
  const autoPage = attr('data-auto-page') !== 'false';
  const apiBase = (() => {
    const explicit = attr('data-api');
    if (explicit) return explicit.replace(/\/+$/, '');
    try {
      // The page may live on any origin; the API lives where the SDK was served from.
      // Keep a path prefix if the app is mounted below one (https://x/app/static/sdk/...).
      const u = new URL(script.src, location.href);
      const m = u.pathname.match(/^(.*)\/static\/sdk\/[^/]*$/);
      return u.origin + (m ? m[1] : '');
    } catch (_) {
      return location.origin;
    }
  })();
  if (!ingestKey) warn('no data-key on the <script> tag; nothing will be sent');

  // ---------------------------------------------------------------------------------
  // Identity. Before identify() the visitor is "anon-<uuid>"; identify() asks the
  // server to merge that anonymous profile into the real one, then every later event
  // carries the real id (also on later page loads, until reset()).
  // ---------------------------------------------------------------------------------
  let profileId = store.get(KEYS.profile);
  let anonId = store.get(KEYS.anon);
  let userHash = store.get(KEYS.userHash);

  const ensureAnonId = () => {
    if (!anonId) {
      anonId = `anon-${uuid()}`;
      store.set(KEYS.anon, anonId);
    }
    return anonId;
  };
  const currentId = () => profileId || ensureAnonId();

  // ---------------------------------------------------------------------------------
  // Outgoing queue: events and identify calls, in the order they happened, persisted so
  // that a page unload or a failed request does not lose them. Order matters: the
  // anonymous events must reach the server before the identify that merges them.
  //   {type: 'event', id, data: {id, profile_id, name, ts, properties}}
  //   {type: 'identify', id, data: {profile_id, anonymous_id, properties[, user_hash]}}
  // ---------------------------------------------------------------------------------
  const loadQueue = () => {
    try {
      const q = JSON.parse(store.get(KEYS.queue) || '[]');
      return Array.isArray(q)
        ? q.filter((i) => i && i.id && i.data && (i.type === 'event' || i.type === 'identify'))
        : [];
    } catch (_) {
      return []; // corrupt storage: start over rather than fail forever
    }
  };
  let queue = loadQueue();
  const saveQueue = () => {
    if (queue.length) store.set(KEYS.queue, JSON.stringify(queue));
    else store.del(KEYS.queue);
  };

  let flushTimer = null;
  let retryTimer = null;
  let attempt = 0; // consecutive failures, drives the backoff
  let pumping = null; // the running send loop, if any
  let unloading = false;

  const enqueue = (item) => {
    queue.push(item);
    if (queue.length > QUEUE_CAP) {
      // Drop the oldest events, never an identify: losing a merge is worse than
      // losing one old page view.
      const idx = queue.findIndex((i) => i.type === 'event');
      if (idx >= 0) queue.splice(idx, 1);
      warnOnce('cap', `queue is full (${QUEUE_CAP}); dropping the oldest events`);
    }
    saveQueue();
    schedule();
  };

  const schedule = () => {
    if (retryTimer) return; // backing off: the retry sends everything waiting
    if (queue.length >= BATCH_SIZE) { flushNow(); return; }
    if (!flushTimer) flushTimer = setTimeout(() => { flushTimer = null; flushNow(); }, FLUSH_DELAY_MS);
  };

  const flushNow = () => {
    clearTimeout(flushTimer);
    flushTimer = null;
    if (!pumping) {
      pumping = pump().catch((err) => { warn('send failed', err); return false; })
        .then((done) => { pumping = null; return done; });
    }
    return pumping;
  };

  // Send until the queue is empty (true) or a request failed and a retry is scheduled
  // (false). One request at a time keeps the order and the server's load sane.
  const pump = async () => {
    if (!ingestKey) return queue.length === 0;
    while (queue.length) {
      if (!(await sendNext())) return false;
    }
    return true;
  };

  // Bodies sent while the page is hidden or unloading use keepalive, which lets the
  // request outlive the page but is limited in size.
  const mustKeepAlive = () => unloading || d.visibilityState === 'hidden';

  const post = (path, body, keepalive) => fetch(apiBase + path, {
    method: 'POST',
    mode: 'cors',
    credentials: 'omit', // the key is the only credential; never send the API's cookies
    keepalive,
    headers: { Authorization: `Bearer ${ingestKey}`, 'Content-Type': 'application/json' },
    body,
  });

  const removeItems = (items) => {
    const ids = new Set(items.map((i) => i.id));
    queue = queue.filter((i) => !ids.has(i.id));
    saveQueue();
  };

  const sendNext = async () => {
    const keepalive = mustKeepAlive();
    let items;
    let path;
    let body;
    if (queue[0].type === 'identify') {
      items = [queue[0]];
      path = '/api/v1/identify';
      body = JSON.stringify(items[0].data);
    } else {
      // The run of events up to the next identify, at most BATCH_SIZE of them.
      items = [];
      let size = 16;
      for (const item of queue) {
        if (item.type !== 'event' || items.length >= BATCH_SIZE) break;
        const s = JSON.stringify(item.data).length + 1;
        if (keepalive && items.length && size + s > KEEPALIVE_BYTES) break;
        items.push(item);
        size += s;
      }
      path = '/api/v1/events';
      body = JSON.stringify({ events: items.map((i) => i.data) });
    }

    let res;
    try {
      res = await post(path, body, keepalive);
    } catch (_) {
      return retryLater(null); // offline, DNS, CORS refusal, page going away...
    }
    if (res.ok) {
      attempt = 0;
      removeItems(items);
      return true;
    }
    if (res.status === 429 || res.status >= 500) return retryLater(res);

    // Any other 4xx will fail the same way every time: drop it so it cannot block the
    // queue forever, and say why in the console (never in the page).
    let detail = null;
    try { detail = await res.json(); } catch (_) { /* not JSON */ }
    if ((res.status === 400 || res.status === 403) && items.length > 1 && detail && Array.isArray(detail.errors)) {
      // The server stores nothing of a batch with one bad event; drop just the bad
      // ones and let the rest go out again.
      const bad = new Set(detail.errors.map((e) => e && e.index).filter((i) => Number.isInteger(i)));
      const dropped = items.filter((_, i) => bad.has(i));
      if (dropped.length && dropped.length < items.length) {
        warn('dropped invalid events', dropped.map((i) => i.data), detail.errors);
        removeItems(dropped);
        return true;
      }
    }
    warn(`${path} refused ${items.length} item(s) with HTTP ${res.status}; dropped`, detail || '');
    removeItems(items);
    return true;
  };

  const retryLater = (res) => {
    // Exponential backoff with jitter so a recovering server is not hit by every open
    // tab at the same instant. Retry-After wins when the server sent a longer one.
    let delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    delay = delay / 2 + Math.random() * (delay / 2);
    const after = res && Number(res.headers.get('Retry-After'));
    if (after > 0) delay = Math.max(delay, Math.min(after * 1000, 10 * BACKOFF_MAX_MS));
    attempt += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => { retryTimer = null; flushNow(); }, delay);
    return false;
  };

  // Properties are copied through JSON: this freezes them at call time (the host may
  // mutate the object afterwards) and turns Dates into ISO strings.
  const cleanProps = (p) => {
    if (!p || typeof p !== 'object' || Array.isArray(p)) return {};
    try { return JSON.parse(JSON.stringify(p)) || {}; } catch (_) {
      warn('properties are not JSON-serialisable (a cycle?); sent without them');
      return {};
    }
  };

  // ---------------------------------------------------------------------------------
  // Public calls.
  // ---------------------------------------------------------------------------------
  const eventData = (id, name, properties) => {
    const data = { id, profile_id: currentId(), name, ts: new Date().toISOString(), properties };
    // With identity verification on, events of an identified profile sent with the public
    // SDK key carry its hash, or the server refuses them (403).
    if (profileId && userHash) data.user_hash = userHash;
    return data;
  };

  const track = (name, properties) => {
    if (typeof name !== 'string' || !name.trim()) { warn('track() needs an event name'); return; }
    const id = uuid();
    enqueue({ type: 'event', id, data: eventData(id, name, cleanProps(properties)) });
  };

  const identify = (id, properties, options) => {
    if (id === null || id === undefined || String(id).trim() === '') {
      warn('identify() needs a profile id');
      return;
    }
    id = String(id);
    const props = cleanProps(properties);
    if (options && options.userHash) {
      // Kept for the in-app websocket, which the server only opens for a matching
      // HMAC(project secret, profile id) when identity verification is on.
      userHash = String(options.userHash);
      store.set(KEYS.userHash, userHash);
    } else if (id !== profileId) {
      userHash = null; // a hash belongs to one profile id
      store.del(KEYS.userHash);
    }
    let anonymousId = null;
    if (id === profileId) {
      // Already this user: nothing to merge; only update properties, if any.
      if (!Object.keys(props).length && !(options && options.userHash)) { inApp.connect(); return; }
    } else if (!profileId) {
      anonymousId = ensureAnonId(); // anonymous -> identified: merge the visitor's history
    }
    // else: identified as someone else -> a switch of user; the current visitor id is
    // not theirs to inherit, so nothing is merged.
    profileId = id;
    store.set(KEYS.profile, id);
    const data = { profile_id: id, anonymous_id: anonymousId, properties: props };
    if (userHash) data.user_hash = userHash;
    enqueue({ type: 'identify', id: uuid(), data });
    inApp.connect();
  };

  const reset = () => {
    // Logout: the next person on this device starts as a fresh anonymous visitor with
    // a fresh session. Already-queued events keep the id they were recorded under.
    profileId = null;
    userHash = null;
    store.del(KEYS.profile);
    store.del(KEYS.userHash);
    store.del(KEYS.session);
    anonId = null;
    store.del(KEYS.anon);
    ensureAnonId();
    inApp.disconnect();
  };

  // ---------------------------------------------------------------------------------
  // Page views and sessions.
  // ---------------------------------------------------------------------------------
  const sessionId = () => {
    const now = Date.now();
    let s = null;
    try { s = JSON.parse(store.get(KEYS.session) || 'null'); } catch (_) { s = null; }
    if (!s || typeof s.id !== 'string' || typeof s.last !== 'number' || now - s.last > SESSION_MS) {
      s = { id: uuid(), last: now };
    }
    s.last = now;
    store.set(KEYS.session, JSON.stringify(s));
    return s.id;
  };

  const withoutHash = (url) => (url || '').split('#')[0];
  let lastUrl = null; // URL of this page load's previous page view (SPA referrer)

  const page = (properties) => {
    const url = location.href;
    const props = cleanProps(properties);
    // utm_* parameters feed Referrer Entry blocks ("arrived from campaign X").
    try {
      new URLSearchParams(location.search).forEach((value, key) => {
        if (/^utm_/i.test(key) && value) props[key.toLowerCase()] = value;
      });
    } catch (_) { /* very old URLSearchParams: skip UTM */ }
    Object.assign(props, {
      url,
      referrer: lastUrl === null ? d.referrer : lastUrl,
      title: d.title,
      session_id: sessionId(),
    });
    lastUrl = url;
    track('Page Viewed', props);
    inApp.pageViewed();
  };

  // SPA navigation: history.pushState/replaceState do not fire any event, so wrap them;
  // back/forward fire popstate. A page view is sent only when the URL without its
  // #fragment changed: in-page anchors and replaceState of the same URL are not pages.
  let navTimer = null;
  const onNavigate = () => {
    try {
      clearTimeout(navTimer);
      navTimer = setTimeout(() => {
        try {
          if (withoutHash(location.href) !== withoutHash(lastUrl)) page();
        } catch (err) { warn('page view failed', err); }
      }, NAV_SETTLE_MS);
    } catch (_) { /* never break the host's router */ }
  };
  const watchHistory = () => {
    const h = w.history;
    ['pushState', 'replaceState'].forEach((method) => {
      const original = h && h[method];
      if (typeof original !== 'function') return;
      h[method] = function journeysHistoryWrapper(...args) {
        const result = original.apply(this, args); // the host's call must behave as before
        onNavigate();
        return result;
      };
    });
    w.addEventListener('popstate', onNavigate);
  };

  // ---------------------------------------------------------------------------------
  // In-app messages. One websocket per page, for the current profile id (and its
  // user_hash when the site gave one): the server sends the unexpired messages not yet
  // viewed when it opens (queued while the visitor was away), then new ones as they
  // come. With no journeys.onMessage() callback the SDK shows its own pop-up: a
  // non-modal dialog (role=dialog, labelled by its title) built from text nodes only,
  // so message content can never inject HTML. What the visitor does is reported back
  // (viewed / clicked / dismissed); the server stores viewed and clicked as the events
  // "Notification Viewed" and "Notification Clicked" that journeys and goals use.
  // ---------------------------------------------------------------------------------
  const WS_BACKOFF_MIN_MS = 1000;
  const WS_BACKOFF_MAX_MS = 30000;
  const ACK_WAIT_MS = 1000; // a click waits this long for the server before navigating
  const REFUSED = { 4400: 'bad request', 4401: 'unknown key', 4403: 'user_hash refused' };
  const IN_APP_EVENTS = { viewed: 'Notification Viewed', clicked: 'Notification Clicked' };
  const wsBase = apiBase.replace(/^http/i, 'ws'); // http -> ws, https -> wss

  const safeHttpUrl = (raw) => {
    if (!raw) return null;
    try {
      const u = new URL(String(raw), location.href);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null; // no javascript:
    } catch (_) {
      return null;
    }
  };

  const inApp = {
    handlers: [],
    ws: null,
    wsFor: null,
    retry: 0,
    retryTimer: null,
    stopped: true,
    seen: new Set(), // message ids handled on this page
    waiting: [], // pop-ups to show, one at a time
    current: null,
    acks: new Map(),
    ready: false, // set once the stub's queued calls ran: one socket for the final identity

    get connected() { return !!(this.ws && this.ws.readyState === 1); },

    connect() {
      if (!this.ready || !ingestKey || typeof w.WebSocket !== 'function') return;
      const id = currentId();
      const forKey = `${id}\n${userHash || ''}`;
      if (this.ws && this.wsFor === forKey && this.ws.readyState <= 1) return; // idempotent
      this.disconnect();
      this.stopped = false;
      const params = new URLSearchParams({ key: ingestKey, profile_id: id });
      if (userHash) params.set('user_hash', userHash);
      let ws;
      try {
        ws = new w.WebSocket(`${wsBase}/ws/sdk/in-app/?${params}`);
      } catch (err) {
        warnOnce('ws', 'cannot open the in-app websocket', err);
        return;
      }
      this.ws = ws;
      this.wsFor = forKey;
      ws.onopen = () => { this.retry = 0; };
      ws.onmessage = (e) => {
        let m = null;
        try { m = JSON.parse(e.data); } catch (_) { return; }
        try { this.receive(m); } catch (err) { warn('in-app message failed', err); }
      };
      ws.onclose = (e) => {
        if (this.ws !== ws) return; // replaced by a newer socket
        this.ws = null;
        if (REFUSED[e.code]) {
          warnOnce(`ws${e.code}`, `in-app messages refused by the server (${e.code}: ${REFUSED[e.code]})`);
          return; // trying again cannot help
        }
        if (this.stopped) return;
        const delay = Math.min(WS_BACKOFF_MAX_MS, WS_BACKOFF_MIN_MS * 2 ** this.retry);
        this.retry += 1;
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => { this.retryTimer = null; this.connect(); },
          delay / 2 + Math.random() * (delay / 2));
      };
    },

    disconnect() {
      this.stopped = true;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      const ws = this.ws;
      this.ws = null;
      this.wsFor = null;
      if (ws) { try { ws.close(1000); } catch (_) { /* already closing */ } }
    },

    // A page view (also an SPA one): make sure the socket is there, which shows what
    // was queued; an open socket already receives everything new.
    pageViewed() { if (!this.connected) this.connect(); },

    receive(m) {
      if (!m || typeof m !== 'object') return;
      if (m.type === 'ack') {
        const done = this.acks.get(`${m.id}:${m.action}`);
        if (done) done(m.ok !== false);
        return;
      }
      if (m.type === 'error') { warn('in-app:', m.message || m); return; }
      if (m.type !== 'in_app' || !Number.isInteger(m.id) || this.seen.has(m.id)) return;
      if (m.expires_at && Date.parse(m.expires_at) <= Date.now()) return;
      this.seen.add(m.id);
      const text = (v) => (v === null || v === undefined ? '' : String(v));
      const message = {
        id: m.id,
        title: text(m.title),
        body: text(m.body),
        buttonText: text(m.button_text),
        buttonUrl: text(m.button_url),
        expiresAt: m.expires_at || null,
      };
      if (this.handlers.length) {
        // The site renders it; it reports back through these.
        message.viewed = () => this.report('viewed', message);
        message.clicked = () => this.report('clicked', message);
        message.dismissed = () => this.report('dismissed', message);
        this.dispatch(message);
        return;
      }
      this.waiting.push(message);
      this.showNext();
    },

    // Tell the server; resolves true once it confirmed (or false after ACK_WAIT_MS).
    // Without an open socket, viewed/clicked still reach the server as events through
    // the durable queue, under the same per-message id the server uses (counted once).
    report(action, message) {
      const ws = this.ws;
      if (ws && ws.readyState === 1) {
        return new Promise((resolve) => {
          const key = `${message.id}:${action}`;
          const timer = setTimeout(() => { this.acks.delete(key); resolve(false); }, ACK_WAIT_MS);
          this.acks.set(key, (ok) => { clearTimeout(timer); this.acks.delete(key); resolve(ok); });
          try { ws.send(JSON.stringify({ type: action, id: message.id })); } catch (_) { resolve(false); }
        });
      }
      if (IN_APP_EVENTS[action]) {
        const id = `in-app-${message.id}-${action}`;
        enqueue({ type: 'event', id, data: eventData(id, IN_APP_EVENTS[action], {
          message_id: message.id, channel: 'in_app', title: message.title,
        }) });
      }
      return Promise.resolve(false);
    },

    showNext() {
      if (this.current || !this.waiting.length) return;
      if (!d.body) { d.addEventListener('DOMContentLoaded', () => this.showNext(), { once: true }); return; }
      const m = this.waiting.shift();
      const el = (tag, style, textValue) => {
        const node = d.createElement(tag);
        Object.assign(node.style, style); // CSSOM, not a style attribute: fine under a strict CSP
        if (textValue) node.textContent = textValue; // text only, never HTML
        return node;
      };
      const root = el('div', {
        position: 'fixed', right: '16px', bottom: '16px', zIndex: '2147483647',
        maxWidth: 'min(360px, calc(100vw - 32px))', boxSizing: 'border-box',
        padding: '16px 44px 16px 16px', background: '#fff', color: '#111',
        border: '1px solid #767676', borderRadius: '8px', boxShadow: '0 4px 16px rgba(0,0,0,.25)',
        font: '15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', textAlign: 'left',
      });
      root.className = 'journeys-in-app';
      root.setAttribute('role', 'dialog');
      root.setAttribute('aria-modal', 'false');
      root.tabIndex = -1;
      const uid = `journeys-in-app-${m.id}`;
      if (m.title) {
        const h = el('h2', { margin: '0 0 6px', fontSize: '17px', fontWeight: '600', color: '#111' }, m.title);
        h.id = `${uid}-title`;
        root.appendChild(h);
        root.setAttribute('aria-labelledby', h.id);
      } else {
        root.setAttribute('aria-label', 'Message');
      }
      if (m.body) {
        const p = el('p', { margin: '0 0 12px', whiteSpace: 'pre-line' }, m.body);
        p.id = `${uid}-body`;
        root.appendChild(p);
        root.setAttribute('aria-describedby', p.id);
      }
      const buttonStyle = {
        font: 'inherit', cursor: 'pointer', borderRadius: '6px', padding: '6px 14px',
        border: '1px solid #1a56db', background: '#1a56db', color: '#fff',
      };
      const target = safeHttpUrl(m.buttonUrl);
      if (m.buttonText) {
        const action = el('button', buttonStyle, m.buttonText);
        action.type = 'button';
        action.addEventListener('click', () => {
          this.close('clicked');
          const sent = this.report('clicked', m);
          if (target) sent.then(() => flushNow()).then(() => { location.assign(target); });
        });
        root.appendChild(action);
      }
      const close = el('button', {
        position: 'absolute', top: '6px', right: '6px', width: '32px', height: '32px',
        font: '22px/1 sans-serif', cursor: 'pointer', border: '0', background: 'transparent', color: '#333',
      }, '\u00d7');
      close.type = 'button';
      close.setAttribute('aria-label', 'Close');
      close.addEventListener('click', () => this.close('dismissed'));
      root.appendChild(close);
      root.addEventListener('keydown', (e) => {
        if (e.key === 'Escape' || e.key === 'Esc') { e.stopPropagation(); this.close('dismissed'); }
      });
      const before = d.activeElement;
      d.body.appendChild(root);
      this.current = { message: m, root, before };
      // Keyboard and screen-reader users land on the dialog; Escape or Close gives focus back.
      try { root.focus({ preventScroll: true }); } catch (_) { /* old browser */ }
      this.report('viewed', m);
    },

    close(how) {
      const cur = this.current;
      if (!cur) return;
      this.current = null;
      if (cur.root.parentNode) cur.root.parentNode.removeChild(cur.root);
      if (cur.before && typeof cur.before.focus === 'function' && d.contains(cur.before)) {
        try { cur.before.focus({ preventScroll: true }); } catch (_) { /* gone */ }
      }
      if (how === 'dismissed') this.report('dismissed', cur.message);
      this.showNext();
    },

    onMessage(callback) {
      if (typeof callback !== 'function') { warn('onMessage() needs a function'); return () => {}; }
      this.handlers.push(callback);
      return () => { this.handlers = this.handlers.filter((h) => h !== callback); };
    },
    dispatch(message) {
      this.handlers.forEach((h) => {
        try { h(message); } catch (err) { warn('onMessage callback threw', err); }
      });
    },
  };

  // ---------------------------------------------------------------------------------
  // Web push. journeys.webPush.subscribe() asks the visitor for permission (call it
  // from a click: browsers ignore permission prompts nobody asked for), registers the
  // service worker that shows the notifications, and stores the browser's
  // subscription on the profile. A service worker must come from the page's own
  // origin: host static/sdk/journeys-sw.js there (default URL /journeys-sw.js, or
  // data-sw="/path/sw.js" on the script tag, or {serviceWorker: '...'}). docs/sdk.md.
  // ---------------------------------------------------------------------------------
  const swUrl = attr('data-sw') || '/journeys-sw.js';
  const b64urlBytes = (s) => {
    const pad = '='.repeat((4 - (s.length % 4)) % 4);
    const raw = w.atob((s + pad).replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };
  const apiCall = (method, path, body) => fetch(apiBase + path, {
    method,
    mode: 'cors',
    credentials: 'omit',
    headers: { Authorization: `Bearer ${ingestKey}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const webPush = {
    supported() {
      return !!(w.navigator && 'serviceWorker' in w.navigator && 'PushManager' in w && 'Notification' in w);
    },
    async subscribe(options) {
      const opts = options || {};
      if (!ingestKey) return { ok: false, reason: 'no data-key' };
      if (!webPush.supported()) return { ok: false, reason: 'unsupported' };
      const permission = await w.Notification.requestPermission();
      if (permission !== 'granted') return { ok: false, reason: permission };
      const keyRes = await apiCall('GET', '/api/v1/web-push/key');
      if (!keyRes.ok) return { ok: false, reason: `key: HTTP ${keyRes.status}` };
      const { vapid_public_key: vapidKey } = await keyRes.json();
      const reg = await w.navigator.serviceWorker.register(opts.serviceWorker || swUrl,
        opts.scope ? { scope: opts.scope } : undefined);
      const ready = await w.navigator.serviceWorker.ready;
      const registration = ready || reg;
      let sub = await registration.pushManager.getSubscription();
      if (sub && sub.options && sub.options.applicationServerKey) {
        // Made with another key (rotated VAPID keys): a fresh one is needed.
        const current = new Uint8Array(sub.options.applicationServerKey);
        const wanted = b64urlBytes(vapidKey);
        if (current.length !== wanted.length || current.some((b, i) => b !== wanted[i])) {
          await sub.unsubscribe();
          sub = null;
        }
      }
      if (!sub) {
        sub = await registration.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: b64urlBytes(vapidKey),
        });
      }
      await flushNow(); // the identify and events queued so far: the profile must exist
      const body = { profile_id: currentId(), subscription: sub.toJSON() };
      if (userHash && profileId) body.user_hash = userHash;
      const res = await apiCall('POST', '/api/v1/web-push/subscriptions', body);
      return res.ok ? { ok: true, endpoint: sub.endpoint } : { ok: false, reason: `HTTP ${res.status}` };
    },
    async unsubscribe() {
      if (!webPush.supported()) return { ok: false, reason: 'unsupported' };
      const registration = await w.navigator.serviceWorker.getRegistration(swUrl);
      const sub = registration && await registration.pushManager.getSubscription();
      if (!sub) return { ok: true };
      const body = { profile_id: currentId(), endpoint: sub.endpoint };
      if (userHash && profileId) body.user_hash = userHash;
      await apiCall('DELETE', '/api/v1/web-push/subscriptions', body);
      await sub.unsubscribe();
      return { ok: true };
    },
  };
  // Public form: never rejects, resolves to {ok, reason?}.
  const safeAsync = (name, fn) => (...args) => {
    try {
      return Promise.resolve(fn(...args)).catch((err) => { warn(`${name}() failed`, err); return { ok: false, reason: String(err) }; });
    } catch (err) {
      warn(`${name}() failed`, err);
      return Promise.resolve({ ok: false, reason: String(err) });
    }
  };

  // ---------------------------------------------------------------------------------
  // window.journeys: every method is wrapped so a bug here, or a bad argument, only
  // ever reaches the console.
  // ---------------------------------------------------------------------------------
  const safe = (name, fn) => (...args) => {
    try { return fn(...args); } catch (err) { warn(`${name}() failed`, err); return undefined; }
  };
  const api = {
    version: VERSION,
    identify: safe('identify', identify),
    track: safe('track', track),
    page: safe('page', page),
    reset: safe('reset', reset),
    onMessage: safe('onMessage', (cb) => inApp.onMessage(cb)),
    /** The in-app websocket: connected (read-only), connect() and disconnect(). */
    inApp: {
      get connected() { return inApp.connected; },
      connect: safe('inApp.connect', () => inApp.connect()),
      disconnect: safe('inApp.disconnect', () => inApp.disconnect()),
    },
    /** Browser notifications: supported(), subscribe(options), unsubscribe(). */
    webPush: {
      supported: safe('webPush.supported', () => webPush.supported()),
      subscribe: safeAsync('webPush.subscribe', (options) => webPush.subscribe(options)),
      unsubscribe: safeAsync('webPush.unsubscribe', () => webPush.unsubscribe()),
    },
    /** Send everything queued now. Resolves to true once the queue is empty, false if a
     *  send failed (it stays queued and is retried). Never rejects. */
    flush() {
      try {
        clearTimeout(retryTimer); // an explicit flush does not wait for the backoff
        retryTimer = null;
        return flushNow().then((done) => done, () => false);
      } catch (err) {
        warn('flush() failed', err);
        return Promise.resolve(false);
      }
    },
  };

  try {
    // Calls made before the script loaded, by the stub in docs/sdk.md: an array of
    // [method, ...args] (or {q: [...]}), replayed in order once we are ready.
    const pending = Array.isArray(existing) ? existing.slice()
      : (existing && Array.isArray(existing.q) ? existing.q.slice() : []);
    w.journeys = api;

    // Send what an earlier page load could not (it keeps its original ids).
    if (queue.length) schedule();

    w.addEventListener('pagehide', () => { unloading = true; flushNow(); });
    w.addEventListener('pageshow', () => { unloading = false; }); // back/forward cache
    d.addEventListener('visibilitychange', () => {
      if (d.visibilityState === 'hidden') flushNow();
    });
    w.addEventListener('online', () => { if (queue.length) api.flush(); });

    if (autoPage) {
      page();
      watchHistory();
    }

    pending.forEach((call) => {
      if (!Array.isArray(call) || typeof call[0] !== 'string') return;
      const method = api[call[0]];
      if (typeof method === 'function') method(...call.slice(1));
      else warn(`unknown queued call "${call[0]}"`);
    });
    // After the replay, so a page that identifies at once opens one socket, not two.
    inApp.ready = true;
    inApp.connect();
  } catch (err) {
    warn('failed to start', err);
  }
})();
