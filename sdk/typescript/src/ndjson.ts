import { streamCut, WardenError } from "./errors.js";

/**
 * Parses an `application/x-ndjson` body: one JSON value per line, yielded as each line
 * completes. Blank lines are skipped; a final line without a newline still counts.
 * Cancelling the iteration (break, throw, abort) cancels the body, which closes the
 * connection.
 */
export async function* ndjson<T>(body: ReadableStream<Uint8Array>, request = "stream"): AsyncGenerator<T, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let finished = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw streamCut(request, e);
      }
      const { done, value } = chunk;
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) yield parse<T>(line, request);
      }
    }
    buffered += decoder.decode();
    const last = buffered.trim();
    if (last) yield parse<T>(last, request);
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function parse<T>(line: string, request: string): T {
  try {
    return JSON.parse(line) as T;
  } catch (e) {
    throw new WardenError(
      {
        type: "https://warden.dev/problems/invalid-response",
        title: "A line of the server's stream is not JSON",
        status: 0,
        detail: line.slice(0, 200),
      },
      { request, cause: e },
    );
  }
}
