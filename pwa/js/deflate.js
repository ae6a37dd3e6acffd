// zlib (RFC 1950) compression for envelopes through the Compression Streams API, which
// Chromium has from version 80. Without it, `deflate` is not offered (`available` false): the
// envelope goes uncompressed, which the format allows; a compressed envelope cannot be opened.

export const available =
  typeof CompressionStream === "function" && typeof DecompressionStream === "function";

export class InflateError extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason; // "too_large" or "malformed"
  }
}

async function collect(reader, limit) {
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      reader.cancel().catch(() => undefined); // a decompression bomb costs no more than the limit
      throw new InflateError("too_large");
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export async function deflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return collect(stream.getReader(), Infinity);
}

/** Inflate at most `limit` bytes; more is too_large, a cut or padded stream is malformed. */
export async function inflate(bytes, limit) {
  if (!available) throw new InflateError("malformed");
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  try {
    return await collect(stream.getReader(), limit);
  } catch (error) {
    throw error instanceof InflateError ? error : new InflateError("malformed");
  }
}
