/**
 * Parses an `application/x-ndjson` body: one JSON value per line, yielded as each line
 * completes. Blank lines are skipped; a final line without a newline still counts.
 * Cancelling the iteration (break, throw, abort) cancels the body, which closes the
 * connection.
 */
export async function* ndjson<T>(body: ReadableStream<Uint8Array>): AsyncGenerator<T, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) yield JSON.parse(line) as T;
      }
    }
    buffered += decoder.decode();
    const last = buffered.trim();
    if (last) yield JSON.parse(last) as T;
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
