// The SDK against a small fake of the API (node:http): what it sends, how it reads
// NDJSON, problems and aborts. No warden binary needed.

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { Sandbox, Snapshot, WardenError } from "../src/index.js";
import { Recorder, sleep } from "./harness.js";

const TOKEN = "wst_unit_0123456789abcdef0123";

const sandboxInfo = (id: string) => ({
  id,
  name: null,
  status: "running",
  createdAt: 1765000000000,
  timeoutAt: 1765003600000,
  source: "empty",
  ports: [{ port: 4096, url: `http://4096-${id}.localhost:7070`, pathUrl: `http://127.0.0.1:7070/v1/ports/${id}/4096/` }],
  resources: { vcpus: 1, memory: 2048, pids: null },
  networkPolicy: { mode: "allow-all", allow: [], deny: [], transforms: {} },
});

function problem(res: ServerResponse, status: number, slug: string, detail: string): void {
  res.writeHead(status, { "content-type": "application/problem+json" });
  res.end(JSON.stringify({ type: `https://warden.dev/problems/${slug}`, title: slug, status, detail }));
}

async function body(req: IncomingMessage): Promise<any> {
  let text = "";
  req.setEncoding("utf8");
  await new Promise<void>((ok) => {
    req.on("data", (c: any) => (text += c));
    req.on("end", () => ok());
  });
  return text ? JSON.parse(text) : undefined;
}

const seen: { method: string; url: string; auth: string | undefined; accept: string | undefined; body: any }[] = [];
let killedByDisconnect = false;

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const b = await body(req);
  seen.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization as string | undefined, accept: req.headers.accept as string | undefined, body: b });
  if (req.headers.authorization !== `Bearer ${TOKEN}`) {
    return problem(res, 401, "unauthorized", `bad token ${String(req.headers.authorization)}`);
  }
  const path = url.pathname;
  if (req.method === "POST" && path === "/v1/sandboxes") {
    res.writeHead(201, { "content-type": "application/json" });
    return res.end(JSON.stringify(sandboxInfo("sb-1")));
  }
  if (req.method === "GET" && path === "/v1/sandboxes/sb-1") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(sandboxInfo("sb-1")));
  }
  if (req.method === "POST" && path === "/v1/sandboxes/sb-1/commands") {
    if (b.cmd === "json") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ cmdId: "cmd-j", exitCode: 3, stdout: "out", stderr: "err", truncated: true }));
    }
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    res.flushHeaders();
    const line = (o: unknown) => res.write(JSON.stringify(o) + "\n");
    if (b.cmd === "hang") {
      line({ type: "start", cmdId: "cmd-h" });
      res.on("close", () => {
        if (!res.writableEnded) killedByDisconnect = true;
      });
      return; // never ends: the client must abort
    }
    if (b.cmd === "cut") {
      line({ type: "start", cmdId: "cmd-c" });
      line({ type: "stdout", data: "partial" });
      await sleep(100);
      return res.destroy(); // the connection drops mid-stream
    }
    line({ type: "start", cmdId: "cmd-1" });
    line({ type: "heartbeat" }); // unknown events are ignored
    line({ type: "stdout", data: "hello " });
    await sleep(300);
    // "é" split across two chunks, as bytes the server could not decode alone.
    line({ type: "stdout", dataBase64: btoa(String.fromCharCode(0xc3)) });
    res.write(JSON.stringify({ type: "stdout", dataBase64: btoa(String.fromCharCode(0xa9)) }) + "\n" + '{"type":"stderr",');
    await sleep(50);
    res.write('"data":"warn\\n"}\n');
    line({ type: "exit", exitCode: 7 });
    return res.end();
  }
  if (req.method === "GET" && path === "/v1/sandboxes/sb-1/files") {
    if (url.searchParams.get("path") === "/workspace/a.txt") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      return res.end(new Uint8Array([104, 105, 0, 255]));
    }
    return problem(res, 404, "not-found", "no such file");
  }
  if (req.method === "POST" && path === "/v1/sandboxes/sb-1/files") {
    res.writeHead(204);
    return res.end();
  }
  if (req.method === "GET" && path === "/v1/snapshots") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ snapshots: [{ snapshotId: "snap-1", sourceSandboxId: "sb-1", createdAt: 1, files: 2, bytes: 3 }] }));
  }
  if (path === "/v1/echo-token") return problem(res, 500, "internal", `upstream said: ${TOKEN}`);
  if (path === "/v1/not-json") {
    res.writeHead(502, { "content-type": "text/html" });
    return res.end("<html>bad gateway</html>");
  }
  return problem(res, 404, "not-found", `no route ${req.method} ${path}`);
});

