// Starts a real `warden server` for the tests: binary from WARDEN_BIN, else
// ../../target/debug/warden relative to sdk/typescript; a free port on 127.0.0.1,
// a temporary --sandbox-dir, a random token through WARDEN_SERVER_TOKEN.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** sdk/typescript, from build/test/harness.js. */
export const SDK_DIR = fileURLToPath(new URL("../..", import.meta.url));

export function wardenBin(): string | undefined {
  const fromEnv = process.env.WARDEN_BIN;
  if (fromEnv) return resolve(fromEnv);
  const fallback = resolve(SDK_DIR, "../../target/debug/warden");
  return existsSync(fallback) ? fallback : undefined;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  await new Promise<void>((ok) => server.close(() => ok()));
  if (!addr || typeof addr === "string") throw new Error("no port");
  return addr.port;
}

export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "wst_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  sandboxDir: string;
  /** Everything the server wrote to stderr so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * `tenants`: serve these tenants from a `--tokens` file instead of WARDEN_SERVER_TOKEN
 * (`token` is then the first tenant's).
 */
export async function startServer(
  extraEnv: Record<string, string> = {},
  tenants?: { tenant: string; token: string }[],
): Promise<RunningServer> {
  const bin = wardenBin();
  if (!bin) throw new Error("no warden binary: set WARDEN_BIN or build ../../target/debug/warden");
  if (!existsSync(bin)) throw new Error(`WARDEN_BIN=${bin} does not exist`);
  const port = await freePort();
  const token = tenants?.[0]?.token ?? randomToken();
  const sandboxDir = await mkdtemp(join(tmpdir(), "warden-sdk-test-"));
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  const env: Record<string, string | undefined> = { ...process.env, ...extraEnv, WARDEN_SERVER_TOKEN: token };
  delete env.WARDEN_SERVER_URL;
  const args = ["server", "--listen", `127.0.0.1:${port}`, "--sandbox-dir", sandboxDir];
  if (tenants) {
    delete env.WARDEN_SERVER_TOKEN;
    const file = join(sandboxDir, "tokens.json");
    await writeFile(file, JSON.stringify({ tokens: tenants }), { mode: 0o600 });
    args.push("--tokens", file);
  }
  const child: ChildProcess = spawn(bin, args, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const decoder = new TextDecoder();
  child.stdout?.on("data", (c: Uint8Array) => (output += decoder.decode(c)));
  child.stderr?.on("data", (c: Uint8Array) => (output += decoder.decode(c)));
  let exited = false;
  child.on("exit", () => (exited = true));
  child.on("error", (e: Error) => {
    output += `spawn ${bin}: ${e.message}\n`;
    exited = true;
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      await rm(sandboxDir, { recursive: true, force: true }).catch(() => {});
      throw new Error(`warden server exited at start (code ${child.exitCode}):\n${output}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await rm(sandboxDir, { recursive: true, force: true }).catch(() => {});
      throw new Error(`warden server did not answer /healthz within 30 s:\n${output}`);
    }
    await sleep(100);
  }

  return {
    url,
    port,
    token,
    sandboxDir,
    log: () => output,
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((ok) => child.once("exit", () => ok()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await gone;
        clearTimeout(timer);
      }
      await rm(sandboxDir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

/** Collects what a command writes to a sink, with the time each chunk arrived. */
export class Recorder {
  readonly chunks: { at: number; chunk: string | Uint8Array }[] = [];
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push({ at: Date.now(), chunk });
    return true;
  }
  bytes(): Uint8Array {
    const enc = new TextEncoder();
    const parts = this.chunks.map((c) => (typeof c.chunk === "string" ? enc.encode(c.chunk) : c.chunk));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}
