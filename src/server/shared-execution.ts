// Live fan-out that scales with distinct queries, not with subscribers. A subscription is executed
// as GraphQL defines it (the root field's subscribe resolver gives the source events; each event is
// executed against the operation), except that the execution of one event is shared: subscribers
// whose operation, variables and role are the same receive the same ExecutionResult, computed
// once. The journal feed hands every subscriber the same event object, which is what makes the
// sharing possible: results are cached per event object (and forgotten with it).
//
// What makes two executions interchangeable: the same document, the same variables except those
// only the root field's arguments use (a console's `after` differs per page, and the root fields'
// resolvers return the event unchanged, so those arguments choose the events, not their shape),
// and the same role (Task.availableActions and authorization depend on it; nothing below a
// subscription's root depends on who the caller is otherwise).
import {
  createSourceEventStream,
  type DocumentNode,
  execute,

  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  print,
  visit,
} from "graphql";
import { isAsyncIterable, type Plugin } from "graphql-yoga";
import type { Context } from "../schema";

/** Per source event: the result of each distinct execution of it. */
const resultsByEvent = new WeakMap<object, Map<string, Promise<ExecutionResult> | ExecutionResult>>();
/** A document's printed form, its operations' root-argument-only variables: computed once per parsed document. */
const documentKeys = new WeakMap<DocumentNode, { printed: string; rootOnly: Map<string | undefined, Set<string>> }>();

/** Yoga plugin: subscriptions run through sharedSubscribe (queries and mutations are unchanged). */
export function useSharedSubscriptionExecution(): Plugin<Context> {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(sharedSubscribe as never);
    },
  };
}

/** graphql-js's subscribe, with each event's execution shared between identical subscriptions. */
export async function sharedSubscribe(args: ExecutionArgs): Promise<AsyncIterable<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!isAsyncIterable(stream)) return stream as ExecutionResult;
  return new SharedExecutions((stream as AsyncIterable<unknown>)[Symbol.asyncIterator](), executionKey(args), args);
}

/**
 * A subscription's results: each source event executed, or the same event's result from an
 * identical subscription. (A class with one await per step: every subscriber pays for each layer
 * of promises between the journal and its socket.)
 */
class SharedExecutions implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly key: string | null,
    private readonly args: ExecutionArgs,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    let step: IteratorResult<unknown>;
    try {
      step = await this.source.next();
    } catch (error) {
      // As graphql-tools' executor reports a failing source stream (Yoga's default).
      const operation = getOperationAST(this.args.document, this.args.operationName);
      throw new GraphQLError((error as Error).message, { originalError: error as Error, nodes: operation ? [operation] : undefined });
    }
    if (step.done) return step;
    try {
      return { done: false, value: await executeShared(step.value, this.key, this.args) };
    } catch (error) {
      await this.source.return?.();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    throw error;
  }
}

function executeShared(event: unknown, key: string | null, args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult {
  if (key === null || typeof event !== "object" || event === null) return executeEvent(event, args);
  let results = resultsByEvent.get(event);
  if (!results) resultsByEvent.set(event, (results = new Map()));
  let result = results.get(key);
  if (!result) {
    result = executeEvent(event, args);
    results.set(key, result);
  }
  return result;
}

/** When the event each result was executed for was written (for taskgraph_event_delivery_seconds). */
const writtenAtByResult = new WeakMap<ExecutionResult, Date>();

/** When the event a subscription's result comes from was written (a journal event's createdAt), if known. */
export function eventWrittenAt(result: ExecutionResult): Date | undefined {
  return writtenAtByResult.get(result);
}

function executeEvent(event: unknown, args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult {
  const result = execute({ ...args, rootValue: event });
  // Journal events only (they have a txid): taskUpdated's tasks carry a createdAt too, of the task.
  const { txid, createdAt: writtenAt } = (event ?? {}) as { txid?: unknown; createdAt?: unknown };
  if (typeof txid !== "bigint" || !(writtenAt instanceof Date)) return result;
  const mark = (done: ExecutionResult) => {
    writtenAtByResult.set(done, writtenAt);
    return done;
  };
  return result instanceof Promise ? result.then(mark) : mark(result);
}

/** What identifies an interchangeable execution; null when the caller's role is unknown (not shared). */
function executionKey(args: ExecutionArgs): string | null {
  const role = (args.contextValue as Partial<Context> | undefined)?.principal?.role;
  if (!role) return null;
  let keys = documentKeys.get(args.document);
  if (!keys) documentKeys.set(args.document, (keys = { printed: print(args.document), rootOnly: new Map() }));
  let rootOnly = keys.rootOnly.get(args.operationName ?? undefined);
  if (!rootOnly) keys.rootOnly.set(args.operationName ?? undefined, (rootOnly = rootArgumentOnlyVariables(args.document, args.operationName)));
  const variables: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args.variableValues ?? {})) if (!rootOnly.has(name)) variables[name] = value;
  return `${role}\n${args.operationName ?? ""}\n${JSON.stringify(variables)}\n${keys.printed}`;
}

/** Variables used in the root fields' arguments and nowhere else in the operation or its fragments. */
function rootArgumentOnlyVariables(document: DocumentNode, operationName: string | null | undefined): Set<string> {
  const operation = getOperationAST(document, operationName) as OperationDefinitionNode | null;
  if (!operation) return new Set();
  const inRootArguments = new Set<string>();
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    for (const argument of selection.arguments ?? []) visit(argument, { Variable: (node) => void inRootArguments.add(node.name.value) });
  }
  const elsewhere = new Set<string>();
  const collect = (node: Parameters<typeof visit>[0]) => visit(node, { Variable: (v) => void elsewhere.add(v.name.value) });
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      for (const directive of selection.directives ?? []) collect(directive);
      if (selection.selectionSet) collect(selection.selectionSet);
    } else {
      collect(selection);
    }
  }
  for (const directive of operation.directives ?? []) collect(directive);
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) collect(definition);
  return new Set([...inRootArguments].filter((name) => !elsewhere.has(name)));
}
