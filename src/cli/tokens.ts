// `taskgraph tokens create|list|revoke`: API tokens over the API (ADMIN). The first token is made
// on the server's machine with `npm run token`.
import { Command } from "commander";
import { parseChoice } from "./args";
import { action, type Context } from "./command";
import { API_TOKENS, CREATE_API_TOKEN, REVOKE_API_TOKEN, ROLES } from "./operations";
import { time } from "./output";

interface ApiToken {
  name: string;
  role: string;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

async function create(ctx: Context, name: string, o: { role: string }) {
  const { createApiToken: created } = await ctx.api.request<{ createApiToken: { secret: string; token: ApiToken } }>(CREATE_API_TOKEN, {
    name,
    role: o.role,
  });
  if (ctx.out.json) return ctx.out.printJson(created);
  // The secret alone on stdout, so that `taskgraph tokens create x > file` stores just it.
  ctx.out.print(created.secret);
  process.stderr.write(`Created token "${created.token.name}" (${created.token.role}); the secret above is shown only now.\n`);
}

async function list(ctx: Context) {
  const { apiTokens } = await ctx.api.request<{ apiTokens: ApiToken[] }>(API_TOKENS);
  if (ctx.out.json) return ctx.out.printJson(apiTokens);
  if (!apiTokens.length) return ctx.out.print("No tokens: protected mode (only clients on the server's machine are served, as ADMIN).");
  ctx.out.print(
    ctx.out.table(
      ["name", "role", "created", "created_by", "last_used", "revoked"],
      apiTokens.map((t) => [t.name, t.role, time(t.createdAt), t.createdBy ?? "", time(t.lastUsedAt), time(t.revokedAt)]),
    ),
  );
}

async function revoke(ctx: Context, name: string) {
  const { revokeApiToken: token } = await ctx.api.request<{ revokeApiToken: ApiToken }>(REVOKE_API_TOKEN, { name });
  if (ctx.out.json) return ctx.out.printJson(token);
  ctx.out.print(`Revoked "${token.name}" at ${time(token.revokedAt)}`);
}

export function tokensCommand(): Command {
  const tokens = new Command("tokens").description("API tokens (ADMIN); the first one: npm run token -- create <name> on the server's machine");
  tokens
    .command("create")
    .description("create a token; prints its secret once")
    .argument("<name>", "token name (recorded as createdBy on the tasks it starts)")
    .option("--role <role>", `one of ${ROLES.join(", ").toLowerCase()}`, parseChoice(ROLES), "VIEWER")
    .addHelpText("after", "\nExample:\n  $ taskgraph tokens create ci --role task_manager > ci.token\n  $ taskgraph --token-file ci.token tasks list")
    .action(action(create));
  tokens
    .command("list")
    .description("every token, revoked ones included")
    .addHelpText("after", "\nExample:\n  $ taskgraph tokens list")
    .action(action(list));
  tokens
    .command("revoke")
    .description("revoke a token at once")
    .argument("<name>", "token name")
    .addHelpText("after", "\nExample:\n  $ taskgraph tokens revoke ci")
    .action(action(revoke));
  return tokens;
}
