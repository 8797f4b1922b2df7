// Entry point of a benchmark child process (common.ts runInChild): calls one exported function
// of a bench module with JSON arguments, sends back its result, and exits.
const { module, fn, args } = JSON.parse(process.argv[2] ?? "{}") as { module: string; fn: string; args: unknown[] };

async function main() {
  const loaded = (await import(new URL(`./${module}`, import.meta.url).href)) as Record<string, unknown>;
  const target = loaded[fn];
  if (typeof target !== "function") throw new Error(`${module} has no exported function ${fn}`);
  return (await target(...args)) as unknown;
}

const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

main().then(
  async (result) => {
    await send({ ok: true, result });
    process.exit(0);
  },
  async (error: unknown) => {
    await send({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  },
);
