// Every type that implements Node (issue 12), as a table shared by test/relay.test.ts (a
// @refetchable fragment per type) and test/nodes.test.ts (node(id) of one object per type, per
// role). Adding a Node type (TaskType, say) is one row here.
//
// `sample` is an operation with the variable $task (the id of a flow task that has run: steps,
// attempts, logs) whose response contains an object of the type; the first `id` in it matching
// `idPattern` is taken. A subscription's first event is used; a mutation makes one.

export interface NodeType {
  typename: string;
  /** What its ids look like (a Task's: a plain UUID; others `<Type>:<key>`). */
  idPattern: RegExp;
  /** Fields of the type selected by its refetchable fragment (besides id). */
  fields: string;
  /** An operation with $task: ID! that returns one of these. */
  sample: string;
  /** Only an ADMIN may read it (others get FORBIDDEN at that path). */
  adminOnly?: boolean;
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const keyed = (type: string, key: string) => new RegExp(`^${type}:${key}$`);

export const NODE_TYPES: NodeType[] = [
  { typename: "Task", idPattern: new RegExp(`^${UUID}$`), fields: "state", sample: `query ($task: ID!) { task(id: $task) { id } }` },
  { typename: "Step", idPattern: keyed("Step", UUID), fields: "key state", sample: `query ($task: ID!) { task(id: $task) { steps { id } } }` },
  { typename: "StepAttempt", idPattern: keyed("StepAttempt", UUID), fields: "number state", sample: `query ($task: ID!) { task(id: $task) { steps { attempts { id } } } }` },
  { typename: "LogEntry", idPattern: keyed("LogEntry", UUID), fields: "level message", sample: `query ($task: ID!) { task(id: $task) { logs(first: 1) { edges { node { id } } } } }` },
  { typename: "Progress", idPattern: keyed("Progress", UUID), fields: "completed total", sample: `query ($task: ID!) { task(id: $task) { progress { id } } }` },
  { typename: "StepProgress", idPattern: keyed("StepProgress", UUID), fields: "completed total", sample: `query ($task: ID!) { task(id: $task) { steps { progress { id } } } }` },
  { typename: "Flow", idPattern: keyed("Flow", UUID), fields: "nodes { id }", sample: `query ($task: ID!) { task(id: $task) { flow { id } } }` },
  { typename: "Module", idPattern: keyed("Module", ".+"), fields: "name", sample: `query ($task: ID!) { task(id: $task) { module { id } } }` },
  { typename: "Worker", idPattern: keyed("Worker", ".+"), fields: "name alive", sample: `query { workers { id } }` },
  { typename: "ApiToken", idPattern: keyed("ApiToken", UUID), fields: "name role", sample: `query { apiTokens { id } }`, adminOnly: true },
  {
    typename: "TaskEvent",
    idPattern: keyed("TaskEvent", "[1-9][0-9]*"),
    fields: "type version",
    // From the start of the journal: the task's CREATED event at least is replayed.
    sample: `subscription ($task: ID!, $after: String) { taskEvents(filter: { taskId: $task }, after: $after) { id } }`,
  },
  { typename: "TaskType", idPattern: keyed("TaskType", "[^/]+/[^/]+"), fields: "name", sample: `query ($task: ID!) { task(id: $task) { taskType { id } } }` },
  {
    typename: "Schedule",
    idPattern: keyed("Schedule", UUID),
    fields: "name nextRunAt",
    // One made for the purpose (paused: it never fires).
    sample: `mutation { createSchedule(input: { name: "node sample", module: "test", type: "count", input: { rounds: 1 }, everySeconds: 3600, enabled: false }) { id } }`,
  },
];

/** The first `id` in a response that matches the pattern (depth-first, in field order). */
export function findId(value: unknown, pattern: RegExp): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findId(item, pattern);
      if (found) return found;
    }
  } else if (value && typeof value === "object") {
    const id = (value as Record<string, unknown>).id;
    if (typeof id === "string" && pattern.test(id)) return id;
    for (const child of Object.values(value)) {
      const found = findId(child, pattern);
      if (found) return found;
    }
  }
  return undefined;
}
