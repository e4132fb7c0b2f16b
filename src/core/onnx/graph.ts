/**
 * An in-memory ONNX graph under construction. It holds everything except the large weights, whose
 * bytes are only described here (WeightSpec) and streamed by the writer later.
 *
 * The builder enforces the rules the validator checks on the written file, so mistakes surface as a
 * stack trace at the line that made them: every value defined once, nodes added in topological order
 * (inputs must exist when a node is added), outputs defined, deterministic names.
 */
import { elemBytes, elementCount, encodeValues, type ElemType } from './dtypes.ts';

export type { ElemType } from './dtypes.ts';

/** A dimension: a number, or a string for a symbolic `dim_param` such as 'batch_size'. */
export type Dim = number | string;

/** Small constant stored inline as raw_data. */
export interface SmallTensor {
  type: ElemType;
  dims: number[];
  values: number[] | bigint[];
}

export type Attr =
  | { i: number | bigint }
  | { f: number }
  | { ints: (number | bigint)[] }
  | { floats: number[] }
  | { s: string }
  | { t: SmallTensor };

/** A large initializer whose bytes are supplied at write time. */
export interface WeightSpec {
  name: string;
  type: ElemType;
  dims: number[];
  byteLength: number;
}

export interface ValueSpec {
  name: string;
  type: ElemType;
  dims: Dim[];
}

export interface NodeSpec {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export interface ConstantSpec {
  name: string;
  type: ElemType;
  dims: number[];
  bytes: Uint8Array;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export const DEFAULT_OPSET = 17;

export class GraphBuilder {
  readonly name: string;
  readonly inputs: ValueSpec[] = [];
  readonly outputs: ValueSpec[] = [];
  readonly nodes: NodeSpec[] = [];
  readonly constants: ConstantSpec[] = [];
  readonly weights: WeightSpec[] = [];

  private readonly defined = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly opCounters = new Map<string, number>();
  private readonly opsets = new Map<string, number>([['', DEFAULT_OPSET]]);
  /** Content key → names of unnamed constants with that content, for deduplication. */
  private readonly constantsByContent = new Map<string, ConstantSpec[]>();
  private constantCounter = 0;

  constructor(name: string) {
    if (!name) throw new Error('graph name must not be empty');
    this.name = name;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    checkDims(name, dims);
    this.define(name, 'graph input');
    this.inputs.push({ name, type, dims: [...dims] });
    return name;
  }

  /** Declares a graph output; the value must already be produced by a node, an input or an initializer. */
  output(name: string, type: ElemType, dims: Dim[]): void {
    checkDims(name, dims);
    if (!this.defined.has(name)) throw new Error(`graph output "${name}" is not produced by anything`);
    if (this.outputs.some((o) => o.name === name)) throw new Error(`graph output "${name}" declared twice`);
    this.outputs.push({ name, type, dims: [...dims] });
  }

  /**
   * Adds a node. An empty input name marks an omitted optional input. `outputs` is either explicit names,
   * a count, or one flag per output position (false: an omitted optional output); derived names come
   * from the (unique, deterministic) node name.
   */
  node(
    opType: string,
    inputs: string[],
    outputs: string[] | number | boolean[],
    attrs: Record<string, Attr> = {},
    domain = '',
  ): string[] {
    if (!opType) throw new Error('node op type must not be empty');
    for (const input of inputs) {
      if (input !== '' && !this.defined.has(input)) {
        throw new Error(`${opType} node: input "${input}" is not defined yet (nodes must be added in order)`);
      }
    }
    for (const key of Object.keys(attrs)) checkAttr(opType, key, attrs[key]);
    const explicit = typeof outputs !== 'number' && outputs.every((o) => typeof o === 'string');
    if (explicit) this.checkFreshNames(opType, outputs);
    // Nothing is recorded before this point, so a rejected node leaves the builder as it was.
    const autoCount = typeof outputs === 'number' ? outputs : explicit ? 0 : outputs.length;
    const name = this.nextNodeName(opType, autoCount);
    const outNames = explicit
      ? outputs
      : autoOutputNames(name, autoCount).map((n, k) => (typeof outputs === 'number' || outputs[k] ? n : ''));
    if (outNames.length === 0) throw new Error(`${opType} node "${name}" has no outputs`);
    for (const out of outNames) if (out !== '') this.define(out, `output of node "${name}"`);
    this.nodes.push({
      name,
      opType,
      domain,
      inputs: [...inputs],
      outputs: [...outNames],
      attrs: { ...attrs },
    });
    return outNames;
  }

  /** A node with one output; returns the output's name. */
  op(opType: string, inputs: string[], attrs?: Record<string, Attr>, domain?: string): string {
    return this.node(opType, inputs, 1, attrs, domain)[0];
  }

