/**
 * Every reference to a Markdown file in the code and the docs resolves inside the repository: the file
 * exists, and every section it is cited for (`§N`, `§N–M`, `§N, §M`) is a numbered heading in it. The
 * docs' own claims are held to the same rule: repository paths they name exist, and the test titles they
 * quote as evidence are in the test files they name.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');
const SELF = path.relative(REPO, import.meta.filename);
const SCANNED_DIRS = ['src', 'test', 'bench', 'scripts', 'assembly', 'docs'];
const SCANNED_FILES = ['README.md'];
const TEXT_EXTENSIONS = new Set(['.ts', '.js', '.mjs', '.svelte', '.md', '.css', '.html', '.proto']);

interface Reference {
  /** The path as written. */
  target: string;
  /** Section numbers cited right after it (empty when none). */
  sections: number[];
}

/** Files under `dir` (repo-relative), skipping hidden and build folders. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'build' || entry.name === 'node_modules') continue;
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(rel));
    else if (TEXT_EXTENSIONS.has(path.extname(entry.name))) out.push(rel);
  }
  return out;
}

/** `§4–5` → [4, 5]; `§1, §3` → [1, 3]; `§5 and §7` → [5, 7]. */
export function sectionNumbers(list: string): number[] {
  const numbers: number[] = [];
  for (const m of list.matchAll(/(\d+)(?:\s*[–-]\s*(\d+))?/g)) {
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let n = from; n <= to; n++) numbers.push(n);
  }
  return numbers;
}

/**
 * Markdown paths in `text` and the sections cited right after each. A path must start the token (so the
 * tail of a URL does not count); a closing backtick, quote or link parenthesis may sit between it and `§`.
 */
export function findReferences(text: string): Reference[] {
  const refs: Reference[] = [];
  const pathPattern = /(?<![\w/.:@-])((?:\.\.?\/)*(?:[\w-]+\/)*[\w.-]*\w\.md)(?![\w/])/g;
  const sectionList =
    /^[`'")\]]*\s*(§\s?\d+(?:\s*[–-]\s*\d+)?(?:\s*(?:,|and|or)\s*§\s?\d+(?:\s*[–-]\s*\d+)?)*)/;
  for (const m of text.matchAll(pathPattern)) {
    const after = text.slice(m.index + m[0].length, m.index + m[0].length + 80);
    const list = sectionList.exec(after)?.[1];
    refs.push({ target: m[1], sections: list ? sectionNumbers(list) : [] });
  }
  return refs;
}

/** Bare `§N` references (no path before them): in the spec they point into the spec itself. */
function bareSections(text: string): number[] {
  const numbers: number[] = [];
  for (const m of text.matchAll(/(?<![\w.`)\]]\s?)§\s?(\d+(?:\s*[–-]\s*\d+)?)/g))
    numbers.push(...sectionNumbers(m[1]));
  return numbers;
}

/** Numbers of the headings `## 3. Title` (or `## §3 Title`) of a Markdown file. */
export function headingNumbers(markdown: string): Set<number> {
  const numbers = new Set<number>();
  for (const m of markdown.matchAll(/^#{1,6}\s+§?(\d+)[.\s]/gm)) numbers.add(Number(m[1]));
  return numbers;
}

/** Where a reference written in `from` points: relative to the repository root, else to `from`'s folder. */
function resolveTarget(from: string, target: string): string | undefined {
  const candidates = target.startsWith('.')
    ? [path.join(path.dirname(from), target)]
    : [target, path.join(path.dirname(from), target)];
  return candidates.find((c) => existsSync(path.join(REPO, c)) && statSync(path.join(REPO, c)).isFile());
}

const scanned = [...SCANNED_DIRS.flatMap(listFiles), ...SCANNED_FILES].filter((f) => f !== SELF);
const read = (file: string) => readFileSync(path.join(REPO, file), 'utf8');
const oneLine = (text: string) => text.replace(/\s+/g, ' ');

describe('reference parsing', () => {
  it('reads paths, section lists and ranges, and ignores the tails of URLs', () => {
    const text =
      'see docs/spec.md §4–5, `docs/spec.md` §2, [spec](spec.md) §5 and §7, ../README.md, ' +
      'docs/spec.md §1, §3 and https://example.org/x/README.md';
    expect(findReferences(text)).toEqual([
      { target: 'docs/spec.md', sections: [4, 5] },
      { target: 'docs/spec.md', sections: [2] },
      { target: 'spec.md', sections: [5, 7] },
      { target: '../README.md', sections: [] },
      { target: 'docs/spec.md', sections: [1, 3] },
    ]);
  });

  it('finds numbered headings only', () => {
    expect([...headingNumbers('# Title\n## 1. One\ntext 2. no\n### 2 Two\n## §3 Three\n## Four\n')]).toEqual([
      1, 2, 3,
    ]);
  });
});

describe('references in the repository', () => {
  const problems: string[] = [];
  const cited = new Map<string, number>();
  for (const file of scanned) {
    for (const ref of findReferences(read(file))) {
      const target = resolveTarget(file, ref.target);
      if (!target) {
        problems.push(`${file}: ${ref.target} does not exist in the repository`);
        continue;
      }
      cited.set(target, (cited.get(target) ?? 0) + 1);
      const headings = headingNumbers(read(target));
      for (const n of ref.sections) {
        if (!headings.has(n)) problems.push(`${file}: ${ref.target} §${n} has no heading numbered ${n}`);
      }
    }
  }

  it('every cited Markdown file exists and has every cited § heading', () => {
    expect(problems).toEqual([]);
    // The code cites the spec throughout; a scan that finds nothing would prove nothing.
    expect(cited.get('docs/spec.md') ?? 0).toBeGreaterThanOrEqual(27);
  });

  it("the spec's references to its own sections resolve", () => {
    const spec = read('docs/spec.md');
    const headings = headingNumbers(spec);
    expect([1, 2, 3, 4, 5, 6, 7].filter((n) => !headings.has(n))).toEqual([]);
    expect(bareSections(spec).filter((n) => !headings.has(n))).toEqual([]);
  });

  it('repository paths named in the docs exist', () => {
    const missing: string[] = [];
    for (const doc of listFiles('docs')) {
      for (const m of read(doc).matchAll(/`((?:src|test|bench|scripts|assembly|bin)\/[\w/.-]+\.\w+)`/g)) {
        if (m[1].includes('/.')) continue; // generated output (bench/.cache, test/.out), not in git
        if (!existsSync(path.join(REPO, m[1]))) missing.push(`${doc}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('test titles the docs quote as evidence are in the files they name', () => {
    const missing: string[] = [];
    let quoted = 0;
    for (const doc of listFiles('docs')) {
      const text = oneLine(read(doc));
      for (const m of text.matchAll(/`(test\/[\w/.-]+\.test\.ts)` \(((?:"[^"]+"(?: and )?)+)\)/g)) {
        const source = existsSync(path.join(REPO, m[1])) ? oneLine(read(m[1])) : '';
        for (const title of m[2].matchAll(/"([^"]+)"/g)) {
          quoted++;
          if (!source.includes(title[1])) missing.push(`${doc}: ${m[1]} has no test "${title[1]}"`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(quoted).toBeGreaterThanOrEqual(5);
  });
});
