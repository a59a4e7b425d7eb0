// @ts-check
/// <reference lib="webworker" />
/**
 * Shopfloor's service worker. Flask serves this file at /sw.js and fills in the build id
 * and the list of files to precache (the shell: static files and the offline pages).
 *
 * - Only same-origin GETs outside /api/ are handled; writes and API calls always go to
 *   the network (the outbox, not this worker, is what makes writes work offline).
 * - Pages: network first (4 s), then the cached copy, then the offline shells. Pages
 *   are kept for offline use unless the server marks them Cache-Control: no-store. A transfer
 *   slip offline is always the slip shell: it changes with every signature, and the shell shows
 *   it from the pulled data and this device's own records, to whoever is signed in now. So is an
 *   inspection (/inspections/new and /inspections/<id>, not its report): the inspection shell.
 * - /static/v/<build>/: cache first. A versioned URL names one build's file, so its bytes never
 *   change; the server keeps the previous build's files, so a page of that build still loads
 *   its own scripts after a deploy.
 * - Other /static/ files: stale-while-revalidate from the shell cache.
 * - A new build waits until the page sends SKIP_WAITING (it does so only when a person
 *   agrees and the outbox is empty): never reload under someone's hands.
 */
const BUILD = "__BUILD__";
const PRECACHE = ["__PRECACHE__"];

const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));
const SHELL_CACHE = `shopfloor-shell-${BUILD}`;
const PAGES_CACHE = "shopfloor-pages";
const NAVIGATION_TIMEOUT_MS = 4000;
const BIN_PAGE = /^\/b\/[^/]+(\/transfer)?$/; // the bin, or opening a slip for it
const SLIP_PAGE = /^\/slips\/[0-9a-fA-F-]{36}$/;
const INSPECTION_PAGE = /^\/inspections\/(new|[0-9a-fA-F-]{36})$/;
const SCAN_PAGE = /^\/(scan)?$/; // the floor's landing page ("/" redirects there when online)

sw.addEventListener("install", (event) => {
  event.waitUntil(Promise.all([precache(), routeStaticFiles(event)]));
});

/**
 * A build's own static files never change: where the browser has the static routing API
 * (Chromium 123+), they are served straight from this build's cache (the network when missing)
 * without starting this worker or running its fetch handler for each of them, which is most of
 * a page's start when there are 27 modules. Elsewhere the fetch handler does the same (cacheFirst).
 * @param {any} event
 */
async function routeStaticFiles(event) {
  if (typeof event.addRoutes !== "function") return;
  try {
    await event.addRoutes({ condition: { urlPattern: "/static/v/*" }, source: { cacheName: SHELL_CACHE } });
  } catch (error) {
    console.warn("shopfloor: static routes refused", error); // the fetch handler still serves them
  }
}

/** Fetch every shell file; any failure fails the install, so a half shell is never used. */
async function precache() {
  const cache = await caches.open(SHELL_CACHE);
  await Promise.all(PRECACHE.map(async (url) => cache.put(url, await fetchForShell(url))));
}

/** Attempts per shell file: floor Wi-Fi drops a request now and then, an install should not fail for it. */
const ATTEMPTS = 4;

