// npm run token -- create <name> [--role VIEWER|TASK_MANAGER|ADMIN] | list | revoke <name>
// Token management on the server's own machine: how the first token is made (README: Security).
// Later tokens can also be made by an ADMIN through the createApiToken mutation.
import { parseArgs } from "node:util";
import { loadConfig } from "../config";
import { openDatabase } from "../db/client";
import { runningServerPid } from "../pid-file";
import { Store } from "../store";
import type { Role } from "../store/tokens";

const USAGE = "usage: npm run token -- create <name> [--role VIEWER|TASK_MANAGER|ADMIN] | list | revoke <name>";
const ROLES: readonly Role[] = ["VIEWER", "TASK_MANAGER", "ADMIN"];

async function main() {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { role: { type: "string", default: "ADMIN" } } });
  const [command, name] = positionals;
  const role = values.role!.toUpperCase() as Role;
  if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")}\n${USAGE}`);
  if ((command === "create" || command === "revoke") && !name) throw new Error(USAGE);
  if (command !== "create" && command !== "revoke" && command !== "list") throw new Error(USAGE);

  const config = loadConfig();
  const pid = runningServerPid(config.store);
  if (pid) {
    throw new Error(
      `taskgraph (pid ${pid}) is using the embedded store. Stop it first, or use the createApiToken mutation ` +
        `(GraphiQL at http://${config.host}:${config.port}/graphql) with an ADMIN token — or from this machine while no token exists.`,
    );
  }
  const db = await openDatabase(config.store);
  const store = new Store(db, config);
  try {
    if (command === "create") {
      const { token, secret } = await store.createApiToken({ name: name!, role, createdBy: "npm run token" });
      console.log(`Created token "${token.name}" (${token.role}). It is shown only now — store it safely:\n\n  ${secret}\n`);
      console.log(`Send it as: Authorization: Bearer ${secret.slice(0, 6)}…   (graphql-ws: connectionParams.authorization)`);
    } else if (command === "revoke") {
      const token = await store.revokeApiToken(name!);
      console.log(`Revoked "${token.name}" at ${token.revokedAt!.toISOString()}.`);
    } else {
      const tokens = await store.listApiTokens();
      if (tokens.length === 0) console.log("No tokens: protected mode (only clients on this machine are served, as ADMIN).");
      for (const t of tokens) {
        const state = t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : `last used ${t.lastUsedAt?.toISOString() ?? "never"}`;
        console.log(`${t.name}\t${t.role}\tcreated ${t.createdAt.toISOString()}\t${state}`);
      }
    }
  } finally {
    await db.close();
  }
}

main().then(
  () => process.exit(0), // PGlite can leave the event loop alive
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
