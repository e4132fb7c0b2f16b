/**
 * Run by no-codegen.test.ts in a Node started with --disallow-code-generation-from-strings: writes the
 * sample model inline and with external data, validates both and decodes the .onnx, then prints one
 * JSON line with what happened. Any `Function(...)` or `eval` on that path throws an EvalError here.
 */
import { planLayout } from '../../src/core/onnx/layout.ts';
import { decodePlain, ModelProto, type OnnxModel } from '../../src/core/onnx/schema.ts';
import { validateModel } from '../../src/core/onnx/validate.ts';
import { writeModel } from '../../src/core/onnx/writer.ts';
import { buildSampleModel } from './sample-model.ts';
import { MemoryTarget } from './targets.ts';

function codeGenerationBlocked(): boolean {
  try {
    new Function('return 1')();
    return false;
  } catch (e) {
    return e instanceof EvalError;
  }
}

async function writeAndValidate(external: 'never' | 'always') {
  const sample = buildSampleModel();
  const layout = planLayout(sample.graph.weights, { modelFile: 'model.onnx', external });
  const target = new MemoryTarget();
  const { files } = await writeModel({
    graph: sample.graph,
    layout,
    target,
    fill: sample.fill,
    producerName: 'no-codegen',
    producerVersion: '0',
    metadata: { k: 'v' },
  });
  const validation = await validateModel((name) => target.open(name), 'model.onnx');
  const model = decodePlain<OnnxModel>(ModelProto, target.files.get('model.onnx')!);
  return {
    files: files.map((f) => f.name),
    ok: validation.ok,
    problems: validation.problems,
    nodes: model.graph?.node?.length ?? 0,
    producer: model.producer_name,
  };
}

const result = {
  codeGenerationBlocked: codeGenerationBlocked(),
  inline: await writeAndValidate('never'),
  external: await writeAndValidate('always'),
};
console.log(JSON.stringify(result));
