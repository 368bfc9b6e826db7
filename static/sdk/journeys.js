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
 * Page Viewed events). Reference: docs/sdk.md.
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
  const track = (name, properties) => {
    if (typeof name !== 'string' || !name.trim()) { warn('track() needs an event name'); return; }
    const id = uuid();
    const data = { id, profile_id: currentId(), name, ts: new Date().toISOString(), properties: cleanProps(properties) };
    // With identity verification on, events of an identified profile sent with the public
    // SDK key carry its hash, or the server refuses them (403).
    if (profileId && userHash) data.user_hash = userHash;
    enqueue({ type: 'event', id, data });
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
  // In-app messages (placeholder). The server side is not there yet; this is where it
  // plugs in:
  //   connect()    — open wss://<api>/ws/... for the current profile id (with
  //                  user_hash when identity verification is on); called on load and
  //                  after identify(); must be idempotent.
  //   pageViewed() — show in-app messages queued while the visitor was away.
  //   dispatch(m)  — hand a message to journeys.onMessage() callbacks; with no
  //                  callback registered the SDK will render its own pop-up.
  // ---------------------------------------------------------------------------------
  const inApp = {
    handlers: [],
    connect() { /* no-op until the in-app websocket exists */ },
    disconnect() { /* no-op until the in-app websocket exists */ },
    pageViewed() { /* no-op until the in-app websocket exists */ },
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
    inApp.connect();

    pending.forEach((call) => {
      if (!Array.isArray(call) || typeof call[0] !== 'string') return;
      const method = api[call[0]];
      if (typeof method === 'function') method(...call.slice(1));
      else warn(`unknown queued call "${call[0]}"`);
    });
  } catch (err) {
    warn('failed to start', err);
  }
})();
