/**
 * Registers public/sw.js (built with the list of every file of the app) so the page reloads and
 * converts with the network off. Only in the built app: in development the files change constantly.
 */
export async function registerServiceWorker(): Promise<boolean> {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return false;
  try {
    const scope = new URL('./', document.baseURI);
    await navigator.serviceWorker.register(new URL('sw.js', scope), { scope: scope.pathname });
    // `ready` resolves once a worker is active, i.e. after everything was precached.
    await navigator.serviceWorker.ready;
    return true;
  } catch (e) {
    console.warn('bitnet2onnx: offline support unavailable:', e);
    return false;
  }
}
