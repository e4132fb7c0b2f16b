/**
 * Structural validation of a written model, read back from storage the way a consumer would see it.
 * It checks what our writer promises and what onnxruntime / the official checker would trip over,
 * without loading weights: see proto-walker.ts.
 */
import type { ByteSource } from '../io/bytes.ts';
import { dataTypeBytes } from './dtypes.ts';
import { KNOWN_ONNX_OPS_17 } from './known-ops.ts';
import { MalformedProtobuf, scanModel, type ScannedTensor } from './proto-walker.ts';
import { DataLocation, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from './schema.ts';

export const EXPECTED_IR_VERSION = 8;
export const EXPECTED_OPSET = 17;
/** Non-default domains whose operators the validator accepts when the model imports them. */
export const ALLOWED_CUSTOM_DOMAINS: ReadonlySet<string> = new Set(['com.microsoft']);
const MAX_PROBLEMS = 200;

export interface ValidationStats {
  fileBytes: number;
  irVersion?: number;
  opsets: Record<string, number>;
  nodes: number;
  opTypes: Record<string, number>;
  inputs: number;
  outputs: number;
  initializers: number;
  /** raw_data bytes inside the .onnx. */
  inlineDataBytes: number;
  /** Bytes referenced in external data files. */
  externalDataBytes: number;
  externalFiles: { name: string; bytes: number }[];
}

export interface ValidationResult {
  ok: boolean;
  problems: string[];
  stats: ValidationStats;
}

export type OpenFile = (name: string) => Promise<ByteSource | undefined>;

export async function validateModel(open: OpenFile, modelFile: string): Promise<ValidationResult> {
  const stats = emptyStats();
  const problems = new Problems();
  const source = await open(modelFile);
  if (!source) return result(problems.add(`${modelFile}: file not found`), stats);
  stats.fileBytes = source.size;
  let scanned;
  try {
    scanned = await scanModel(source);
  } catch (e) {
    if (!(e instanceof MalformedProtobuf)) throw e;
    return result(problems.add(`${modelFile}: ${e.message}`), stats);
  }
  checkModelHeader(scanned.model, problems, stats);
  if (scanned.graphs.length !== 1) {
    problems.add(`model has ${scanned.graphs.length} graph fields, expected 1`);
    if (scanned.graphs.length === 0) return result(problems, stats);
  }
  const { graph, initializers } = scanned.graphs[0];
  checkGraph(graph, initializers, stats, problems);
  const externals = checkInitializers(initializers, stats, problems);
  await checkExternalData(open, modelFile, externals, stats, problems);
  return result(problems, stats);
}

class Problems {
  readonly list: string[] = [];
  private dropped = 0;

  add(problem: string): this {
    if (this.list.length < MAX_PROBLEMS) this.list.push(problem);
    else this.dropped += 1;
    return this;
  }

  all(): string[] {
    return this.dropped ? [...this.list, `… and ${this.dropped} more problems`] : this.list;
  }
}

function result(problems: Problems, stats: ValidationStats): ValidationResult {
  const all = problems.all();
  return { ok: all.length === 0, problems: all, stats };
}

function emptyStats(): ValidationStats {
  return {
    fileBytes: 0,
    opsets: {},
    nodes: 0,
    opTypes: {},
    inputs: 0,
    outputs: 0,
    initializers: 0,
    inlineDataBytes: 0,
    externalDataBytes: 0,
    externalFiles: [],
  };
}

function checkModelHeader(model: OnnxModel, problems: Problems, stats: ValidationStats): void {
  stats.irVersion = model.ir_version;
  if (model.ir_version !== EXPECTED_IR_VERSION) {
    problems.add(`ir_version is ${model.ir_version ?? 'missing'}, expected ${EXPECTED_IR_VERSION}`);
  }
  for (const { domain = '', version } of model.opset_import ?? []) {
    const d = domain === 'ai.onnx' ? '' : domain;
    if (Object.hasOwn(stats.opsets, d)) problems.add(`opset_import lists domain "${domain}" twice`);
    stats.opsets[d] = version ?? 0;
  }
  if (!Object.hasOwn(stats.opsets, '') || stats.opsets[''] !== EXPECTED_OPSET) {
    problems.add(`default-domain opset is ${stats.opsets[''] ?? 'not imported'}, expected ${EXPECTED_OPSET}`);
  }
  const keys = new Set<string>();
  for (const { key = '' } of model.metadata_props ?? []) {
    if (keys.has(key)) problems.add(`metadata_props key "${key}" appears twice`);
    keys.add(key);
  }
}

function checkGraph(
  graph: OnnxGraph,
  inits: ScannedTensor[],
  stats: ValidationStats,
  problems: Problems,
): void {
  const inputs = graph.input ?? [];
  const outputs = graph.output ?? [];
  const nodes = graph.node ?? [];
  stats.inputs = inputs.length;
  stats.outputs = outputs.length;
  stats.nodes = nodes.length;
  stats.initializers = inits.length;
  inputs.forEach((v) => checkValueInfo(v, 'graph input', problems));
  outputs.forEach((v) => checkValueInfo(v, 'graph output', problems));
  if (outputs.length === 0) problems.add('graph has no outputs');

  const defined = new Set<string>();
  const define = (name: string | undefined, what: string) => {
    if (!name) return problems.add(`${what} has an empty name`);
    if (defined.has(name)) problems.add(`value "${name}" is defined more than once (again as ${what})`);
    defined.add(name);
  };
  inputs.forEach((v) => define(v.name, 'graph input'));
  inits.forEach((t) => define(t.tensor.name, 'initializer'));
  const nodeNames = new Set<string>();
  nodes.forEach((node, index) => {
    const label = `node ${node.name || `#${index}`} (${node.op_type || '?'})`;
    for (const input of node.input ?? []) {
      if (input !== '' && !defined.has(input)) {
        problems.add(`${label}: input "${input}" is not defined before use`);
      }
    }
    for (const output of node.output ?? []) if (output !== '') define(output, label);
    if (node.name && nodeNames.has(node.name)) problems.add(`${label}: node name used twice`);
    if (node.name) nodeNames.add(node.name);
    checkNode(node, label, stats, problems);
  });
  for (const out of outputs) {
    if (out.name && !defined.has(out.name)) problems.add(`graph output "${out.name}" is never produced`);
  }
}

function checkValueInfo(v: OnnxValueInfo, what: string, problems: Problems): void {
  const label = `${what} "${v.name ?? ''}"`;
  const tensor = v.type?.tensor_type;
  if (!tensor) return void problems.add(`${label} has no tensor type`);
  if (!tensor.elem_type || dataTypeBytes(tensor.elem_type) === undefined) {
    problems.add(`${label} has element type ${tensor.elem_type ?? 'missing'}`);
  }
  if (!tensor.shape) return void problems.add(`${label} has no shape`);
  (tensor.shape.dim ?? []).forEach((d, i) => {
    const ok = ('dim_value' in d && d.dim_value! >= 0) || ('dim_param' in d && d.dim_param !== '');
    if (!ok) problems.add(`${label}: dimension ${i} has neither a size nor a name`);
  });
}

function checkNode(node: OnnxNode, label: string, stats: ValidationStats, problems: Problems): void {
  const op = node.op_type ?? '';
  const domain = node.domain === 'ai.onnx' ? '' : (node.domain ?? '');
  const key = domain ? `${domain}.${op}` : op;
  stats.opTypes[key] = (Object.hasOwn(stats.opTypes, key) ? stats.opTypes[key] : 0) + 1;
  if (!op) problems.add(`${label}: empty op_type`);
  if (!Object.hasOwn(stats.opsets, domain)) {
    problems.add(`${label}: domain "${domain}" is not imported`);
  } else if (domain === '' && !KNOWN_ONNX_OPS_17.has(op)) {
    problems.add(`${label}: "${op}" is not an ONNX operator at opset ≤ ${EXPECTED_OPSET}`);
  } else if (domain !== '' && !ALLOWED_CUSTOM_DOMAINS.has(domain)) {
    problems.add(`${label}: operators of domain "${domain}" are not supported`);
  }
  const names = new Set<string>();
  for (const attr of node.attribute ?? []) {
    if (!attr.name) problems.add(`${label}: attribute without a name`);
    else if (names.has(attr.name)) problems.add(`${label}: attribute ${attr.name} given twice`);
    else names.add(attr.name);
    if (!attr.type) problems.add(`${label}: attribute ${attr.name ?? ''} has no type`);
  }
}

interface ExternalRef {
  tensor: string;
  location: string;
  offset: number;
  length: number;
}

/** Checks data sizes of every initializer; returns the external references for the file checks. */
function checkInitializers(
  inits: ScannedTensor[],
  stats: ValidationStats,
  problems: Problems,
): ExternalRef[] {
  const refs: ExternalRef[] = [];
  for (const { tensor, rawData } of inits) {
    const label = `initializer "${tensor.name ?? ''}"`;
    const expected = expectedBytes(tensor.dims ?? [], tensor.data_type ?? 0, label, problems);
    if (rawData.length > 1) problems.add(`${label}: raw_data appears ${rawData.length} times`);
    const typed = typedValueCount(tensor);
    const external = tensor.data_location === DataLocation.EXTERNAL;
    if (external) {
      if (rawData.length > 0 || typed !== undefined) problems.add(`${label}: external but also holds data`);
      const ref = externalRef(tensor.name ?? '', tensor.external_data ?? [], label, problems);
      if (ref && expected !== undefined && ref.length !== expected) {
        problems.add(`${label}: external length ${ref.length}, expected ${expected}`);
      }
      if (ref) refs.push(ref);
      continue;
    }
    if ((tensor.external_data ?? []).length > 0) {
      problems.add(`${label}: external_data without data_location`);
    }
    if (rawData.length > 0) {
      const length = rawData[rawData.length - 1].length;
      stats.inlineDataBytes += length;
      if (typed !== undefined) problems.add(`${label}: both raw_data and typed data`);
      if (expected === 0) problems.add(`${label}: 0-element tensor with raw_data`);
      else if (expected !== undefined && length !== expected) {
        problems.add(`${label}: raw_data has ${length} bytes, expected ${expected}`);
      }
    } else if (typed === undefined) {
      if (expected !== 0) problems.add(`${label}: no data`);
    }
  }
  return refs;
}

function expectedBytes(
  dims: number[],
  dataType: number,
  label: string,
  problems: Problems,
): number | undefined {
  const size = dataTypeBytes(dataType);
  if (size === undefined) return void problems.add(`${label}: unsupported data_type ${dataType}`);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    return void problems.add(`${label}: bad dims [${dims.join(', ')}]`);
  }
  return dims.reduce((n, d) => n * d, size);
}

