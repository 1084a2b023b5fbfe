// Running OpenCode securely in a Warden sandbox.
//
// This is Vercel's guide "Running OpenCode securely with the Vercel Sandbox", step by
// step, against `warden server` instead: the import and the connection options change,
// the rest reads the same. Run it from sdk/typescript with
//
//   WARDEN_SERVER_URL=http://127.0.0.1:7070 WARDEN_SERVER_TOKEN=… \
//   MODEL_API_KEY=sk-ant-… npm run example
//
// Knobs (environment):
//   WARDEN_SERVER_URL, WARDEN_SERVER_TOKEN   where `warden server` listens, and its token
//   MODEL_PROVIDER      "anthropic" (default) or "openai-compatible"
//   MODEL_BASE_URL      the provider's API base (default https://api.anthropic.com/v1;
//                       required for openai-compatible, e.g. https://llm.example.com/v1)
//   MODEL_HOST          the host egress is locked to (default: MODEL_BASE_URL's host)
//   MODEL_ID            the model (default claude-sonnet-4-5)
//   MODEL_API_KEY       the key; it never enters a sandbox: the egress proxy adds it
//   OPENCODE_VERSION    the opencode-ai npm version (default latest)
//   BLOCKED_URL         a URL that must be refused once egress is locked (default https://example.com)
//   PROMPT              what to ask (default: a one-line hello)
//   PORT_URL_FORM       "host" or "path": which routed URL to call (default: host when this
//                       machine resolves *.localhost, else path; see routedUrl() below)
//
// Standard output is JSON lines only (a {"step": …} line per step, then one
// {"result": …} line), so a test can assert on it; logs and command output go to stderr.

import { Sandbox, Snapshot, type NetworkPolicy } from "@warden/sandbox";

const env = process.env;
const OPENCODE_PORT = 4096;
// NPM_CONFIG_PREFIX=/home/sandbox/.local in every sandbox: `npm install -g` lands here.
const OPENCODE_BIN = "/home/sandbox/.local/bin/opencode";

const MODEL_PROVIDER = env.MODEL_PROVIDER ?? "anthropic";
if (MODEL_PROVIDER !== "anthropic" && MODEL_PROVIDER !== "openai-compatible") {
  throw new Error(`MODEL_PROVIDER must be anthropic or openai-compatible, not ${MODEL_PROVIDER}`);
}
const MODEL_BASE_URL =
  env.MODEL_BASE_URL ?? (MODEL_PROVIDER === "anthropic" ? "https://api.anthropic.com/v1" : undefined);
if (!MODEL_BASE_URL) throw new Error("set MODEL_BASE_URL for an openai-compatible provider");
const MODEL_HOST = env.MODEL_HOST ?? new URL(MODEL_BASE_URL).hostname;
const MODEL_ID = env.MODEL_ID ?? "claude-sonnet-4-5";
const MODEL_API_KEY = env.MODEL_API_KEY;
if (!MODEL_API_KEY) throw new Error("set MODEL_API_KEY (it stays outside the sandbox)");
const OPENCODE_VERSION = env.OPENCODE_VERSION ?? "latest";
const BLOCKED_URL = env.BLOCKED_URL ?? "https://example.com";
const PROMPT = env.PROMPT ?? "Say hello in one short sentence.";
const PORT_URL_FORM = env.PORT_URL_FORM === "host" || env.PORT_URL_FORM === "path" ? env.PORT_URL_FORM : undefined;

// OpenCode's provider id: its built-in "anthropic", or our own openai-compatible entry.
const PROVIDER_ID = MODEL_PROVIDER === "anthropic" ? "anthropic" : "model";
// The header the provider authenticates with, which the egress proxy will set.
const KEY_HEADER: Record<string, string> =
  MODEL_PROVIDER === "anthropic" ? { "x-api-key": MODEL_API_KEY } : { authorization: `Bearer ${MODEL_API_KEY}` };

// OpenCode without the network it would try on its own (research/opencode.md): no model
// catalogue, no plugin install, no update check, no helper library, no sharing.
const OPENCODE_ENV = {
  OPENCODE_DISABLE_MODELS_FETCH: "1",
  OPENCODE_DISABLE_AUTOUPDATE: "1",
  OPENCODE_DISABLE_FFF: "1",
  OPENCODE_DISABLE_SHARE: "1",
  npm_config_registry: "http://127.0.0.1:9/",
};

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

const started = Date.now();

function step(name: string, fields: Record<string, unknown> = {}) {
  process.stdout.write(JSON.stringify({ step: name, ms: Date.now() - started, ...fields }) + "\n");
}

function log(...parts: unknown[]) {
  process.stderr.write(parts.map(String).join(" ") + "\n");
}

/** The egress policy: only the model host, with the key added on the way out. */
const lockedPolicy: NetworkPolicy = {
  allow: { [MODEL_HOST]: [{ transform: [{ headers: KEY_HEADER }] }] },
};

/**
 * domain() gives the URL routed to a port. The host form (http://4096-sb-….localhost:7070)
 * is what a browser or `opencode attach` uses; Node's fetch cannot resolve *.localhost on
 * every system (no systemd-resolved), and then the path form
 * (http://127.0.0.1:7070/v1/ports/sb-…/4096) does the same job.
 */
