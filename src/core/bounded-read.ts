/**
 * Reads a byte stream to its end, at most `limitBytes` of it: the bytes, or `null` (the stream cancelled) as soon
 * as it runs longer. Shared by the HTTP handler (request bodies) and the provider adapter (answers), so neither
 * holds an unbounded body in memory.
 */
export async function readStreamBounded(
  stream: ReadableStream<Uint8Array>,
  limitBytes: number,
): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limitBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}