/** Number of values in the typed (non-raw) data fields, or undefined when none is present. */
function typedValueCount(t: ScannedTensor['tensor']): number | undefined {
  const fields = [t.float_data, t.int32_data, t.string_data, t.int64_data, t.double_data, t.uint64_data];
  const present = fields.filter((f) => f !== undefined && f.length > 0);
  return present.length === 0 ? undefined : present.reduce((n, f) => n + f!.length, 0);
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const KNOWN_EXTERNAL_KEYS = new Set(['location', 'offset', 'length', 'checksum']);

function externalRef(
  tensor: string,
  entries: { key?: string; value?: string }[],
  label: string,
  problems: Problems,
): ExternalRef | undefined {
  const map = new Map<string, string>();
  for (const { key = '', value = '' } of entries) {
    if (!KNOWN_EXTERNAL_KEYS.has(key)) problems.add(`${label}: unknown external_data key "${key}"`);
    if (map.has(key)) problems.add(`${label}: external_data key "${key}" given twice`);
    map.set(key, value);
  }
  const location = map.get('location');
  const locationProblem = unsafeLocation(location);
  if (locationProblem) return void problems.add(`${label}: external location ${locationProblem}`);
  const offset = map.get('offset') ?? '0';
  const length = map.get('length');
  if (!DECIMAL.test(offset)) return void problems.add(`${label}: external offset "${offset}" is not decimal`);
  if (length === undefined || !DECIMAL.test(length)) {
    return void problems.add(`${label}: external length "${length ?? 'missing'}" is not decimal`);
  }
  return { tensor, location: location!, offset: Number(offset), length: Number(length) };
}

/** Why a location is unsafe or unusable, or undefined when it is a plain relative name. */
function unsafeLocation(location: string | undefined): string | undefined {
  if (!location) return 'is missing';
  if (/^[\\/]/.test(location) || /^[A-Za-z]:/.test(location)) return `"${location}" is absolute`;
  if (location.split(/[\\/]/).some((part) => part === '..')) return `"${location}" leaves the model folder`;
  if (location.includes('\0')) return `"${location}" contains a NUL`;
  return undefined;
}

async function checkExternalData(
  open: OpenFile,
  modelFile: string,
  refs: ExternalRef[],
  stats: ValidationStats,
  problems: Problems,
): Promise<void> {
  const dir = modelFile.includes('/') ? modelFile.slice(0, modelFile.lastIndexOf('/') + 1) : '';
  const byLocation = new Map<string, ExternalRef[]>();
  for (const ref of refs) byLocation.set(ref.location, [...(byLocation.get(ref.location) ?? []), ref]);
  for (const [location, list] of byLocation) {
    const name = dir + location.replace(/\\/g, '/');
    const file = await open(name);
    if (!file) {
      problems.add(`external data file ${name} (for ${list[0].tensor}) not found`);
      continue;
    }
    stats.externalFiles.push({ name, bytes: file.size });
    checkRanges(name, file.size, list, problems);
    stats.externalDataBytes += list.reduce((n, r) => n + r.length, 0);
  }
}

function checkRanges(file: string, size: number, refs: ExternalRef[], problems: Problems): void {
  const sorted = [...refs].sort((a, b) => a.offset - b.offset || a.length - b.length);
  sorted.forEach((r, i) => {
    if (r.offset + r.length > size) {
      problems.add(
        `initializer "${r.tensor}": bytes ${r.offset}..${r.offset + r.length} past the end of ${file} (${size})`,
      );
    }
    const prev = sorted[i - 1];
    if (prev && prev.offset + prev.length > r.offset) {
      problems.add(`initializer "${r.tensor}" overlaps "${prev.tensor}" in ${file}`);
    }
  });
}
