export { Sandbox, type WriteFile, type DomainOptions } from "./sandbox.js";
export { Command, CommandFinished, type RunCommandParams, type WritableLike, type LogLine } from "./command.js";
export { Snapshot } from "./snapshot.js";
export { WardenError, type Problem } from "./errors.js";
export { DEFAULT_URL, type ConnectionOptions } from "./client.js";
export type {
  Source,
  NetworkPolicy,
  NetworkPolicyView,
  NetworkRule,
  NetworkTransform,
  Resources,
  PortInfo,
  SandboxInfo,
  SandboxStatus,
  CreateSandboxParams,
  CommandInfo,
  CommandStatus,
  CommandEvent,
  DirEntry,
  SnapshotInfo,
} from "./types.js";
