/** Page entry: one app state, one worker bridge, the Svelte tree, and the offline service worker. */
import { mount } from 'svelte';
import App from './App.svelte';
import { AppState } from './app-state.svelte.ts';
import { GenerateBridge } from './generate-bridge.ts';
import { GenerateState } from './generate-state.svelte.ts';
import { registerServiceWorker } from './service-worker.ts';
import { WorkerBridge } from './worker-bridge.ts';
import './styles.css';

const bridge = new WorkerBridge();
const app = new AppState(bridge);
const gen = new GenerateState(new GenerateBridge(), {
  wasmHeapBytes: positiveNumber(new URLSearchParams(location.search).get('wasm-heap-limit')),
});
void gen.detectBackends();
mount(App, { target: document.getElementById('app')!, props: { app, gen } });

void registerServiceWorker().then((ready) => (app.offline = ready ? 'ready' : 'unavailable'));

function positiveNumber(text: string | null): number | undefined {
  const n = Number(text);
  return text !== null && Number.isFinite(n) && n > 0 ? n : undefined;
}

// Test and diagnostics hook: lets a test list OPFS through the worker without touching the UI.
(globalThis as unknown as { bitnet2onnx?: unknown }).bitnet2onnx = { app, bridge, gen };
