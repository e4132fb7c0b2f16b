import { PROJECTIONS, type ProjectionName } from '../bitnet/dims.ts';
import type { WeightRole } from '../bitnet/decoder-graph.ts';
import type { ModelPlan, ProjectionSource } from '../bitnet/model-plan.ts';
import { WeightFiller, type Emit } from '../convert/weight-fill.ts';
import type { Kernels } from '../kernels/kernels.ts';
import type { TensorInfo } from '../safetensors/checkpoint.ts';
import type { ReferenceLayer, ReferenceProjection, ReferenceWeights } from './reference-input.ts';

/**
 * Loads the whole model as float32/int8 arrays for the reference forward pass. Only for models that fit
 * in memory comfortably (tests, the sample, probes). It reuses the converter's readers, so the reference
 * sees what the converter read, while its arithmetic stays independent of the graph.
 */
export async function loadReferenceWeights(plan: ModelPlan, kernels: Kernels): Promise<ReferenceWeights> {
  const roles = new Map<string, WeightRole>();
  const filler = new WeightFiller(roles, kernels);
  const read = (key: string, role: WeightRole, count: number) => {
    roles.set(key, role);
    return collect(count, (emit) =>
      filler.fill({ name: key, type: 'float32', dims: [count], byteLength: count * 4 }, emit),
    );
  };
  const readFloat = (t: TensorInfo) =>
    read(
      t.name,
      { kind: 'float', tensor: t },
      t.shape.reduce((a, b) => a * b, 1),
    );
  const readProjection = async (p: ProjectionSource): Promise<ReferenceProjection> => {
    const ternary = await filler.ternaryI8(p);
    const [scale] = await read(`${p.weight.name}#scale`, { kind: 'scales', group: [p] }, 1);
    return { ternary, scale, rule: plan.scaleRule };
  };
  const layers: ReferenceLayer[] = [];
  for (const l of plan.layers) {
    const proj = {} as Record<ProjectionName, ReferenceProjection>;
    for (const name of PROJECTIONS) proj[name] = await readProjection(l.proj[name]);
    layers.push({
      inputNorm: await readFloat(l.inputNorm),
      postAttnNorm: await readFloat(l.postAttnNorm),
      attnSubNorm: await readFloat(l.attnSubNorm),
      ffnSubNorm: await readFloat(l.ffnSubNorm),
      proj,
    });
  }
  return {
    embed: await readFloat(plan.embed),
    lmHead: plan.lmHead ? await readFloat(plan.lmHead) : undefined,
    finalNorm: await readFloat(plan.finalNorm),
    layers,
  };
}

async function collect(count: number, run: (emit: Emit) => Promise<void>): Promise<Float32Array> {
  const out = new Float32Array(count);
  const bytes = new Uint8Array(out.buffer);
  let at = 0;
  await run(async (chunk) => {
    if (at + chunk.byteLength > bytes.byteLength)
      throw new Error(`more than ${bytes.byteLength} bytes produced`);
    bytes.set(chunk, at);
    at += chunk.byteLength;
  });
  if (at !== bytes.byteLength) throw new Error(`expected ${bytes.byteLength} bytes, got ${at}`);
  return out;
}
