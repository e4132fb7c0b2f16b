/**
 * The bundled sample's byte-level tokenizer (scripts/make-byte-tokenizer.ts): id = byte value for
 * any UTF-8 text, read by the tokenizer library the worker uses and by transformers.js's AutoTokenizer
 * from local files, with the same ids and text.
 */
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { AutoTokenizer, env } from '@huggingface/transformers';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { byteTokenizer, reservedToken } from '../../scripts/make-byte-tokenizer.ts';
import { SAMPLE_DIMS, SAMPLE_SOURCE } from '../../scripts/make-sample.ts';

const TEXTS = [
  'THE SOFTWARE IS PROVIDED "AS IS"',
  'Grüße, naïve café — 日本語, emoji 🙂, tab\tand\r\nnew lines, NUL \u0000 and DEL \u007f',
  '  leading and trailing spaces  ',
];

const readJson = (name: string) => JSON.parse(readFileSync(path.join(SAMPLE_SOURCE, name), 'utf8'));
const utf8 = (text: string) => [...new TextEncoder().encode(text)];

describe('byte-level tokenizer of the sample', () => {
  it('is what the script generates for the sample vocabulary', () => {
    const { tokenizer, config } = byteTokenizer(SAMPLE_DIMS.vocabSize);
    expect(readJson('tokenizer.json')).toEqual(tokenizer);
    expect(readJson('tokenizer_config.json')).toEqual(config);
    expect(readJson('config.json').vocab_size).toBe(SAMPLE_DIMS.vocabSize);
  });

  const tokenizer = new Tokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));

  it.each(TEXTS)('encodes %j to its UTF-8 bytes and decodes them back', (text) => {
    const ids = tokenizer.encode(text).ids;
    expect(ids).toEqual(utf8(text));
    expect(tokenizer.decode(ids)).toBe(text);
  });

  it('decodes every id the model can produce; reserved ids are special', () => {
    expect(tokenizer.decode([72, 300, 105])).toBe(`H${reservedToken(300)}i`);
    expect(tokenizer.decode([72, 300, 105], { skip_special_tokens: true })).toBe('Hi');
    expect(tokenizer.decode([SAMPLE_DIMS.vocabSize - 1])).toBe(reservedToken(SAMPLE_DIMS.vocabSize - 1));
  });

  it('transformers.js AutoTokenizer loads it from local files and agrees', async () => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = path.dirname(SAMPLE_SOURCE);
    const auto = await AutoTokenizer.from_pretrained(path.basename(SAMPLE_SOURCE), {
      local_files_only: true,
    });
    for (const text of TEXTS) {
      expect(auto.encode(text)).toEqual(utf8(text));
      expect(auto.decode(utf8(text))).toBe(text);
    }
  });
});
