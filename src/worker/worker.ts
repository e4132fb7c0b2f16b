/** Worker entry: the conversion service, exposed over comlink. Nothing else runs here. */
import { expose, releaseProxy, type Remote } from 'comlink';
import type { ConvertOptions, ConvertOutcome, InputFile, ProgressEvent } from './api.ts';
import { ConverterService } from './converter-service.ts';

class ExposedConverterService extends ConverterService {
  /** The progress callback is a comlink proxy holding a MessagePort; free it when the job ends. */
  override async convert(
    files: InputFile[],
    options: ConvertOptions,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<ConvertOutcome> {
    try {
      return await super.convert(files, options, onProgress);
    } finally {
      (onProgress as unknown as Partial<Remote<unknown>>)[releaseProxy]?.();
    }
  }
}

expose(new ExposedConverterService());
