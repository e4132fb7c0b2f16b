import { describe, expect, it } from 'vitest';
import { safetensorsBytes, TINY_DIMS } from '../../scripts/make-fixtures.ts';
import { defaultFormat, type WeightFormat } from '../../src/core/formats/registry.ts';
import { syntheticCheckpoint } from '../../src/core/bitnet/synthetic.ts';
import { inspectModel } from '../../src/core/convert/convert.ts';
import { planDecoderFiles, writeDecoder } from '../../src/core/convert/write-decoder.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { MemoryTarget } from '../onnx/targets.ts';
import { memoryFiles } from '../safetensors/memory-files.ts';

describe('planDecoderFiles', () => {
  it('gives the exact files and sizes writeDecoder writes, for every format, inline and external', async () => {
    const { config, tensors } = syntheticCheckpoint({
      dims: TINY_DIMS,
      variant: 'packed-autobitlinear',
      seed: 3,
    });
    const input = memoryFiles({
      'config.json': JSON.stringify(config),
      'model.safetensors': await safetensorsBytes(tensors),
    });
    const { plan } = await inspectModel(input);
    const kernels = await loadNodeKernels();
    for (const weights of ['fp32', 'int8', 'int2'] as WeightFormat[]) {
      for (const external of ['never', 'always'] as const) {
        const options = { plan, format: defaultFormat(weights), modelFile: 'onnx/model.onnx', external };
        const planned = planDecoderFiles(options);
        const target = new MemoryTarget();
        const { files } = await writeDecoder({ ...options, target, kernels });
        expect(planned, `${weights}, external ${external}`).toEqual(files);
        expect(planned.at(-1)!.name).toBe('onnx/model.onnx');
        if (external === 'always') expect(planned.length).toBeGreaterThan(1);
      }
    }
  });
});