async function routedUrl(sandbox: Sandbox, port: number): Promise<string> {
  if (PORT_URL_FORM) return sandbox.domain(port, { form: PORT_URL_FORM });
  const byHost = sandbox.domain(port);
  try {
    const res = await fetch(byHost, { method: "HEAD" }); // any answer will do: the name resolved
    await res.body?.cancel();
    return byHost;
  } catch {
    return sandbox.domain(port, { form: "path" });
  }
}

/** Starts `opencode serve` detached and waits until it answers through the routed URL. */
async function startOpenCode(sandbox: Sandbox, password: string) {
  const serve = await sandbox.runCommand({
    cmd: OPENCODE_BIN,
    args: ["serve", "--hostname", "0.0.0.0", "--port", String(OPENCODE_PORT)],
    env: { ...OPENCODE_ENV, OPENCODE_SERVER_PASSWORD: password },
    detached: true,
  });
  // Instead of the guide's fixed sleep(8000): follow the server's output until it says it
  // listens (a request sent earlier, during its first database migration, can hang).
  const ready = AbortSignal.timeout(120_000);
  let said = "";
  try {
    for await (const line of serve.logs({ signal: ready })) {
      process.stderr.write(line.data);
      said += line.data;
      if (said.includes("opencode server listening")) break;
    }
  } catch (e) {
    if (!ready.aborted) throw e;
  }
  if (!said.includes("opencode server listening")) {
    throw new Error(`opencode serve did not start listening:\n${said}`);
  }

  // Then check it is healthy through the routed URL, with the password.
  const publicUrl = await routedUrl(sandbox, OPENCODE_PORT);
  const auth = btoa(`opencode:${password}`);
  for (let i = 0; ; i++) {
    const res = await fetch(`${publicUrl}/global/health`, {
      headers: { Authorization: `Basic ${auth}` },
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined);
    if (res?.ok) {
      const health = (await res.json()) as { healthy: boolean; version: string };
      log("health:", JSON.stringify(health));
      return { serve, publicUrl, auth, health };
    }
    await res?.body?.cancel();
    if (i >= 60) throw new Error(`opencode serve is not healthy at ${publicUrl} (last status ${res?.status})`);
    await sleep(500);
  }
}

const made: Sandbox[] = [];
let snapshot: Snapshot | undefined;
const result: Record<string, unknown> = { ok: false };

try {
  // 1. A fresh sandbox: port 4096 published, the npm registry reachable for the install.
  const sandbox = await Sandbox.create({
    timeout: 60 * 60 * 1000, // 1 hour
    ports: [OPENCODE_PORT],
    resources: { vcpus: 1, memory: 2048 },
    networkPolicy: { allow: ["registry.npmjs.org"] },
  });
  made.push(sandbox);
  step("create", { sandboxId: sandbox.sandboxId });
  log("Sandbox ID:", sandbox.sandboxId);

  // 2. Install OpenCode from npm, streaming the output here.
  const install = await sandbox.runCommand({
    cmd: "npm",
    args: ["install", "-g", `opencode-ai@${OPENCODE_VERSION}`],
    stdout: process.stderr,
    stderr: process.stderr,
  });
  if (install.exitCode !== 0) throw new Error(`Install failed (exit ${install.exitCode})`);
  step("install", { exitCode: install.exitCode });

  const version = await sandbox.runCommand(OPENCODE_BIN, ["--version"]);
  const opencodeVersion = (await version.stdout()).trim();
  if (version.exitCode !== 0) throw new Error(`opencode --version failed: ${await version.stderr()}`);
  step("version", { opencodeVersion });
  log("OpenCode version:", opencodeVersion);

  // 3. The config: the provider and model, and no key. The placeholder only makes the
  //    provider send its auth header; the egress proxy replaces the value outside.
  const provider =
    MODEL_PROVIDER === "anthropic"
      ? { anthropic: { options: { baseURL: MODEL_BASE_URL, apiKey: "injected-by-warden" } } }
      : {
          [PROVIDER_ID]: {
            npm: "@ai-sdk/openai-compatible",
            name: "Model",
            options: { baseURL: MODEL_BASE_URL, apiKey: "injected-by-warden" },
            models: { [MODEL_ID]: { name: MODEL_ID } },
          },
        };
  const opencodeConfig = JSON.stringify(
    {
      $schema: "https://opencode.ai/config.json",
      autoupdate: false,
      share: "disabled",
      enabled_providers: [PROVIDER_ID],
      provider,
      model: `${PROVIDER_ID}/${MODEL_ID}`,
      small_model: `${PROVIDER_ID}/${MODEL_ID}`,
    },
    null,
    2,
  );
  await sandbox.writeFiles([{ path: "/home/sandbox/.config/opencode/opencode.json", content: opencodeConfig }]);
  const written = await sandbox.readFileText("/home/sandbox/.config/opencode/opencode.json");
  step("config", { keyInConfig: written?.includes(MODEL_API_KEY) ?? false });

  // 4. Start the OpenCode server with a password, and check it refuses a client without it.
  const password = crypto.randomUUID();
  let oc = await startOpenCode(sandbox, password);
  const unauthorized = await fetch(`${oc.publicUrl}/global/health`);
  await unauthorized.body?.cancel();
  if (unauthorized.status !== 401) throw new Error(`expected 401 without the password, got ${unauthorized.status}`);
  step("serve", { publicUrl: oc.publicUrl, hostUrl: sandbox.domain(OPENCODE_PORT), unauthorizedStatus: 401, health: oc.health });

  // 5. The key step: egress locked to the model host, the key added by the proxy.
  const view = await sandbox.updateNetworkPolicy(lockedPolicy);
  step("lock", { policy: view }); // header names only: the key is never sent back

  // ...and verified from inside: another host is refused, the model host is reachable.
  const blocked = await sandbox.runCommand("curl", ["-sS", "--max-time", "5", "-o", "/dev/null", BLOCKED_URL]);
  if (blocked.exitCode === 0) throw new Error(`${BLOCKED_URL} was reachable from inside`);
  const allowed = await sandbox.runCommand("curl", ["-s", "-o", "/dev/null", "--max-time", "10", MODEL_BASE_URL]);
  const envInside = await sandbox.runCommand("env");
  step("egress", {
    blockedUrl: BLOCKED_URL,
    blockedExitCode: blocked.exitCode,
    allowedExitCode: allowed.exitCode,
    keyInSandboxEnv: (await envInside.stdout()).includes(MODEL_API_KEY),
  });

  // 6. Snapshot the installed state (OpenCode stopped first, so its database is at rest).
  await oc.serve.kill("SIGTERM");
  await oc.serve.wait();
  snapshot = await sandbox.snapshot();
  step("snapshot", { snapshotId: snapshot.snapshotId, files: snapshot.files, bytes: snapshot.sizeBytes });
  log("Snapshot ID:", snapshot.snapshotId);

  // 7. A new sandbox from the snapshot, with the locked policy (key transform included)
  //    applied from the start. OpenCode is already installed: only start the server.
  const second = await Sandbox.create({
    source: { type: "snapshot", snapshotId: snapshot.snapshotId },
    timeout: 60 * 60 * 1000,
    ports: [OPENCODE_PORT],
    resources: { vcpus: 2, memory: 2048 },
    networkPolicy: lockedPolicy,
  });
  made.push(second);
  step("create-from-snapshot", { sandboxId: second.sandboxId, policy: second.networkPolicy });
  oc = await startOpenCode(second, password);

  // 8. Drive OpenCode through its REST API, through the routed URL.
  const headers = { Authorization: `Basic ${oc.auth}`, "Content-Type": "application/json" };
  const session = (await fetch(`${oc.publicUrl}/session`, {
    method: "POST",
    headers,
    body: JSON.stringify({ title: "Warden session" }),
  }).then((r) => r.json())) as { id: string };
  step("session", { sessionId: session.id });

  const response = (await fetch(`${oc.publicUrl}/session/${session.id}/message`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      model: { providerID: PROVIDER_ID, modelID: MODEL_ID },
      parts: [{ type: "text", text: PROMPT }],
    }),
  }).then((r) => r.json())) as { parts?: { type: string; text?: string; content?: string }[]; info?: unknown };
  const text = (response.parts ?? [])
    .filter((p) => p.type === "text")
    .map((p) => p.content || p.text)
    .join("");
  log("Answer:", text);
  step("message", { answer: text });

  Object.assign(result, {
    ok: text.length > 0,
    sandboxIds: made.map((s) => s.sandboxId),
    snapshotId: snapshot.snapshotId,
    opencodeVersion,
    unauthorizedStatus: unauthorized.status,
    blockedExitCode: blocked.exitCode,
    allowedExitCode: allowed.exitCode,
    answer: text,
  });
  if (!text) result.error = `no text in OpenCode's answer: ${JSON.stringify(response).slice(0, 500)}`;
} catch (e) {
  result.error = e instanceof Error ? e.message : String(e);
  result.sandboxIds = made.map((s) => s.sandboxId);
  if (snapshot) result.snapshotId = snapshot.snapshotId;
  log("failed:", e instanceof Error && e.stack ? e.stack : e);
} finally {
  // 9. Clean up: both sandboxes and the snapshot.
  const cleanup: string[] = [];
  for (const s of made) {
    await s.destroy().then(
      () => cleanup.push(`destroyed ${s.sandboxId}`),
      (e: unknown) => cleanup.push(`destroy ${s.sandboxId} failed: ${String(e)}`),
    );
  }
  if (snapshot) {
    await snapshot.delete().then(
      () => cleanup.push(`deleted ${snapshot!.snapshotId}`),
      (e: unknown) => cleanup.push(`delete ${snapshot!.snapshotId} failed: ${String(e)}`),
    );
  }
  result.cleanup = cleanup;
  process.stdout.write(JSON.stringify({ result }) + "\n");
  process.exitCode = result.ok ? 0 : 1;
}
