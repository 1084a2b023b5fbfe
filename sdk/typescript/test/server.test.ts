// The SDK against a real `warden server` (started here: see harness.ts).

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { Command, Sandbox, Snapshot, WardenError, type ConnectionOptions } from "../src/index.js";
import { randomToken, Recorder, sleep, startServer, wardenBin, type RunningServer } from "./harness.js";

const bin = wardenBin();
let srv: RunningServer;
let conn: ConnectionOptions;
let shared: Sandbox;
const made: Sandbox[] = [];

async function create(params: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const sb = await Sandbox.create(params, conn);
  made.push(sb);
  return sb;
}

/** Runs `fn`. Every route is implemented now: a 501 fails the test like any other error. */
async function orTodo(_t: TestContext, fn: () => Promise<void>): Promise<void> {
  await fn();
}

/** GET through the routed URL by host, with Host set by hand (Node cannot resolve *.localhost everywhere). */
function getByHost(hostUrl: string, path: string, serverPort: number): Promise<{ status: number; body: string }> {
  const host = new URL(hostUrl).host;
  return new Promise((ok, fail) => {
    const req = httpRequest({ host: "127.0.0.1", port: serverPort, path, headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: any) => (body += c));
      res.on("end", () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

describe("against a real warden server", { skip: bin ? false : "no warden binary: set WARDEN_BIN" }, () => {
  before(async () => {
    srv = await startServer();
    conn = { url: srv.url, token: srv.token };
    shared = await create({ env: { FROM_CREATE: "yes" } });
  }, { timeout: 60_000 });

  after(async () => {
    if (!srv) return;
    for (const sb of await Sandbox.list(conn).catch(() => [])) await sb.destroy().catch(() => {});
    for (const s of await Snapshot.list(conn).catch(() => [])) await s.delete().catch(() => {});
    await srv.stop();
  }, { timeout: 60_000 });

  test("create, get, list and destroy a sandbox", async () => {
    const sb = await create({ name: "sdk-lifecycle", timeout: 600_000, resources: { vcpus: 1, memory: 512, pids: 256 } });
    assert.match(sb.sandboxId, /^sb-/);
    assert.equal(sb.status, "running");
    assert.equal(sb.name, "sdk-lifecycle");
    assert.ok(sb.timeoutAt, "a deadline");
    assert.ok(Math.abs(sb.timeoutAt.getTime() - sb.createdAt.getTime() - 600_000) < 2000, "timeout is in milliseconds");
    assert.deepEqual(sb.info.resources, { vcpus: 1, memory: 512, pids: 256 });
    const again = await Sandbox.get(sb.sandboxId, conn);
    assert.equal(again.sandboxId, sb.sandboxId);
    assert.ok((await Sandbox.list(conn)).some((s) => s.sandboxId === sb.sandboxId));
    await sb.destroy();
    await assert.rejects(Sandbox.get(sb.sandboxId, conn), (e: unknown) => e instanceof WardenError && e.status === 404);
  });

  test("runCommand waits and captures stdout, stderr and the exit code", async () => {
    const done = await shared.runCommand("bash", ["-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(done.exitCode, 3);
    assert.equal(await done.stdout(), "out\n");
    assert.equal(await done.stderr(), "err\n");
    assert.match(done.cmdId, /^cmd-/);
  });

  test("runCommand passes cwd, env and stdin; create's env reaches commands", async () => {
    const done = await shared.runCommand({
      cmd: "bash",
      args: ["-c", 'pwd; echo "$FOO $FROM_CREATE"; cat'],
      cwd: "/home/sandbox",
      env: { FOO: "bar" },
      stdin: "piped",
    });
    assert.equal(done.exitCode, 0);
    assert.equal(await done.stdout(), "/home/sandbox\nbar yes\npiped");
  });

  test("runCommand streams output to the writables as it arrives", async () => {
    const out = new Recorder();
    const err = new Recorder();
    const started = Date.now();
    const done = await shared.runCommand({
      cmd: "bash",
      args: ["-c", "echo one; sleep 1; echo two >&2; sleep 1; echo three"],
      stdout: out,
      stderr: err,
    });
    const ended = Date.now();
    assert.equal(done.exitCode, 0);
    assert.equal(out.text(), "one\nthree\n");
    assert.equal(err.text(), "two\n");
    assert.ok(out.chunks[0]!.at - started < 1500, "the first line arrived before the command ended");
    assert.ok(ended - out.chunks[0]!.at >= 1500, "the first line arrived about 2 s before the end");
  });

  test("non-UTF-8 output arrives as the same bytes", async () => {
    const out = new Recorder();
    const done = await shared.runCommand({ cmd: "printf", args: ["\\377\\376ok"], stdout: out });
    assert.equal(done.exitCode, 0);
    assert.deepEqual(Array.from(out.bytes()), [0xff, 0xfe, 0x6f, 0x6b]);
  });

  test("aborting runCommand rejects and the server kills the command", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 700);
    await assert.rejects(
      shared.runCommand({ cmd: "bash", args: ["-c", "sleep 2; echo survived > /workspace/abort-marker"], signal: ac.signal }),
      (e: any) => e?.name === "AbortError",
    );
    await sleep(3000);
    assert.equal(await shared.readFile("/workspace/abort-marker"), null, "the command was killed with the request");
  });

  test("a command that cannot start throws a WardenError with the reason", async () => {
    const err = await shared.runCommand("no-such-command-here").catch((e: unknown) => e);
    assert.ok(err instanceof WardenError, String(err));
    assert.match(err.detail ?? "", /no-such-command-here/);
    const cwd = await shared.runCommand({ cmd: "true", cwd: "/workspace/no/such/dir" }).catch((e: unknown) => e);
    // The JSON form answers 400; the streamed form may have started: then an `error` event.
    assert.ok(cwd instanceof WardenError, String(cwd));
    assert.match(cwd.detail ?? "", /\/workspace\/no\/such\/dir/);
  });

  test("a command's timeout ends it", async () => {
    const started = Date.now();
    const done = await shared.runCommand({ cmd: "sleep", args: ["30"], timeout: 1000 });
    assert.notEqual(done.exitCode, 0);
    assert.ok(Date.now() - started < 15_000);
  });

  test("detached command: logs, wait, output, list", async (t) => {
    await orTodo(t, async () => {
      const cmd = await shared.runCommand({ cmd: "bash", args: ["-c", "echo start; sleep 1; echo end >&2; exit 3"], detached: true });
      assert.ok(cmd instanceof Command);
      assert.match(cmd.cmdId, /^cmd-/);
      const lines: string[] = [];
      for await (const l of cmd.logs()) lines.push(`${l.stream}:${l.data}`);
      assert.deepEqual(lines.join(""), "stdout:start\nstderr:end\n");
      const done = await cmd.wait();
      assert.equal(done.exitCode, 3);
      assert.equal(done.status, "exited");
      assert.equal(await done.stdout(), "start\n");
      assert.equal(await done.stderr(), "end\n");
      const listed = await shared.listCommands();
      assert.ok(listed.some((c) => c.cmdId === cmd.cmdId));
      assert.equal((await shared.getCommand(cmd.cmdId)).exitCode, 3);
    });
  });

  test("detached command: kill", async (t) => {
    await orTodo(t, async () => {
      const cmd = await shared.runCommand({ cmd: "sleep", args: ["60"], detached: true });
      assert.equal(cmd.exitCode, null);
      const started = Date.now();
      await cmd.kill("SIGTERM");
      const done = await cmd.wait();
      assert.equal(done.status, "killed");
      assert.ok(Date.now() - started < 10_000);
    });
  });

  test("writeFiles, readFile, readFileStream; a missing file reads as null", async () => {
    await shared.writeFiles([
      { path: "/workspace/dir/a.txt", content: "héllo\n" },
      { path: "/home/sandbox/bin.dat", content: new Uint8Array([0, 1, 2, 255]) },
      { path: "/workspace/run.sh", content: "#!/bin/sh\necho ran\n", mode: 0o755 },
      { path: "rel.txt", content: "relative" },
    ]);
    assert.equal(new TextDecoder().decode((await shared.readFile("/workspace/dir/a.txt"))!), "héllo\n");
    assert.deepEqual(Array.from((await shared.readFile({ path: "/home/sandbox/bin.dat" }))!), [0, 1, 2, 255]);
    assert.equal(await shared.readFileText("/workspace/rel.txt"), "relative");
    const stream = await shared.readFileStream("/workspace/dir/a.txt");
    assert.ok(stream);
    const reader = stream.getReader();
    let n = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) n += r.value.length;
    assert.equal(n, 7);
    assert.equal(await shared.readFile("/workspace/nope.txt"), null);
    const gone = await Sandbox.get(shared.sandboxId, conn);
    const ghost = new (Sandbox as any)(gone.client, { ...gone.info, id: "sb-doesnotexist" }) as Sandbox; // a handle on a sandbox that is not there
    await assert.rejects(ghost.readFile("/workspace/nope.txt"), (e: unknown) => e instanceof WardenError && e.status === 404);
    const ran = await shared.runCommand("/workspace/run.sh");
    assert.equal(await ran.stdout(), "ran\n");
    const seen = await shared.runCommand("cat", ["/workspace/dir/a.txt"]);
    assert.equal(await seen.stdout(), "héllo\n");
  });

  test("a large binary file round-trips", async () => {
    const big = new Uint8Array(5 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i += 65536) big.set(crypto.getRandomValues(new Uint8Array(Math.min(65536, big.length - i))), i);
    await shared.writeFiles([{ path: "/home/sandbox/big.bin", content: big }]);
    const back = await shared.readFile("/home/sandbox/big.bin");
    assert.ok(back);
    assert.equal(back.length, big.length);
    assert.ok(back.every((b, i) => b === big[i]), "same bytes");
    const size = await shared.runCommand("stat", ["-c", "%s", "/home/sandbox/big.bin"]);
    assert.equal((await size.stdout()).trim(), String(big.length));
  });

  test("a directory source is copied into /workspace without .env files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "warden-sdk-src-"));
    try {
      await writeFile(join(dir, "app.txt"), "from the host\n");
      await writeFile(join(dir, ".env"), "SECRET=1\n");
      const sb = await create({ source: { type: "directory", path: dir } });
      assert.equal(await sb.readFileText("/workspace/app.txt"), "from the host\n");
      assert.equal(await sb.readFile("/workspace/.env"), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("mkDir and listDir", async () => {
    await shared.mkDir("/workspace/m");
    await shared.mkDir("/workspace/p/q/r", { parents: true });
    await assert.rejects(shared.mkDir("/workspace/x/y"), (e: unknown) => e instanceof WardenError && e.status >= 400 && e.status < 500);
    await shared.writeFiles([{ path: "/workspace/m/f.txt", content: "abc" }]);
    const entries = await shared.listDir("/workspace/m");
    assert.deepEqual(entries, [{ name: "f.txt", type: "file", size: 3 }]);
    const top = await shared.listDir("/workspace");
    assert.ok(top.some((e) => e.name === "p" && e.type === "directory"));
    assert.ok((await shared.listDir("/workspace/p/q")).some((e) => e.name === "r"));
  });

  test("paths outside /workspace and /home/sandbox are refused with 400", async () => {
    for (const p of ["/etc/passwd", "/workspace/../etc/passwd"]) {
      await assert.rejects(shared.readFile(p), (e: unknown) => e instanceof WardenError && e.status === 400 && e.slug === "invalid-request", p);
    }
    await assert.rejects(
      shared.writeFiles([{ path: "/tmp/x", content: "x" }]),
      (e: unknown) => e instanceof WardenError && e.status === 400,
    );
  });

  test("snapshot, create from the snapshot, Snapshot.get/list/delete", async () => {
    const sb = await create();
    await sb.writeFiles([{ path: "/workspace/kept.txt", content: "from the snapshot" }]);
    await sb.runCommand("bash", ["-c", "mkdir -p /home/sandbox/.local/bin && echo tool > /home/sandbox/.local/bin/t"]);
    const snap = await sb.snapshot();
    assert.match(snap.snapshotId, /^snap-/);
    assert.equal(snap.sourceSandboxId, sb.sandboxId);
    assert.ok(snap.files >= 2);
    assert.equal(sb.status, "running");
    assert.equal((await Snapshot.get(snap.snapshotId, conn)).snapshotId, snap.snapshotId);
    assert.ok((await Snapshot.list(conn)).some((s) => s.snapshotId === snap.snapshotId));
    const child = await create({ source: { type: "snapshot", snapshotId: snap.snapshotId } });
    assert.equal(await child.readFileText("/workspace/kept.txt"), "from the snapshot");
    assert.equal(await (await child.runCommand("cat", ["/home/sandbox/.local/bin/t"])).stdout(), "tool\n");
    await snap.delete();
    await assert.rejects(Snapshot.get(snap.snapshotId, conn), (e: unknown) => e instanceof WardenError && e.status === 404);
    assert.equal(await child.readFileText("/workspace/kept.txt"), "from the snapshot", "a sandbox outlives its snapshot");
  });

  test("domain(port) reaches an HTTP server inside, by host and by path", async () => {
    const sb = await create({ ports: [8000] });
    await sb.writeFiles([{ path: "/workspace/site/hello.txt", content: "hello from inside" }]);
    const hostUrl = sb.domain(8000);
    const pathUrl = sb.domain(8000, { form: "path" });
    assert.match(hostUrl, new RegExp(`^http://8000-${sb.sandboxId}\\.localhost:\\d+$`));
    assert.ok(pathUrl.endsWith(`/v1/ports/${sb.sandboxId}/8000`), pathUrl);
    // Not detached on purpose: the abort at the end ends the server.
    const ac = new AbortController();
    const serving = sb
      .runCommand({ cmd: "python3", args: ["-m", "http.server", "8000", "--bind", "127.0.0.1"], cwd: "/workspace/site", signal: ac.signal })
      .catch((e: unknown) => e);
    try {
      let res: Response | undefined;
      for (let i = 0; i < 100; i++) {
        res = await fetch(`${pathUrl}/hello.txt`).catch(() => undefined);
        if (res?.status === 200) break;
        await sleep(100);
      }
      assert.equal(res?.status, 200);
      assert.equal(await res!.text(), "hello from inside");
      const byHost = await getByHost(hostUrl, "/hello.txt", srv.port);
      assert.equal(byHost.status, 200);
      assert.equal(byHost.body, "hello from inside");
      const noAuth = await fetch(`${pathUrl}/hello.txt`, { headers: {} });
      assert.equal(noAuth.status, 200, "routed ports are not behind the bearer token");
    } finally {
      ac.abort();
      await serving;
    }
  });

  test("network policy: an allow-list at create, a refused host from inside, live changes", async () => {
    const sb = await create({ networkPolicy: { allow: ["registry.npmjs.org", "*.example.org"] } });
    assert.equal(sb.networkPolicy.mode, "allow-list");
    assert.deepEqual([...sb.networkPolicy.allow].sort(), ["*.example.org", "registry.npmjs.org"]);
    assert.deepEqual(sb.networkPolicy.transforms, {});
    const blocked = await sb.runCommand("curl", ["-sS", "--max-time", "5", "-o", "/dev/null", "https://example.com"]);
    assert.notEqual(blocked.exitCode, 0, "a host outside the allow-list is refused");
    assert.match(await blocked.stderr(), /403|denied|CONNECT/i);
    const view = await sb.updateNetworkPolicy({ allow: ["api.example.org"] });
    assert.deepEqual(view, { mode: "allow-list", allow: ["api.example.org"], deny: [], transforms: {} });
    assert.deepEqual(sb.networkPolicy, view);
    assert.deepEqual((await Sandbox.get(sb.sandboxId, conn)).networkPolicy, view);
    assert.equal((await sb.updateNetworkPolicy("deny-all")).mode, "deny-all");
    assert.equal((await sb.updateNetworkPolicy("allow-all")).mode, "allow-all");
    await assert.rejects(
      sb.updateNetworkPolicy({ allow: ["not a host!"] }),
      (e: unknown) => e instanceof WardenError && e.status === 400,
    );
  });

  test("network policy: a deny list", async (t) => {
    await orTodo(t, async () => {
      const sb = await create({ networkPolicy: { allow: ["*.example.org"], deny: ["bad.example.org"] } });
      assert.deepEqual(sb.networkPolicy.deny, ["bad.example.org"]);
      const view = await sb.updateNetworkPolicy({ allow: ["*.example.org"], deny: ["worse.example.org"] });
      assert.deepEqual(view.deny, ["worse.example.org"]);
    });
  });

  test("network policy: a header transform applied live is reported by name only", async (t) => {
    await orTodo(t, async () => {
      const sb = await create({ networkPolicy: { allow: ["registry.npmjs.org"] } });
      const secret = "sk-test-SECRET-value-never-returned-0123456789";
      const view = await sb.updateNetworkPolicy({
        allow: { "api.example.org": [{ transform: [{ headers: { "x-api-key": secret } }] }], "registry.npmjs.org": [] },
      });
      assert.equal(view.mode, "allow-list");
      assert.deepEqual(view.transforms, { "api.example.org": ["x-api-key"] });
      assert.deepEqual([...view.allow].sort(), ["api.example.org", "registry.npmjs.org"]);
      const fetched = await Sandbox.get(sb.sandboxId, conn);
      assert.ok(!JSON.stringify(fetched.info).includes(secret));
      assert.ok(!JSON.stringify(view).includes(secret));
      const env = await sb.runCommand("env");
      assert.ok(!(await env.stdout()).includes(secret), "the value never enters the sandbox");
    });
  });

  test("a header transform given at create is reported by name", async (t) => {
    await orTodo(t, async () => {
      const sb = await create({
        networkPolicy: { allow: { "api.example.org": [{ transform: [{ headers: { authorization: "Bearer sk-create-secret-123456" } }] }] } },
      });
      assert.deepEqual(sb.networkPolicy.transforms, { "api.example.org": ["authorization"] });
      assert.ok(!JSON.stringify(sb.info).includes("sk-create-secret"));
    });
  });

  test("every route and field the SDK uses is in the server's /openapi.json", async () => {
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.match(doc.openapi, /^3\.1/);
    const used: [string, string][] = [
      ["post", "/v1/sandboxes"], ["get", "/v1/sandboxes"], ["get", "/v1/sandboxes/{id}"], ["delete", "/v1/sandboxes/{id}"],
      ["post", "/v1/sandboxes/{id}/stop"], ["post", "/v1/sandboxes/{id}/extend-timeout"], ["put", "/v1/sandboxes/{id}/network-policy"],
      ["post", "/v1/sandboxes/{id}/commands"], ["get", "/v1/sandboxes/{id}/commands"], ["get", "/v1/sandboxes/{id}/commands/{cmdId}"],
      ["get", "/v1/sandboxes/{id}/commands/{cmdId}/logs"], ["post", "/v1/sandboxes/{id}/commands/{cmdId}/kill"],
      ["post", "/v1/sandboxes/{id}/files"], ["get", "/v1/sandboxes/{id}/files"], ["post", "/v1/sandboxes/{id}/directories"],
      ["get", "/v1/sandboxes/{id}/directories"], ["post", "/v1/sandboxes/{id}/snapshot"], ["get", "/v1/snapshots"],
      ["get", "/v1/snapshots/{id}"], ["delete", "/v1/snapshots/{id}"],
    ];
    const missing = used.filter(([m, p]) => !doc.paths[p]?.[m]).map(([m, p]) => `${m.toUpperCase()} ${p}`);
    assert.deepEqual(missing, []);
    // The fields src/types.ts reads and sends, schema by schema.
    const fields: Record<string, string[]> = {
      Sandbox: ["createdAt", "id", "name", "networkPolicy", "ports", "resources", "source", "status", "timeoutAt"],
      PortView: ["pathUrl", "port", "url"],
      NetworkPolicyView: ["allow", "deny", "mode", "transforms"],
      Snapshot: ["bytes", "createdAt", "files", "snapshotId", "sourceSandboxId"],
      Command: ["args", "cmd", "cmdId", "cwd", "exitCode", "startedAt", "status"],
      CommandResult: ["cmdId", "exitCode", "stderr", "stdout", "truncated"],
      Entry: ["name", "size", "type"],
      CreateSandbox: ["env", "name", "networkPolicy", "ports", "resources", "source", "timeout"],
      RunCommand: ["args", "cmd", "cwd", "detached", "env", "stdin", "timeout"],
      FileWrite: ["content", "mode", "path"],
      Problem: ["detail", "status", "title", "type"],
    };
    const schemas = (doc as unknown as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } })
      .components.schemas;
    for (const [name, want] of Object.entries(fields)) {
      assert.deepEqual(Object.keys(schemas[name]?.properties ?? {}).sort(), want, `schema ${name}`);
    }
  });

  test("errors: 404 problem, 401 without leaking the token, 400 on a bad field", async () => {
    const e404 = await Sandbox.get("sb-doesnotexist", conn).catch((e: unknown) => e);
    assert.ok(e404 instanceof WardenError);
    assert.equal(e404.status, 404);
    assert.equal(e404.type, "https://warden.dev/problems/not-found");
    assert.ok(e404.title);

    const wrong = "wst_wrong_token_0123456789_must_not_leak";
    const e401 = await Sandbox.list({ url: conn.url!, token: wrong }).catch((e: unknown) => e);
    assert.ok(e401 instanceof WardenError);
    assert.equal(e401.status, 401);
    assert.equal(e401.slug, "unauthorized");
    assert.ok(!`${e401.message} ${JSON.stringify(e401)}`.includes(wrong));
    const none = await Sandbox.list({ url: conn.url!, token: "" }).catch((e: unknown) => e);
    assert.ok(none instanceof WardenError && none.status === 401);

    const e400 = await Sandbox.create({ resources: { vcpus: -1 } }, conn).catch((e: unknown) => e);
    assert.ok(e400 instanceof WardenError);
    assert.equal(e400.status, 400);
    assert.equal(e400.slug, "invalid-request");

    const gone = await create();
    await gone.destroy();
    await assert.rejects(gone.runCommand("true"), (e: unknown) => e instanceof WardenError && e.status === 404);
  });

  test("extendTimeout and stop (files kept, commands refused)", async (t) => {
    await orTodo(t, async () => {
      const sb = await create({ timeout: 120_000 });
      const before = sb.timeoutAt!.getTime();
      await sb.extendTimeout(600_000);
      assert.ok(sb.timeoutAt!.getTime() >= before + 590_000, "timeoutAt moved by about the duration");
      await sb.writeFiles([{ path: "/workspace/stays.txt", content: "kept" }]);
      await sb.stop();
      assert.equal(sb.status, "stopped");
      assert.equal(await sb.readFileText("/workspace/stays.txt"), "kept");
      await assert.rejects(sb.runCommand("true"), (e: unknown) => e instanceof WardenError && e.status === 409);
      const snap = await sb.snapshot();
      assert.match(snap.snapshotId, /^snap-/);
    });
  });

  test("git source clones into /workspace", { skip: process.env.WARDEN_TEST_GIT_URL ? false : "set WARDEN_TEST_GIT_URL (needs the network)" }, async (t) => {
    await orTodo(t, async () => {
      const url = process.env.WARDEN_TEST_GIT_URL!;
      const sb = await create({ source: { type: "git", url, depth: 1 } });
      const ls = await sb.runCommand("git", ["-C", "/workspace", "rev-parse", "HEAD"]);
      assert.equal(ls.exitCode, 0);
    });
  });
});

describe("two tenants on one server", { skip: bin ? false : "no warden binary: set WARDEN_BIN" }, () => {
  const a = { tenant: "acme", token: randomToken() };
  const b = { tenant: "globex", token: randomToken() };
  let two: RunningServer;

  before(async () => {
    two = await startServer({}, [a, b]);
  }, { timeout: 60_000 });

  after(async () => {
    for (const who of [a, b]) {
      const c = { url: two.url, token: who.token };
      for (const sb of await Sandbox.list(c).catch(() => [])) await sb.destroy().catch(() => {});
      for (const s of await Snapshot.list(c).catch(() => [])) await s.delete().catch(() => {});
    }
    await two?.stop();
  }, { timeout: 60_000 });

  test("another tenant's sandbox and snapshot answer 404, as if they did not exist", async () => {
    const ca = { url: two.url, token: a.token };
    const cb = { url: two.url, token: b.token };
    const sb = await Sandbox.create({}, ca);
    const snap = await sb.snapshot();
    assert.deepEqual((await Sandbox.list(cb)).map((s) => s.sandboxId), []);
    assert.deepEqual((await Snapshot.list(cb)).map((s) => s.snapshotId), []);
    // Each attempt starts only when awaited: a rejection must never go unhandled meanwhile.
    for (const attempt of [
      () => Sandbox.get(sb.sandboxId, cb),
      () => Snapshot.get(snap.snapshotId, cb),
      () => Sandbox.create({ source: { type: "snapshot", snapshotId: snap.snapshotId } }, cb),
    ]) {
      await assert.rejects(attempt, (e: unknown) => e instanceof WardenError && e.status === 404 && e.slug === "not-found");
    }
    assert.ok((await Sandbox.list(ca)).some((s) => s.sandboxId === sb.sandboxId));
  });
});
