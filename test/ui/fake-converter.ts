/** A scripted ConverterClient: each call waits until the test settles it, so every state can be seen. */
import type { ConverterClient } from '../../src/ui/worker-bridge.ts';
import type {
  ConvertOptions,
  ConvertOutcome,
  InputFile,
  InspectOutcome,
  ModelSummary,
  ProgressEvent,
} from '../../src/worker/api.ts';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export class FakeConverter implements ConverterClient {
  inspections: { files: InputFile[]; reply: Deferred<InspectOutcome> }[] = [];
  conversions: {
    files: InputFile[];
    options: ConvertOptions;
    progress: (e: ProgressEvent) => void;
    reply: Deferred<ConvertOutcome>;
  }[] = [];
  cancels = 0;

  inspect(files: InputFile[]): Promise<InspectOutcome> {
    const reply = deferred<InspectOutcome>();
    this.inspections.push({ files, reply });
    return reply.promise;
  }

  convert(
    files: InputFile[],
    options: ConvertOptions,
    progress: (e: ProgressEvent) => void,
  ): Promise<ConvertOutcome> {
    const reply = deferred<ConvertOutcome>();
    this.conversions.push({ files, options, progress, reply });
    return reply.promise;
  }

  async cancel(): Promise<void> {
    this.cancels++;
    this.conversions.at(-1)?.reply.resolve({ ok: false, cancelled: true });
  }

  async outputFile(): Promise<File | undefined> {
    return undefined;
  }

  async clearOutputs(): Promise<void> {}
}

export const SUMMARY: ModelSummary = {
  inputFiles: ['config.json', 'model.safetensors'],
  checkpointFiles: ['model.safetensors'],
  variant: 'packed-autobitlinear',
  vocabSize: 1024,
  maxPositions: 512,
  hiddenSize: 256,
  numLayers: 4,
  intermediateSize: 640,
  numHeads: 8,
  numKvHeads: 2,
  headDim: 32,
  tiedEmbeddings: true,
  tensorCount: 74,
  usedTensorCount: 74,
  inputBytes: 1_199_000,
  outputs: {
    fp32: [{ name: 'model.onnx', bytes: 11_600_000 }],
    int8: [{ name: 'model_int8.onnx', bytes: 3_400_000 }],
    int2: [{ name: 'model_q2.onnx', bytes: 1_500_000 }],
  },
  outputsQ8Head: {
    int8: [{ name: 'model_int8.onnx', bytes: 3_100_000 }],
    int2: [{ name: 'model_q2.onnx', bytes: 1_200_000 }],
  },
  copied: ['config.json'],
  notes: [],
  runtimeCheck: { mode: 'full' },
};

/** Lets pending promise callbacks (the state's awaits) run. */
export const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