let conn: { url: string; token: string };

before(async () => {
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("no address");
  conn = { url: `http://127.0.0.1:${addr.port}/`, token: TOKEN };
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
});

describe("against a fake server", () => {
  test("create sends the body and the bearer token, and reads the Sandbox", async () => {
    const sb = await Sandbox.create({ ports: [4096], resources: { vcpus: 1, memory: 2048 }, timeout: 60_000 }, conn);
    assert.equal(sb.sandboxId, "sb-1");
    assert.equal(sb.status, "running");
    const req = seen.find((s) => s.method === "POST" && s.url === "/v1/sandboxes");
    assert.ok(req);
    assert.equal(req.auth, `Bearer ${TOKEN}`);
    assert.deepEqual(req.body, { ports: [4096], resources: { vcpus: 1, memory: 2048 }, timeout: 60_000 });
  });

  test("domain(port): host form by default, path form on request, unknown port throws", async () => {
    const sb = await Sandbox.get("sb-1", conn);
    assert.equal(sb.domain(4096), "http://4096-sb-1.localhost:7070");
    assert.equal(sb.domain(4096, { form: "path" }), "http://127.0.0.1:7070/v1/ports/sb-1/4096");
    assert.throws(() => sb.domain(1234), (e: unknown) => e instanceof WardenError && /1234/.test(e.message));
  });

  test("runCommand streams NDJSON to the writables and decodes bytes split across chunks", async () => {
    const sb = await Sandbox.get("sb-1", conn);
    const out = new Recorder();
    const err = new Recorder();
    const done = await sb.runCommand({ cmd: "bash", args: ["-c", "x"], stdout: out, stderr: err, env: { A: "1" } });
    assert.equal(done.exitCode, 7);
    assert.equal(done.cmdId, "cmd-1");
    assert.equal(await done.stdout(), "hello é");
    assert.equal(await done.stderr(), "warn\n");
    assert.equal(out.text(), "hello é");
    assert.equal(err.text(), "warn\n");
    assert.ok(out.chunks.length >= 2);
    assert.ok(out.chunks[1]!.at - out.chunks[0]!.at >= 200, "the first chunk arrived before the rest was sent");
    const req = seen.filter((s) => s.url === "/v1/sandboxes/sb-1/commands").at(-1);
    assert.equal(req?.accept, "application/x-ndjson");
    assert.deepEqual(req?.body, { cmd: "bash", args: ["-c", "x"], env: { A: "1" } });
  });

  test("runCommand also takes the plain JSON answer", async () => {
    const sb = await Sandbox.get("sb-1", conn);
    const done = await sb.runCommand("json", ["a"]);
    assert.equal(done.exitCode, 3);
    assert.equal(await done.stdout(), "out");
    assert.equal(await done.stderr(), "err");
    assert.equal(done.truncated, true);
  });

  test("aborting runCommand closes the request", async () => {
    const sb = await Sandbox.get("sb-1", conn);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(sb.runCommand({ cmd: "hang", signal: ac.signal }), (e: any) => e?.name === "AbortError");
    for (let i = 0; i < 50 && !killedByDisconnect; i++) await sleep(20);
    assert.equal(killedByDisconnect, true);
  });

  test("a stream cut mid-way is a WardenError (status 0), after the output so far was written", async () => {
    const sb = await Sandbox.get("sb-1", conn);
    const out = new Recorder();
    const err = await sb.runCommand({ cmd: "cut", stdout: out }).catch((e: unknown) => e);
    assert.ok(err instanceof WardenError, String(err));
    assert.equal(err.status, 0);
    assert.equal(err.slug, "connection");
    assert.equal(out.text(), "partial");
  });

  test("sudo is refused before any request", async () => {
    const sb = await Sandbox.get("sb-1", conn);
    await assert.rejects(sb.runCommand({ cmd: "id", sudo: true }), (e: unknown) => e instanceof WardenError && e.status === 400);
  });

  test("readFile: bytes, null on 404; writeFiles sends base64 and absolute paths", async () => {
    const sb = await Sandbox.get("sb-1", conn);
    assert.deepEqual(await sb.readFile("/workspace/a.txt"), new Uint8Array([104, 105, 0, 255]));
    assert.deepEqual(await sb.readFile("a.txt"), new Uint8Array([104, 105, 0, 255]));
    assert.equal(await sb.readFile("/workspace/missing"), null);
    await sb.writeFiles([
      { path: "rel/b.txt", content: "hé" },
      { path: "/home/sandbox/c", content: new Uint8Array([0, 255]), mode: 0o755 },
    ]);
    const req = seen.filter((s) => s.method === "POST" && s.url === "/v1/sandboxes/sb-1/files").at(-1);
    assert.deepEqual(req?.body, {
      files: [
        { path: "/workspace/rel/b.txt", content: "aMOp" },
        { path: "/home/sandbox/c", content: "AP8=", mode: 493 },
      ],
    });
  });

  test("a problem answer becomes a WardenError with its fields", async () => {
    const err = await Sandbox.get("sb-nope", conn).then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WardenError);
    assert.equal(err.status, 404);
    assert.equal(err.type, "https://warden.dev/problems/not-found");
    assert.equal(err.slug, "not-found");
    assert.match(err.detail ?? "", /sb-nope/);
    assert.equal(err.request, "GET /v1/sandboxes/sb-nope");
  });

  test("the token never appears in an error, even when the server echoes it", async () => {
    const wrong = "wst_wrong_token_that_must_not_leak_42";
    const e1 = await Snapshot.list({ url: conn.url, token: wrong }).catch((e: unknown) => e);
    assert.ok(e1 instanceof WardenError);
    assert.equal(e1.status, 401);
    assert.doesNotMatch(e1.message + JSON.stringify(e1) + String(e1.detail), /must_not_leak/);
    const { Client } = await import("../src/client.js");
    const e2 = await new Client(conn).request("GET", "/v1/echo-token").catch((e: unknown) => e);
    assert.ok(e2 instanceof WardenError);
    assert.equal(e2.status, 500);
    assert.ok(!(e2.message + String(e2.detail)).includes(TOKEN));
  });

  test("a non-problem error body and an unreachable server still give WardenErrors", async () => {
    const { Client } = await import("../src/client.js");
    const e1 = await new Client(conn).request("GET", "/v1/not-json").catch((e: unknown) => e);
    assert.ok(e1 instanceof WardenError);
    assert.equal(e1.status, 502);
    const e2 = await Sandbox.list({ url: "http://127.0.0.1:1", token: TOKEN }).catch((e: unknown) => e);
    assert.ok(e2 instanceof WardenError);
    assert.equal(e2.status, 0);
    assert.equal(e2.slug, "connection");
    assert.ok(!e2.message.includes(TOKEN));
  });

  test("Snapshot.list maps the API's objects", async () => {
    const snaps = await Snapshot.list(conn);
    assert.equal(snaps.length, 1);
    assert.equal(snaps[0]!.snapshotId, "snap-1");
    assert.equal(snaps[0]!.sizeBytes, 3);
  });

  test("connection options default from WARDEN_SERVER_URL and WARDEN_SERVER_TOKEN", async () => {
    const saved = { url: process.env.WARDEN_SERVER_URL, token: process.env.WARDEN_SERVER_TOKEN };
    process.env.WARDEN_SERVER_URL = conn.url;
    process.env.WARDEN_SERVER_TOKEN = TOKEN;
    try {
      const sb = await Sandbox.get("sb-1");
      assert.equal(sb.sandboxId, "sb-1");
    } finally {
      if (saved.url === undefined) delete process.env.WARDEN_SERVER_URL;
      else process.env.WARDEN_SERVER_URL = saved.url;
      if (saved.token === undefined) delete process.env.WARDEN_SERVER_TOKEN;
      else process.env.WARDEN_SERVER_TOKEN = saved.token;
    }
  });
});
