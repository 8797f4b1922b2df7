// npm run bench — runs the benchmarks and prints their tables. (Peers and the remaining
// benchmarks of DESIGN §6 come with the performance issue.)
import { spawnSync } from "node:child_process";

const which = process.argv[2] ?? "throughput";
const script = new URL(`./${which}.ts`, import.meta.url).pathname;
const result = spawnSync(process.execPath, ["--import", "tsx", script, ...process.argv.slice(3)], { stdio: "inherit" });
process.exit(result.status ?? 1);
