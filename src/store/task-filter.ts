// The API's TaskFilter → Prisma where. Validates first: a bad filter is BAD_USER_INPUT.
import { checkLabels } from "../domain/input";
import { badInput, checkText } from "../domain/errors";
import { isUuid, parseUuid } from "../domain/ids";
import { LIMITS } from "../domain/limits";
import type { TaskCategory, TaskState } from "../domain/states";
import { CATEGORY_STATES } from "../domain/states";
import type { Prisma } from "../generated/prisma/client";

export interface TaskFilter {
  module?: string | null;
  types?: readonly string[] | null;
  states?: readonly TaskState[] | null;
  category?: TaskCategory | null;
  kind?: "NODE" | "CLUSTER" | null;
  /** Internal tasks are hidden unless this is true (ScyllaDB). */
  includeInternal?: boolean | null;
  target?: string | null;
  targetPrefix?: string | null;
  /** Every given label must match exactly. */
  labels?: Record<string, unknown> | null;
  /** Keyword over name, type, module, target (case-insensitive), or an exact id. */
  search?: string | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  parentId?: string | null;
  rootsOnly?: boolean | null;
  /** true: only tasks created with a runAt (Kafka's Scheduled tasks tab); false: only the others. */
  scheduled?: boolean | null;
}

function checkLength(name: string, value: string, max: number) {
  checkText(`filter.${name}`, value, max);
  if (value.length === 0) throw badInput(`filter.${name} must not be empty`);
}

/** LIKE pattern characters are literal in a keyword search. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export function taskWhere(filter: TaskFilter = {}): Prisma.TaskWhereInput {
  const and: Prisma.TaskWhereInput[] = [];
  if (!filter.includeInternal) and.push({ isInternal: false });
  if (filter.module != null) {
    checkLength("module", filter.module, LIMITS.nameLength);
    and.push({ moduleName: filter.module });
  }
  if (filter.types != null) {
    if (filter.types.length > LIMITS.filterListLength) throw badInput(`filter.types has more than ${LIMITS.filterListLength} entries`);
    filter.types.forEach((t) => checkLength("types", t, LIMITS.nameLength));
    and.push({ type: { in: [...filter.types] } });
  }
  if (filter.states != null) and.push({ state: { in: [...filter.states] } });
  if (filter.category != null) and.push({ state: { in: [...CATEGORY_STATES[filter.category]] } });
  if (filter.kind != null) and.push({ kind: filter.kind });
  if (filter.target != null) {
    checkLength("target", filter.target, LIMITS.targetLength);
    and.push({ target: filter.target });
  }
  if (filter.targetPrefix != null) {
    checkLength("targetPrefix", filter.targetPrefix, LIMITS.targetLength);
    and.push({ target: { startsWith: escapeLike(filter.targetPrefix) } });
  }
  if (filter.labels != null) {
    for (const [key, value] of Object.entries(checkLabels("filter.labels", filter.labels))) {
      if (value.length === 0) throw badInput(`filter.labels.${key.slice(0, 40)} must not be empty`);
      and.push({ labels: { path: [key], equals: value } });
    }
  }
  const search = filter.search?.trim();
  if (search) {
    checkText("filter.search", search, LIMITS.searchLength);
    const contains = { contains: escapeLike(search), mode: "insensitive" as const };
    const or: Prisma.TaskWhereInput[] = [{ name: contains }, { type: contains }, { moduleName: contains }, { target: contains }];
    if (isUuid(search)) or.push({ id: search.toLowerCase() });
    and.push({ OR: or });
  }
  if (filter.createdAfter && filter.createdBefore && filter.createdAfter > filter.createdBefore) {
    throw badInput("filter.createdAfter is later than filter.createdBefore");
  }
  if (filter.createdAfter) and.push({ createdAt: { gte: filter.createdAfter } });
  if (filter.createdBefore) and.push({ createdAt: { lt: filter.createdBefore } });
  if (filter.parentId != null) {
    if (filter.rootsOnly) throw badInput("filter.rootsOnly and filter.parentId cannot be combined: roots have no parent");
    and.push({ parentId: parseUuid(filter.parentId, "filter.parentId") });
  }
  if (filter.rootsOnly) and.push({ parentId: null });
  if (filter.scheduled != null) and.push({ scheduledFor: filter.scheduled ? { not: null } : null });
  return and.length === 1 ? and[0]! : { AND: and };
}
