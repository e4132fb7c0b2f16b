/**
 * Writes a byte-level tokenizer where token id = byte value (0–255), in the Hugging Face
 * `tokenizer.json` format that transformers.js and the `tokenizers` library load: a BPE model with no
 * merges over the 256 single bytes, each spelled as the printable character the ByteLevel
 * pre-tokenizer maps it to, so every UTF-8 text encodes to its bytes and any byte sequence decodes
 * back. Ids from 256 up to the model's vocabulary size are reserved special tokens (the bundled sample
 * never produces them; they exist so every id the model can emit decodes to something).
 * Usage: `npx tsx scripts/make-byte-tokenizer.ts <dir> [vocabSize]` (default: the bundled sample, 384).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SAMPLE_SOURCE = fileURLToPath(new URL('../samples/bitnet-b1.58-licenses', import.meta.url));

/**
 * The ByteLevel mapping of byte values to characters: printable Latin-1 bytes stand for themselves;
 * the others (controls, space, soft hyphen, …) take the characters from U+0100 on, in byte order.
 */
export function byteCharacters(): string[] {
  const chars: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCodePoint(printable ? b : next++));
  }
  return chars;
}

export const reservedToken = (id: number) => `<|reserved_${id}|>`;

export function byteTokenizer(vocabSize: number): { tokenizer: object; config: object } {
  if (!Number.isInteger(vocabSize) || vocabSize < 256) {
    throw new RangeError(`a byte-level vocabulary needs at least 256 ids, got ${vocabSize}`);
  }
  const byteLevel = { add_prefix_space: false, trim_offsets: false, use_regex: false };
  const addedTokens = Array.from({ length: vocabSize - 256 }, (_, i) => ({
    id: 256 + i,
    content: reservedToken(256 + i),
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: null,
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(byteCharacters().map((c, id) => [c, id])),
      merges: [],
    },
  };
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: 512,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
  };
  return { tokenizer, config };
}

export async function writeByteTokenizer(dir: string, vocabSize: number): Promise<string[]> {
  const { tokenizer, config } = byteTokenizer(vocabSize);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  await writeFile(path.join(dir, 'tokenizer.json'), json(tokenizer));
  await writeFile(path.join(dir, 'tokenizer_config.json'), json(config));
  return ['tokenizer.json', 'tokenizer_config.json'];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = path.resolve(process.argv[2] ?? SAMPLE_SOURCE);
  const vocab = Number(process.argv[3] ?? 384);
  const files = await writeByteTokenizer(dir, vocab);
  console.log(
    `byte-level tokenizer (vocabulary ${vocab}): ${files.join(', ')} → ${path.relative(process.cwd(), dir) || '.'}`,
  );
}
