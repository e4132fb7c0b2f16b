/** Generation worker entry: the generator service, exposed over comlink. Nothing else runs here. */
import { expose, releaseProxy, type Remote } from 'comlink';
import type { GenerationOutcome, GenerationRequest, GenerationUpdate } from './generate-api.ts';
import { GeneratorService } from './generator-service.ts';

class ExposedGeneratorService extends GeneratorService {
  /** The update callback is a comlink proxy holding a MessagePort; free it when the run ends. */
  override async generate(
    request: GenerationRequest,
    onUpdate: (update: GenerationUpdate) => void,
  ): Promise<GenerationOutcome> {
    try {
      return await super.generate(request, onUpdate);
    } finally {
      (onUpdate as unknown as Partial<Remote<unknown>>)[releaseProxy]?.();
    }
  }
}

expose(new ExposedGeneratorService());
