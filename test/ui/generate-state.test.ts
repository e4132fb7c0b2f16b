/** The generation panel's state against a fake generator: backend choice, loading, runs, stop. */
import { describe, expect, it } from 'vitest';
import { GenerateState } from '../../src/ui/generate-state.svelte.ts';
import type { GeneratorClient } from '../../src/ui/generate-bridge.ts';
import type {
  Backend,
  GenerationOutcome,
  GenerationRequest,
  GenerationUpdate,
  GeneratorModel,
  LoadOutcome,
  WebGpuSupport,
} from '../../src/worker/api.ts';

const FILES = [{ path: 'm/model.onnx', blob: new Blob(['x']) }];

function model(backend: Backend, tokenizer = true): GeneratorModel {
  return {
    models: ['model.onnx'],
    model: 'model.onnx',
    dataFiles: [],
    bytes: 1,
    backend,
    tokenizer,
    stopIds: [],
    loadSeconds: 0.1,
    memory: { backend, needBytes: 1, limitBytes: 2, fits: true, parts: [], note: 'needs about 1 B' },
  };
}

class FakeGenerator implements GeneratorClient {
  loads: Backend[] = [];
  requests: GenerationRequest[] = [];
  private finish?: (o: GenerationOutcome) => void;
  onUpdate?: (u: GenerationUpdate) => void;
  constructor(private readonly gpu: WebGpuSupport) {}
  async webGpu() {
    return this.gpu;
  }
  async load(_files: unknown, backend: Backend, _model?: string, _options?: unknown): Promise<LoadOutcome> {
    this.loads.push(backend);
    return { ok: true as const, model: model(backend) };
  }
  generate(request: GenerationRequest, onUpdate: (u: GenerationUpdate) => void) {
    this.requests.push(request);
    this.onUpdate = onUpdate;
    return new Promise<GenerationOutcome>((resolve) => (this.finish = resolve));
  }
  end(o: GenerationOutcome) {
    this.finish?.(o);
  }
  async stop() {
    this.end({ ok: true, promptIds: [1], ids: [7, 8], reason: 'stopped', prefillMs: 5, decodeMs: 10 });
    return { terminated: false };
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('GenerateState', () => {
  it('takes WebGPU when there is an adapter, WASM otherwise, and reloads on a switch', async () => {
    const gpu = new FakeGenerator({ available: true, name: 'test gpu' });
    const withGpu = new GenerateState(gpu);
    await withGpu.use({ label: 'x', files: FILES });
    expect(withGpu.backend).toBe('webgpu');
    expect(withGpu.loadPhase).toBe('ready');
    await withGpu.setBackend('wasm');
    expect(gpu.loads).toEqual(['webgpu', 'wasm']);
    expect(withGpu.model?.backend).toBe('wasm');

    const none = new FakeGenerator({ available: false, reason: 'no adapter' });
    const withoutGpu = new GenerateState(none);
    await withoutGpu.use({ label: 'x', files: FILES, suggestedPrompt: 'Hello' });
    expect(withoutGpu.backend).toBe('wasm');
    expect(withoutGpu.prompt).toBe('Hello');
  });

  it('shows tokens as they come, then the outcome; stop ends in the stopped state', async () => {
    const fake = new FakeGenerator({ available: false, reason: '-' });
    const gen = new GenerateState(fake);
    await gen.use({ label: 'x', files: FILES });
    gen.prompt = 'Hi';
    gen.mode = 'sample';
    const run = gen.generate();
    await tick();
    expect(gen.runState).toBe('running');
    expect(fake.requests[0]).toEqual({
      prompt: 'Hi',
      maxNewTokens: gen.maxNewTokens,
      sampling: { kind: 'sample', temperature: 0.8, topK: 40, seed: 1 },
    });
    fake.onUpdate!({ ids: [7], text: 'a', elapsedMs: 5 });
    expect(gen.ids).toEqual([7]);
    expect(gen.text).toBe('a');
    await gen.stop();
    await run;
    expect(gen.runState).toBe('stopped');
    expect(gen.ids).toEqual([7, 8]);

    const again = gen.generate();
    await tick();
    fake.end({ ok: false, problem: { kind: 'input', message: 'bad', hint: 'fix' } });
    await again;
    expect(gen.runState).toBe('failed');
    expect(gen.runProblem?.message).toBe('bad');
  });

  it('a model refused by its memory estimate cannot be generated from; the other backend is tried afresh', async () => {
    const refusal = {
      backend: 'wasm' as const,
      needBytes: 5 * 2 ** 30,
      limitBytes: 3.75 * 2 ** 30,
      fits: false,
      parts: [],
      note: '',
      why: 'it needs about 5.00 GiB',
      instead: 'Use int2',
    };
    class Refusing extends FakeGenerator {
      opts: unknown[] = [];
      override async load(
        _files: unknown,
        backend: Backend,
        _model?: string,
        options?: unknown,
      ): Promise<LoadOutcome> {
        this.loads.push(backend);
        this.opts.push(options);
        if (backend === 'webgpu') return { ok: true as const, model: model(backend) };
        return {
          ok: false as const,
          problem: { kind: 'environment' as const, message: 'm.onnx cannot run on WASM', hint: 'Use int2' },
          memory: refusal,
          models: ['a.onnx', 'b.onnx'],
          model: 'b.onnx',
        };
      }
    }
    const fake = new Refusing({ available: true, name: 'gpu' });
    const gen = new GenerateState(fake, { wasmHeapBytes: 1000 });
    gen.prompt = '1,2';
    await gen.detectBackends();
    expect(gen.backend).toBe('webgpu');
    await gen.setBackend('wasm');
    await gen.use({ label: 'x', files: FILES });
    expect(gen.loadPhase).toBe('failed');
    expect(gen.refusal).toEqual(refusal);
    expect(gen.modelFiles).toEqual(['a.onnx', 'b.onnx']);
    expect(gen.modelFile).toBe('b.onnx');
    expect(gen.canGenerate).toBe(false);
    await gen.generate();
    expect(gen.runState).toBe('idle');
    expect(fake.requests).toEqual([]);
    expect(fake.opts.every((o) => (o as { wasmHeapBytes: number }).wasmHeapBytes === 1000)).toBe(true);
    await gen.setBackend('webgpu');
    expect(gen.refusal).toBeUndefined();
    expect(gen.canGenerate).toBe(true);
  });
});
