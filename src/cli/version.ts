import { readFileSync } from 'node:fs';

/** The version in the package.json beside src/ (in a clone and in an installed package alike). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}
