// The embedded store (PGlite) is one process's files: a second process opening them while the
// server runs would corrupt them. The server writes <dataDir>/taskgraph.pid while it runs, and
// scripts that open the store (npm run token) refuse while that process is alive.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StoreConfig } from "./config";

const pidPath = (dataDir: string) => join(dataDir, "taskgraph.pid");

/** Records this process as the one using the embedded store; returns how to remove the record. */
export function writePidFile(store: StoreConfig): () => void {
  if (store.kind !== "pglite" || store.dataDir === ":memory:") return () => {};
  const path = pidPath(store.dataDir);
  writeFileSync(path, String(process.pid));
  return () => rmSync(path, { force: true });
}

/** The pid of a live process using the embedded store, if any. */
export function runningServerPid(store: StoreConfig): number | null {
  if (store.kind !== "pglite" || store.dataDir === ":memory:") return null;
  let pid: number;
  try {
    pid = Number(readFileSync(pidPath(store.dataDir), "utf8"));
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : null;
  }
}
