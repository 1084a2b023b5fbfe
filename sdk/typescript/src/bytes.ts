// Byte helpers that need no Buffer: base64 through btoa/atob, UTF-8 through TextEncoder.

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function toBytes(content: Uint8Array | ArrayBuffer | string): Uint8Array {
  if (typeof content === "string") return utf8(content);
  if (content instanceof Uint8Array) return content;
  return new Uint8Array(content);
}

export function toBase64(bytes: Uint8Array): string {
  let out = "";
  const CHUNK = 0x6000; // a multiple of 3: chunks encode independently
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const part = bytes.subarray(i, i + CHUNK);
    let bin = "";
    for (let j = 0; j < part.length; j++) bin += String.fromCharCode(part[j]!);
    out += btoa(bin);
  }
  return out;
}

export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads a whole body into bytes. */
export async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return concat(parts);
}