/** @param {string} url */
async function fetchForShell(url) {
  for (let attempt = 1; ; attempt++) {
    let response;
    try {
      // Bypass the HTTP cache: a stale copy would pin an old file under the new build.
      // No cookies: the offline shells must be rendered for nobody, whoever installs.
      response = await fetch(new Request(url, { cache: "reload", credentials: "omit" }));
    } catch (error) {
      if (attempt >= ATTEMPTS) throw error; // the network kept failing
    }
    if (response) {
      // A redirect (to the login page, say) must never be cached as the offline shell.
      if (response.ok && !response.redirected) return response;
      const passing = response.status >= 500 || response.status === 429; // else asking again gives the same
      if (!passing || attempt >= ATTEMPTS) throw new Error(`precache ${url}: ${response.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
  }
}

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      // Pages rendered for the old build may not match the new scripts: drop them too.
      for (const name of await caches.keys()) {
        if (name.startsWith("shopfloor-") && name !== SHELL_CACHE) await caches.delete(name);
      }
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener("message", (event) => {
  if (event.data?.type === "SKIP_WAITING") sw.skipWaiting();
  // A page that was mid-navigation when this worker activated missed its clients.claim().
  if (event.data?.type === "CLAIM") event.waitUntil(sw.clients.claim());
});

// Background Sync: the pages hold the sync code, so wake them rather than duplicate it here.
// With no page open the outbox simply waits for the next one.
sw.addEventListener("sync", (/** @type {any} */ event) => {
  if (event.tag !== "shopfloor-sync") return;
  event.waitUntil(
    sw.clients.matchAll({ type: "window" }).then((clients) => {
      for (const client of clients) client.postMessage({ type: "SYNC" });
    }),
  );
});

sw.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET" || request.headers.has("range")) return;
  const url = new URL(request.url);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(event));
  } else if (url.pathname.startsWith("/static/v/")) {
    event.respondWith(cacheFirst(event));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(staleWhileRevalidate(event));
  } else {
    event.respondWith(networkOrCache(request));
  }
});

/**
 * Network first; a page that arrives (even after the timeout) is kept for offline use.
 * @param {FetchEvent} event
 * @returns {Promise<Response>}
 */
async function navigate(event) {
  const { request } = event;
  const network = fetch(request);
  event.waitUntil(
    network
      .then(async (response) => {
        if (response.status !== 200 || response.redirected || response.type !== "basic") return;
        // The server's way to keep a page off the device (e.g. office-only pages).
        if (/no-store/i.test(response.headers.get("Cache-Control") ?? "")) return;
        const copy = response.clone(); // before the page starts reading the body
        await (await caches.open(PAGES_CACHE)).put(request, copy);
      })
      .catch(() => {}),
  );
  /** @type {Promise<undefined>} */
  const timeout = new Promise((resolve) => setTimeout(resolve, NAVIGATION_TIMEOUT_MS, undefined));
  try {
    const response = await Promise.race([network, timeout]);
    // 502-504: a proxy answering for an app that is down; the floor is better off offline.
    if (response && ![502, 503, 504].includes(response.status)) return response;
    if (response) return (await offlineCopy(request)) ?? response;
  } catch {
    // network failure: fall through to the offline copies
  }
  return (
    (await offlineCopy(request)) ??
    new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } })
  );
}

/**
 * The slip shell for /slips/<id>, the inspection shell for /inspections/new and /inspections/<id>;
 * else the cached copy of this page, else the offline bin shell for /b/<code>, else for / and /scan
 * the scan page last seen (or the scan shell: scanning needs no server), else /offline.
 * @param {Request} request
 * @returns {Promise<Response | undefined>}
 */
async function offlineCopy(request) {
  const { pathname } = new URL(request.url);
  const shellPath = SLIP_PAGE.test(pathname) ? "/offline/slip" : INSPECTION_PAGE.test(pathname) ? "/offline/inspection" : "";
  // All lookups at once: a scan offline waits on this before the bin page can start.
  const [shell, own, bin, scan, offline] = await Promise.all([
    shellPath ? caches.match(shellPath) : undefined,
    shellPath ? undefined : caches.match(request, { ignoreVary: true }),
    BIN_PAGE.test(pathname) ? caches.match("/offline/bin") : undefined,
    SCAN_PAGE.test(pathname) ? scanPage() : undefined,
    caches.match("/offline"),
  ]);
  return shell ?? own ?? bin ?? scan ?? offline;
}

/** The scan page as last served to this person, else the scan shell rendered for nobody. */
async function scanPage() {
  return (await caches.match("/scan", { ignoreVary: true })) ?? (await caches.match("/offline/scan"));
}

/**
 * Answer from the cache at once and refresh it in the background; fetch if not cached.
 * @param {FetchEvent} event
 * @returns {Promise<Response>}
 */
async function staleWhileRevalidate(event) {
  const { request } = event;
  const cached = await caches.match(request);
  const network = fetch(request).then((response) => {
    if (response.ok && response.type === "basic") {
      const copy = response.clone();
      event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy)));
    }
    return response;
  });
  if (!cached) return network;
  event.waitUntil(network.catch(() => {}));
  return cached;
}

/**
 * Answer from the cache; fetch and keep what is missing (only a build's own immutable files:
 * the server answers an unknown old build with today's file, which must not stay under its name).
 * @param {FetchEvent} event
 * @returns {Promise<Response>}
 */
async function cacheFirst(event) {
  const { request } = event;
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic" && /immutable/.test(response.headers.get("Cache-Control") ?? "")) {
    const copy = response.clone();
    event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy)));
  }
  return response;
}

/**
 * @param {Request} request
 * @returns {Promise<Response>}
 */
async function networkOrCache(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cached = await caches.match(request);
    if (cached) return cached;
    throw error;
  }
}
