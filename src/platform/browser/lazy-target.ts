/**
 * An OutputTarget whose real target is made on first use. The engine asks for scratch targets
 * synchronously (`scratchTarget: () => OutputTarget`), while opening OPFS and taking a Web Lock are
 * asynchronous; a target that was never used costs nothing and discards as a no-op.
 */
import type { ByteSink, ByteSource, OutputTarget } from '../../core/io/bytes.ts';

export function lazyTarget(make: () => Promise<OutputTarget>): OutputTarget {
  let made: Promise<OutputTarget> | undefined;
  const get = () => (made ??= make());
  return {
    create: async (name: string): Promise<ByteSink> => (await get()).create(name),
    open: async (name: string): Promise<ByteSource | undefined> =>
      made ? (await made).open(name) : undefined,
    commit: async () => (await get()).commit(),
    async discard() {
      if (made) await (await made).discard();
    },
  };
}
