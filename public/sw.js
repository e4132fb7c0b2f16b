/**
 * Offline support: precaches every file of the build at install and answers same-origin GETs from
 * that cache first. The build (vite.config.ts, `precacheManifest`) replaces the manifest below with
 * the real file list and a content hash, so a new build is a new service worker with a new cache.
 * Requests to other origins are never made by the app and are left alone here.
 */
const MANIFEST = /*__PRECACHE_MANIFEST__*/ { version: 'dev', files: [] };
const CACHE = `bitnet2onnx-${MANIFEST.version}`;
const scope = new URL(self.registration.scope);

self.addEventListener('install', (event) => {
  event.waitUntil(
    // No skipWaiting(): a new version takes over only when no tab runs the old one, which may still
    // lazily load its own (differently hashed) worker and WASM files from the old cache.
    caches.open(CACHE).then((cache) => cache.addAll(MANIFEST.files.map((f) => new URL(f, scope).href))),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys.filter((k) => k.startsWith('bitnet2onnx-') && k !== CACHE).map((k) => caches.delete(k)),
        ),
      )
      // The very first install controls the page that installed it, so it works offline at once.
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname))
    return;
  event.respondWith(respond(request, url));
});

async function respond(request, url) {
  const cache = await caches.open(CACHE);
  // Any page of the app is the single page: index.html.
  const key = request.mode === 'navigate' ? new URL('index.html', scope).href : url.href;
  const hit = await cache.match(key, { ignoreSearch: true });
  if (hit) return hit;
  return fetch(request);
}
