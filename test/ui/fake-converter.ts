/** A scripted ConverterClient: each call waits until the test settles it, so every state can be seen. */
import type { ConverterClient } from '../../src/ui/worker-bridge.ts';
import type {
  ConvertOptions,
  ConvertOutcome,
  InputFile,
  InspectOutcome,
  ModelSummary,
  OutputChoice,
  PlanOutcome,
  ProgressEvent,
  ZipDestination,
  ZipOutcome,
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
  plans: OutputChoice[] = [];
  zips: { to: ZipDestination; reply: Deferred<ZipOutcome> }[] = [];

  /** Plans answer at once: the files a single model or a folder of the chosen formats would hold. */
  async plan(_files: InputFile[], choice: OutputChoice): Promise<PlanOutcome> {
    this.plans.push(choice);
    const names = { fp32: 'model.onnx', int8: 'model_int8.onnx', int2: 'model_q2.onnx' } as const;
    const prefix = choice.layout === 'folder' ? 'onnx/' : '';
    const files = choice.formats.map((f) => ({
      name: prefix + names[f.weights],
      bytes: 1_000_000,
      role: 'model' as const,
    }));
    return {
      ok: true,
      plan: {
        layout: choice.layout,
        formats: choice.formats.map((f) => ({ embed: 'fp32', blockSize: 128, head: 'exact', ...f })),
        files,
        totalBytes: files.length * 1_000_000,
        check: { mode: 'full' },
      },
    };
  }

  saveZip(to: ZipDestination): Promise<ZipOutcome> {
    const reply = deferred<ZipOutcome>();
    this.zips.push({ to, reply });
    return reply.promise;
  }

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
  outputsWithHead: {
    q8: {
      int8: [{ name: 'model_int8.onnx', bytes: 3_100_000 }],
      int2: [{ name: 'model_q2.onnx', bytes: 1_200_000 }],
    },
    q4: {
      int8: [{ name: 'model_int8.onnx', bytes: 2_900_000 }],
      int2: [{ name: 'model_q2.onnx', bytes: 1_000_000 }],
    },
  },
  notes: [],
  runtimeCheck: { mode: 'full' },
};

/** Lets pending promise callbacks (the state's awaits) run. */
export const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