  /**
   * A small inline initializer. Without a name, constants with identical type, shape and bytes are
   * shared, so helpers can ask for `[1]` or `-1` freely without bloating the graph.
   */
  constant(type: ElemType, dims: number[], values: number[] | bigint[], name?: string): string {
    const count = elementCount(dims);
    if (values.length !== count) {
      throw new Error(`constant ${name ?? ''}: ${values.length} values for shape [${dims.join(', ')}]`);
    }
    const bytes = encodeValues(type, values);
    if (name !== undefined) return this.addConstant({ name, type, dims: [...dims], bytes });
    const key = `${type}|${dims.join(',')}|${contentHash(bytes)}`;
    const candidates = this.constantsByContent.get(key) ?? [];
    const same = candidates.find((c) => equalBytes(c.bytes, bytes));
    if (same) return same.name;
    const spec = { name: this.nextConstantName(), type, dims: [...dims], bytes };
    this.addConstant(spec);
    this.constantsByContent.set(key, [...candidates, spec]);
    return spec.name;
  }

  /** A large initializer whose bytes the writer asks for, in declaration order, at write time. */
  weight(spec: WeightSpec): string {
    const expected = elementCount(spec.dims) * elemBytes(spec.type);
    if (spec.byteLength !== expected) {
      throw new Error(
        `weight "${spec.name}": byteLength ${spec.byteLength} but ${spec.type}[${spec.dims.join(', ')}] needs ${expected}`,
      );
    }
    this.define(spec.name, 'weight');
    this.weights.push({ ...spec, dims: [...spec.dims] });
    return spec.name;
  }

  /** Imports an operator set; the default domain '' starts at opset 17. */
  useOpset(domain: string, version: number): void {
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new Error(`opset ${domain}: bad version ${version}`);
    }
    this.opsets.set(domain, version);
  }

  /** Imports in a fixed order (default domain first, then by name) so the output is deterministic. */
  opsetImports(): OpsetImport[] {
    return [...this.opsets]
      .map(([domain, version]) => ({ domain, version }))
      .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  }

  /** Throws unless every node's domain has an opset import; the writer calls this before writing. */
  checkComplete(): void {
    const missing = [...new Set(this.nodes.map((n) => n.domain))].filter((d) => !this.opsets.has(d));
    if (missing.length > 0) {
      throw new Error(
        `graph ${this.name}: no opset imported for domain(s) ${missing.join(', ')} (call useOpset)`,
      );
    }
    if (this.outputs.length === 0) throw new Error(`graph ${this.name} declares no outputs`);
  }

  private checkFreshNames(opType: string, names: string[]): void {
    const seen = new Set<string>();
    for (const n of names) {
      if (n !== '' && (this.defined.has(n) || seen.has(n))) {
        throw new Error(`${opType} node: output "${n}" is already defined`);
      }
      seen.add(n);
    }
  }

  private define(name: string, what: string): void {
    if (!name) throw new Error(`${what}: empty value name`);
    if (this.defined.has(name)) throw new Error(`${what}: value "${name}" is already defined`);
    this.defined.add(name);
  }

  private addConstant(spec: ConstantSpec): string {
    this.define(spec.name, 'constant');
    this.constants.push(spec);
    return spec.name;
  }

  /** `${opType}_${k}` with k counting per op type, skipping anything already taken. */
  private nextNodeName(opType: string, autoOutputs: number): string {
    let k = this.opCounters.get(opType) ?? 0;
    let name = `${opType}_${k}`;
    while (this.nodeNames.has(name) || autoOutputNames(name, autoOutputs).some((o) => this.defined.has(o))) {
      k += 1;
      name = `${opType}_${k}`;
    }
    this.opCounters.set(opType, k + 1);
    this.nodeNames.add(name);
    return name;
  }

  private nextConstantName(): string {
    let name: string;
    do name = `const_${this.constantCounter++}`;
    while (this.defined.has(name));
    return name;
  }
}

function autoOutputNames(nodeName: string, count: number): string[] {
  return Array.from({ length: count }, (_, k) => `${nodeName}_output_${k}`);
}

function checkDims(name: string, dims: Dim[]): void {
  for (const d of dims) {
    const ok = typeof d === 'string' ? d.length > 0 : Number.isSafeInteger(d) && d >= 0;
    if (!ok) throw new Error(`value "${name}": invalid dimension ${JSON.stringify(d)}`);
  }
}

function checkAttr(opType: string, key: string, attr: Attr): void {
  const node = `${opType} node`;
  if (!key) throw new Error(`${node}: empty attribute name`);
  const isInt = (v: number | bigint) => typeof v === 'bigint' || Number.isSafeInteger(v);
  if ('i' in attr && !isInt(attr.i)) {
    throw new Error(`${node} attribute ${key}: ${attr.i} is not an integer`);
  }
  if ('ints' in attr && !attr.ints.every(isInt)) {
    throw new Error(`${node} attribute ${key}: [${attr.ints.join(', ')}] are not all integers`);
  }
  if ('t' in attr) {
    if (attr.t.values.length !== elementCount(attr.t.dims)) {
      throw new Error(`${node} attribute ${key}: tensor values do not match its shape`);
    }
    encodeValues(attr.t.type, attr.t.values); // throws now, at the call site, on out-of-range values
  }
}

/** FNV-1a over the bytes: a cheap bucket key; equality is confirmed byte by byte. */
function contentHash(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h >>> 0).toString(16);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
