// Loaded with `node --import` ahead of the real CLI: every file write through a FileHandle counts its
// bytes, and once FAIL_WRITES_AFTER bytes have gone out, writes fail with FAIL_WRITES_CODE (ENOSPC by
// default), as a disk that fills up mid-run does. Nothing else about the program changes.
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const limit = Number(process.env.FAIL_WRITES_AFTER ?? 0);
const code = process.env.FAIL_WRITES_CODE ?? 'ENOSPC';
const probe = await open(fileURLToPath(import.meta.url), 'r');
const proto = Object.getPrototypeOf(probe);
await probe.close();
const write = proto.write;
let written = 0;
proto.write = async function (buffer, offset, length, position) {
  const n = typeof length === 'number' ? length : buffer.length - (offset ?? 0);
  if (written + n > limit) {
    const err = new Error(`${code}: injected failure, write`);
    err.code = code;
    err.errno = -28;
    err.syscall = 'write';
    throw err;
  }
  written += n;
  return write.call(this, buffer, offset, length, position);
};
