import { describe, expect, it } from 'vitest';
import { describeSelection, filesFromInput } from '../../src/ui/pick-files.ts';

const file = (name: string, relative = '') =>
  Object.assign(new File(['x'], name), { webkitRelativePath: relative }) as File;

describe('picked files', () => {
  it('keep the folder path of a folder pick, the bare name otherwise', () => {
    expect(
      filesFromInput([file('config.json', 'm/config.json'), file('model.safetensors')]).map((f) => f.path),
    ).toEqual(['m/config.json', 'model.safetensors']);
  });

  it('are described the way a person would say it', () => {
    const input = (...paths: string[]) => paths.map((path) => ({ path, blob: new Blob([]) }));
    expect(describeSelection(input('model.safetensors'))).toBe('model.safetensors');
    expect(describeSelection(input('m/config.json', 'm/model.safetensors'))).toBe('m/ (2 files)');
    expect(describeSelection(input('model.safetensors', 'config.json'))).toBe(
      'config.json, model.safetensors',
    );
    expect(describeSelection(input('a', 'b', 'c', 'd', 'e'))).toBe('a, b, c and 2 more');
  });
});
