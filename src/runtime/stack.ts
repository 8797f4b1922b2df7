// Stack traces for task logs: operators need them, but every VIEWER can read logs, so file paths
// are made relative to the project root (and to the working directory of an embedding program).
import { realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const PROJECT_ROOT = resolve(import.meta.dirname, "../..");

/** The project root, and where its node_modules really is when that is a link (frames show real paths). */
function projectRoots(): string[] {
  try {
    return [PROJECT_ROOT, dirname(realpathSync(join(PROJECT_ROOT, "node_modules")))];
  } catch {
    return [PROJECT_ROOT];
  }
}
const ROOTS = projectRoots();

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The stack with `file://<root>/` and `<root>/` removed from its paths. */
export function relativeStack(stack: string, roots: string[] = [...ROOTS, process.cwd()]): string {
  let result = stack;
  for (const root of [...new Set(roots)].sort((a, b) => b.length - a.length)) {
    if (root === "/" || root === "") continue;
    result = result.replace(new RegExp(`(file://)?${escape(root)}/`, "g"), "");
  }
  return result;
}
