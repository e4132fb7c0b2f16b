/**
 * Node's file-system failures in words a person can act on. An errno error from reading or writing a
 * path becomes an EnvironmentError naming the path, what went wrong and what to do; anything else (a
 * bug) is returned unchanged so it still reaches the user as an internal error.
 */
import { EnvironmentError } from '../../core/errors.ts';

/** What the program was doing with the path: it decides the advice. */
export type FsAction = 'read' | 'write';

interface Advice {
  problem: string;
  hint: string;
}

const ADVICE: Record<string, (action: FsAction) => Advice> = {
  ENOENT: (a) => ({
    problem: a === 'read' ? 'not found' : 'its folder does not exist',
    hint: a === 'read' ? 'check the path' : 'create the folder first, or choose another output path',
  }),
  ENOTDIR: (a) => ({
    problem: 'a part of the path is a file, not a folder',
    hint: a === 'read' ? 'check the path' : 'choose an output path inside a folder',
  }),
  EISDIR: (a) => ({
    problem: 'is a folder',
    hint:
      a === 'read'
        ? 'give the .safetensors file, its index .json or the model folder itself'
        : 'give a file name such as out/model.onnx, or use --output-dir for a model folder',
  }),
  EACCES: (a) => permission(a),
  EPERM: (a) => permission(a),
  EROFS: () => ({
    problem: 'the file system is read-only',
    hint: 'choose an output path on a writable disk',
  }),
  ENOSPC: () => ({
    problem: 'the disk is full',
    hint: 'free space on that disk, or choose an output path on another one (nothing was kept)',
  }),
  EDQUOT: () => ({
    problem: 'the disk quota is exhausted',
    hint: 'free space in your quota, or choose an output path on another disk (nothing was kept)',
  }),
  EFBIG: () => ({
    problem: 'the file is larger than this file system allows',
    hint: 'choose an output path on another disk, or use --external-data always',
  }),
  EMFILE: () => ({
    problem: 'too many open files',
    hint: 'raise the open-file limit (ulimit -n) and try again',
  }),
  ENFILE: () => ({
    problem: 'too many open files on this system',
    hint: 'close other programs or raise the system’s file limit, and try again',
  }),
  EIO: () => ({
    problem: 'the disk reported an input/output error',
    hint: 'check the disk (or network share) and try again',
  }),
  ENAMETOOLONG: () => ({ problem: 'the path is too long', hint: 'choose a shorter path' }),
  ELOOP: () => ({ problem: 'too many symbolic links in the path', hint: 'check the path' }),
};

function permission(action: FsAction): Advice {
  return action === 'read'
    ? { problem: 'permission denied', hint: 'make the file readable to you, or copy it somewhere it is' }
    : {
        problem: 'permission denied',
        hint: 'choose an output path in a folder you can write to, or change its permissions',
      };
}

/** The system error code of `e`, if it is a Node errno error. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** `e` as an EnvironmentError about `path` when it is a file-system failure; otherwise `e` itself. */
export function fsError(e: unknown, path: string, action: FsAction): unknown {
  if (e instanceof EnvironmentError) return e;
  const code = errnoCode(e);
  if (!code) return e;
  const advice = ADVICE[code]?.(action) ?? {
    problem: `failed (${(e as Error).message})`,
    hint: action === 'read' ? 'check the file and try again' : 'check the output path and try again',
  };
  return new EnvironmentError(
    `cannot ${action}: ${advice.problem}`,
    { path, code, hint: advice.hint },
    { cause: e },
  );
}

/** Runs `op`, turning a file-system failure into an EnvironmentError about `path`. */
export async function withFsErrors<T>(path: string, action: FsAction, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw fsError(e, path, action);
  }
}
