/**
 * What the generation worker does, as a plain class (comlink exposes it): open a converted model in
 * onnxruntime-web on the chosen backend, turn prompts into ids with the folder's tokenizer, and run
 * the engine's decode loop, reporting each token as it comes.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import type { DecoderSession } from '../core/check/decoder-session.ts';
import { decodeRate, generate, type KvShape } from '../core/generate/decode-loop.ts';
import {
  estimateMemory,
  modelFacts,
  type BackendLimits,
  type MemoryEstimate,
} from '../core/generate/memory-estimate.ts';
import { findGenerationFiles, generationSettings, parseTokenIds } from '../core/generate/model-files.ts';
import type { InputFiles } from '../core/io/bytes.ts';
import { scanModel } from '../core/onnx/proto-walker.ts';
import { browserInputFiles } from '../platform/browser/input-files.ts';
import { openWasmSession, wasmThreads, type ModelBytes } from '../runtime/ort-web.ts';
import type {
  Backend,
  GenerationOutcome,
  GenerationRequest,
  GenerationUpdate,
  GeneratorApi,
  GeneratorModel,
  InputFile,
  LoadOptions,
  LoadOutcome,
  Problem,
} from './generate-api.ts';

interface Loaded {
  session: DecoderSession;
  kv: KvShape;
  tokenizer?: Tokenizer;
  info: GeneratorModel;
}

export class GeneratorService implements GeneratorApi {
  private loaded?: Loaded;
  private running?: AbortController;

  async load(
    files: InputFile[],
    backend: Backend,
    model?: string,
    options: LoadOptions = {},
  ): Promise<LoadOutcome> {
    if (this.running) return { ok: false, problem: busy() };
    await this.unload();
    const started = performance.now();
    try {
      const input = browserInputFiles(files);
      const found = findGenerationFiles(input.list());
      if (found.models.length === 0) {
        throw new GenerateProblem(
          `no .onnx model among ${input.list().join(', ') || 'the files given'}`,
          'Open the folder the converter wrote (with its .onnx file, config.json and tokenizer), or convert a model above.',
        );
      }
      const chosen = found.models.find((m) => m.model === model) ?? found.models[0];
      if (!found.config) {
        throw new GenerateProblem(
          `no config.json beside ${chosen.model}`,
          'Include the config.json the converter copied next to the model: it gives the KV cache shape.',
        );
      }
      const config = await readJson(input, found.config);
      const generationConfig = found.generationConfig
        ? await readJson(input, found.generationConfig)
        : undefined;
      const settings = generationSettings(config, generationConfig);
      // Before reading gigabytes: will it fit the backend at all? (The graph's headers only.)
      const memory = await estimateFor(input, chosen.model, backend, options);
      if (!memory.fits) {
        return {
          ok: false,
          memory,
          models: found.models.map((m) => m.model),
          model: chosen.model,
          problem: {
            kind: 'environment',
            message: `${chosen.model} cannot run on ${backend === 'wasm' ? 'WASM' : 'WebGPU'} in this browser: ${memory.why}`,
            hint: memory.instead ?? 'Try the other backend.',
          },
        };
      }
      const tokenizer = found.tokenizer
        ? new Tokenizer(
            await readJson(input, found.tokenizer),
            found.tokenizerConfig ? await readJson(input, found.tokenizerConfig) : {},
          )
        : undefined;
      const bytes = await readModel(input, chosen.model, chosen.data);
      let session: DecoderSession;
      let cpuNodes: Record<string, number> | undefined;
      if (backend === 'webgpu') {
        const { openWebGpuSession } = await import('../runtime/ort-webgpu.ts');
        ({ session, cpuNodes } = await openWebGpuSession(bytes));
      } else {
        session = await openWasmSession(bytes);
      }
      const info: GeneratorModel = {
        models: found.models.map((m) => m.model),
        model: chosen.model,
        dataFiles: chosen.data,
        bytes: bytes.model.byteLength + bytes.externalData.reduce((n, d) => n + d.data.byteLength, 0),
        backend,
        threads: backend === 'wasm' ? wasmThreads() : undefined,
        memory,
        tokenizer: tokenizer !== undefined,
        vocabSize: settings.vocabSize,
        maxPositions: settings.maxPositions,
        stopIds: settings.stopIds,
        loadSeconds: (performance.now() - started) / 1000,
        cpuNodes,
      };
      this.loaded = { session, kv: settings.kv, tokenizer, info };
      return { ok: true, model: info };
    } catch (e) {
      return { ok: false, problem: describe(e, 'load') };
    }
  }

  async generate(
    request: GenerationRequest,
    onUpdate: (update: GenerationUpdate) => void,
  ): Promise<GenerationOutcome> {
    const loaded = this.loaded;
    if (!loaded) {
      return {
        ok: false,
        problem: {
          kind: 'input',
          message: 'no model is loaded',
          hint: 'Convert a model, or open a converted one.',
        },
      };
    }
    if (this.running) return { ok: false, problem: busy() };
    const abort = new AbortController();
    this.running = abort;
    try {
      const { tokenizer, info } = loaded;
      const promptIds = tokenizer
        ? tokenizer.encode(request.prompt, { add_special_tokens: true }).ids
        : parseTokenIds(request.prompt, info.vocabSize);
      if (promptIds.length === 0) throw new RangeError('the prompt is empty: type something to continue');
      const ids: number[] = [];
      let firstMs = 0;
      const decodeText = (tokens: number[]) => tokenizer?.decode(tokens, { skip_special_tokens: false });
      const result = await generate(loaded.session, loaded.kv, {
        prompt: promptIds,
        maxNewTokens: request.maxNewTokens,
        sampling: request.sampling,
        stopIds: info.stopIds,
        maxPositions: info.maxPositions,
        signal: abort.signal,
        pause: nextTask,
        onToken: (t) => {
          ids.push(t.id);
          if (t.index === 0) firstMs = t.elapsedMs;
          onUpdate({
            ids: [...ids],
            text: decodeText(ids),
            elapsedMs: t.elapsedMs,
            tokensPerSecond: decodeRate(ids.length, t.elapsedMs - firstMs),
          });
        },
      });
      return {
        ok: true,
        promptIds,
        ids: result.tokens,
        text: decodeText(result.tokens),
        reason: result.reason,
        prefillMs: result.prefillMs,
        decodeMs: result.decodeMs,
        tokensPerSecond: decodeRate(result.tokens.length, result.decodeMs),
      };
    } catch (e) {
      return { ok: false, problem: describe(e, 'generate') };
    } finally {
      this.running = undefined;
    }
  }

  stop(): void {
    this.running?.abort();
  }

  async unload(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    await loaded?.session.release();
  }
}

class GenerateProblem extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

async function readJson(input: InputFiles, name: string): Promise<Record<string, unknown>> {
  const source = await input.open(name);
  const text = new TextDecoder().decode(await source!.read(0, source!.size));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new GenerateProblem(
      `${name}: invalid JSON (${(e as Error).message})`,
      'The file is damaged: take it again from the converted folder.',
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GenerateProblem(
      `${name}: not a JSON object`,
      'The file is damaged: take it again from the converted folder.',
    );
  }
  return value as Record<string, unknown>;
}

/** The memory estimate for the chosen model on a backend, from its graph's headers (no weights read). */
async function estimateFor(
  input: InputFiles,
  model: string,
  backend: Backend,
  options: LoadOptions,
): Promise<MemoryEstimate> {
  const source = (await input.open(model))!;
  const facts = modelFacts(await scanModel(source), source.size);
  const limits: BackendLimits = { wasmHeapBytes: options.wasmHeapBytes };
  if (backend === 'webgpu') limits.gpuMaxBufferBytes = await gpuMaxBuffer();
  return estimateMemory(facts, backend, limits);
}

