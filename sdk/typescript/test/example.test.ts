// Runs examples/opencode-in-sandbox.ts end to end against a real `warden server`, with
// OpenCode installed from npm and its model a mock OpenAI-compatible server on this
// machine. Opt-in (WARDEN_TEST_OPENCODE=1): it downloads OpenCode (~200 MB) from the
// npm registry and takes a few minutes.
//
// The mock is `https://model.test`: a TLS server on 127.0.0.1 with a certificate from a
// throwaway CA. The server's egress proxy is pointed at it by its test-only hooks
// (WARDEN_EGRESS_TEST_RESOLVE pins model.test to the mock, WARDEN_EGRESS_TEST_ROOTS
// trusts the CA); with a test resolver every other name must be listed too, so
// registry.npmjs.org gets the addresses this machine resolves.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SDK_DIR, startServer, wardenBin, type RunningServer } from "./harness.js";

const MODEL_KEY = "sk-mock-REAL-KEY-only-the-proxy-holds-0123456789";
const ANSWER = "Hello from the mock model.";

const enabled = process.env.WARDEN_TEST_OPENCODE === "1" && wardenBin() !== undefined;

function pki(dir: string): { ca: string; key: string; cert: string } {
  const ossl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const p = (f: string) => join(dir, f);
  ossl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=warden sdk test CA"]);
  ossl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("leaf.key"), "-out", p("leaf.csr"), "-subj", "/CN=model.test"]);
  execFileSync("sh", ["-c", `printf 'subjectAltName=DNS:model.test\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ${p("leaf.ext")}`]);
  ossl(["x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("leaf.pem"), "-days", "2", "-extfile", p("leaf.ext")]);
  return { ca: p("ca.pem"), key: readFileSync(p("leaf.key"), "utf8"), cert: readFileSync(p("leaf.pem"), "utf8") };
}

interface Seen {
  path: string;
  authorization: string | undefined;
}

function mockLlm(tls: { key: string; cert: string }, seen: Seen[]) {
  return createServer(tls, (req: IncomingMessage, res: ServerResponse) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c: any) => (text += c));
    req.on("end", () => {
      seen.push({ path: req.url ?? "", authorization: req.headers.authorization as string | undefined });
      if (req.headers.authorization !== `Bearer ${MODEL_KEY}`) {
        res.writeHead(401, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: "mock: wrong or missing key", type: "invalid_request_error" } }));
      }
      let body: any = {};
      try {
        body = JSON.parse(text);
      } catch {}
      const base = { id: "chatcmpl-mock", created: Math.floor(Date.now() / 1000), model: body.model ?? "mock-model" };
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      if (!body.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({
          ...base, object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content: ANSWER }, finish_reason: "stop" }], usage,
        }));
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const chunk = (choices: unknown, extra: object = {}) =>
        res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices, ...extra })}\n\n`);
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
      for (const piece of ANSWER.match(/.{1,8}/g) ?? []) chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
      chunk([{ index: 0, delta: {}, finish_reason: "stop" }]);
      chunk([], { usage });
      res.end("data: [DONE]\n\n");
    });
  });
}

describe("examples/opencode-in-sandbox.ts", { skip: enabled ? false : "set WARDEN_TEST_OPENCODE=1 (and WARDEN_BIN): needs the npm registry" }, () => {
  let dir: string;
  let srv: RunningServer;
  let mock: ReturnType<typeof createServer>;
  const seen: Seen[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "warden-sdk-example-"));
    const tls = pki(dir);
    mock = mockLlm(tls, seen);
    await new Promise<void>((ok) => mock.listen(0, "127.0.0.1", ok));
    const addr = mock.address();
    if (!addr || typeof addr === "string") throw new Error("no mock address");
    const registry = (await lookup("registry.npmjs.org", { all: true })).map((a) => `registry.npmjs.org~${a.address}`);
    srv = await startServer({
      WARDEN_EGRESS_TEST_RESOLVE: [`model.test=127.0.0.1:${addr.port}`, ...registry].join(","),
      WARDEN_EGRESS_TEST_ROOTS: tls.ca,
    });
  }, { timeout: 60_000 });

  after(async () => {
    await srv?.stop();
    mock?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("follows the guide: install, lock egress with an injected key, snapshot, answer", { timeout: 15 * 60_000 }, async (t) => {
    const child = spawn(process.argv[0]!, [join(SDK_DIR, "build/examples/opencode-in-sandbox.js")], {
      env: {
        ...process.env,
        WARDEN_SERVER_URL: srv.url,
        WARDEN_SERVER_TOKEN: srv.token,
        MODEL_PROVIDER: "openai-compatible",
        MODEL_BASE_URL: "https://model.test/v1",
        MODEL_ID: "mock-model",
        MODEL_API_KEY: MODEL_KEY,
        OPENCODE_VERSION: process.env.OPENCODE_VERSION ?? "latest",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const dec = new TextDecoder();
    child.stdout?.on("data", (c: Uint8Array) => (stdout += dec.decode(c)));
    child.stderr?.on("data", (c: Uint8Array) => (stderr += dec.decode(c)));
    const code = await new Promise<number | null>((ok) => child.on("exit", (c) => ok(c)));
    const lines = stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const result = lines.find((l) => l.result)?.result;
    const steps = Object.fromEntries(lines.filter((l) => l.step).map((l) => [l.step, l]));
    const why = `exit ${code}\nstdout:\n${stdout}\nstderr (tail):\n${stderr.slice(-4000)}\nserver:\n${srv.log().slice(-3000)}`;
    assert.ok(result, why);
    if (!result.ok && / \(501\): /.test(result.error ?? "")) {
      t.todo(`the server answers 501 (${result.error}); steps done: ${Object.keys(steps).join(", ")}`);
      return;
    }
    for (const l of lines) t.diagnostic(JSON.stringify(l).slice(0, 300));
    t.diagnostic(`mock model requests: ${JSON.stringify(seen.map((s) => ({ path: s.path, keyInjected: s.authorization === `Bearer ${MODEL_KEY}` })))}`);
    assert.equal(result.ok, true, why);
    assert.equal(code, 0, why);
    assert.equal(result.answer, ANSWER);
    assert.equal(result.unauthorizedStatus, 401);
    assert.notEqual(result.blockedExitCode, 0);
    assert.equal(result.sandboxIds.length, 2);
    assert.match(result.snapshotId, /^snap-/);
    assert.equal(steps.config.keyInConfig, false);
    assert.equal(steps.egress.keyInSandboxEnv, false);
    assert.deepEqual(steps.lock.policy.transforms, { "model.test": ["authorization"] });
    assert.ok(!stdout.includes(MODEL_KEY), "the key is never printed");
    assert.ok(seen.some((s) => s.path.startsWith("/v1/chat/completions")), "OpenCode reached the mock through the proxy");
    assert.ok(seen.every((s) => s.authorization === `Bearer ${MODEL_KEY}`), "every model request carried the injected key");
    assert.equal(result.cleanup.length, 3, JSON.stringify(result.cleanup));
  });
});
