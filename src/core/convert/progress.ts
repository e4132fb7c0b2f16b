/** Progress events, one typed union on `status`, shared by the CLI and the worker. */
export type ProgressEvent =
  | { status: 'log'; level: 'info' | 'verbose' | 'warn'; message: string }
  | { status: 'plan'; tensors: number; bytesTotal: number; files: string[] }
  | {
      status: 'tensor';
      name: string;
      index: number;
      count: number;
      /** Bytes of output written so far for the whole model. */
      bytesDone: number;
      bytesTotal: number;
      /** Bytes of this tensor written so far / in all. */
      tensorDone: number;
      tensorTotal: number;
    }
  | { status: 'written'; files: { name: string; bytes: number }[]; seconds: number }
  /** `file`: the model the check ran on, when the output holds several (a model folder). */
  | { status: 'check'; name: string; ok: boolean; message: string; file?: string };

export type ProgressListener = (event: ProgressEvent) => void;