/** The largest buffer the WebGPU adapter allows (onnxruntime asks its device for the adapter's limits). */
async function gpuMaxBuffer(): Promise<number | undefined> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) return undefined;
  return Math.min(adapter.limits.maxBufferSize, adapter.limits.maxStorageBufferBindingSize);
}

interface GpuAdapterLike {
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

/** The model and its external data, whole: onnxruntime-web copies them into its heap regardless. */
async function readModel(input: InputFiles, model: string, data: string[]): Promise<ModelBytes> {
  const whole = async (name: string) => {
    const source = await input.open(name);
    return source!.read(0, source!.size);
  };
  const folder = model.slice(0, model.lastIndexOf('/') + 1);
  return {
    model: await whole(model),
    externalData: await Promise.all(
      data.map(async (name) => ({ path: name.slice(folder.length), data: await whole(name) })),
    ),
  };
}

/** Resolves in a new task (no timer clamping), after any message that arrived meanwhile. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}

const busy = (): Problem => ({
  kind: 'input',
  message: 'a generation is running',
  hint: 'Stop it first, or wait until it ends.',
});

function describe(e: unknown, stage: 'load' | 'generate'): Problem {
  if (e instanceof GenerateProblem) return { kind: 'input', message: e.message, hint: e.hint };
  const message = (e as Error)?.message ?? String(e);
  if (e instanceof RangeError)
    return { kind: 'input', message, hint: 'Change the prompt or the settings and try again.' };
  if (stage === 'load') {
    return {
      kind: 'environment',
      message: `onnxruntime-web could not open the model: ${message}`,
      hint: 'Try the other backend; a model larger than the browser’s memory for WebAssembly (4 GiB) cannot run here.',
    };
  }
  return {
    kind: 'environment',
    message: `the model failed while generating: ${message}`,
    hint: /requires f16/.test(message)
      ? 'This GPU has no 16-bit float support (WebGPU shader-f16), which the model’s float16 tensors need: use WASM, or convert with float32 embeddings.'
      : 'Try the other backend, or fewer tokens.',
  };
}
