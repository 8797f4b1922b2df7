// A task's descendants as a tree (ScyllaDB's trees of node tasks): name, the node each runs on,
// type, state and progress; branches fold and unfold; succeeded internal tasks, folded into their
// parent by the API, are shown on request (descendants(includeFolded)). Live by one taskEvents
// subscription on the tree's root, from the journal position read with the tree (so no change
// between the two is missed): progress and states are patched in place; a task created or
// deleted under this one brings a refetch of the tree (one at a time).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useClient } from "urql";
import { Link } from "wouter";
import { ErrorNote, ProgressBar, StateBadge } from "../components/bits";
import { graphql, type ResultOf } from "../graphql";
import { useSession } from "../session";
import type { TaskDetail } from "./queries";
import "./task.css";

const TreeQuery = graphql(`
  query TaskChildrenTree($id: ID!, $includeFolded: Boolean!) {
    # First: fields are resolved in order, and the connection takes its journalCursor before
    # anything else is read, so the live feed from there misses nothing the tree does not show.
    journal: tasks(first: 1) { journalCursor }
    task(id: $id) {
      id
      depth
      root { id }
      descendants(includeFolded: $includeFolded) {
        id
        name
        type
        node
        state
        isInternal
        depth
        version
        parent { id }
        progress { id units total completed fraction }
      }
    }
  }
`);

const TreeEventsSubscription = graphql(`
  subscription TaskChildrenTreeLive($rootId: ID!, $after: String) {
    taskEvents(filter: { rootId: $rootId }, after: $after) { id cursor type taskId version payload }
  }
`);

type Descendant = ResultOf<typeof TreeQuery>["task"] extends infer T ? (T extends { descendants: (infer D)[] } ? D : never) : never;

export function ChildrenTree({ task }: { task: Pick<TaskDetail, "id" | "childrenStatus"> }) {
  const client = useClient();
  const [includeFolded, setIncludeFolded] = useState(false);
  const [tree, setTree] = useState<{ depth: number; rootId: string; rows: Descendant[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Where the live feed starts: the journal's position when the tree was first read (null: not yet).
  const [since, setSince] = useState<string | null>(null);
  const [closed, setClosed] = useState<Set<string>>(new Set());
  const hasChildren = task.childrenStatus.length > 0;
  const foldedInternal = task.childrenStatus.filter((c) => c.isInternal && c.state === "SUCCEEDED").length;

  const loading = useRef<"idle" | "busy" | "again">("idle");
  const load = useCallback(() => {
    if (loading.current !== "idle") {
      loading.current = "again";
      return;
    }
    loading.current = "busy";
    void client
      .query(TreeQuery, { id: task.id, includeFolded }, { requestPolicy: "network-only" })
      .toPromise()
      .then((result) => {
        const t = result.data?.task;
        if (result.error) setError(result.error.message);
        else if (t) {
          setTree({ depth: t.depth, rootId: t.root.id, rows: t.descendants });
          // A later load keeps the feed going; an earlier cursor only replays more (versions are compared).
          const cursor = result.data?.journal.journalCursor ?? null;
          setSince((known) => known ?? cursor);
        }
        const again = loading.current === "again";
        loading.current = "idle";
        if (again) load();
      });
  }, [client, task.id, includeFolded]);

  // Loaded at first, and again after a lost connection (the feed resumes from its last event, but
  // what the tree shows of tasks it does not follow, such as folding, is read again).
  const { reconnects } = useSession();
  useEffect(() => {
    if (hasChildren) load();
  }, [hasChildren, load, reconnects]);

  // Live: the events of the whole tree (its root's), applied once per animation frame.
  const rootId = tree?.rootId;
  const loadRef = useRef(load);
  loadRef.current = load;
  const treeRef = useRef(tree);
  treeRef.current = tree;
  useEffect(() => {
    if (!rootId || since === null) return;
    type Event = { type: string; taskId: string; version: number; payload: unknown };
    let queue: Event[] = [];
    let frame: number | null = null;
    const flush = () => {
      frame = null;
      const events = queue;
      queue = [];
      // Whether the tree must be loaded again, decided here (a state updater may run later, during render).
      const shown = new Map((treeRef.current?.rows ?? []).map((r) => [r.id, r]));
      const reload = events.some((event) => {
        const row = shown.get(event.taskId);
        if (event.type === "CREATED") {
          const parentId = (event.payload as { parentId?: string | null }).parentId;
          return Boolean(parentId && (parentId === task.id || shown.has(parentId)));
        }
        if (event.type === "DELETED") return row !== undefined;
        if (event.type !== "STATE_CHANGED") return false;
        const to = (event.payload as { to: string }).to;
        // An internal task that succeeded is folded into its parent now. And once this task has
        // ended, one last load: the tree as it ends, with what no event carries.
        if (row?.isInternal === true && to === "SUCCEEDED") return true;
        return event.taskId === task.id && (to === "SUCCEEDED" || to === "FAILED" || to === "CANCELED");
      });
      setTree((current) => {
        if (!current) return current;
        const byId = new Map(current.rows.map((r) => [r.id, r]));
        let changed = false;
        for (const event of events) {
          const row = byId.get(event.taskId);
          if (row && event.version > row.version) {
            if (event.type === "PROGRESSED") {
              const p = event.payload as { completed: number; total: number | null };
              const fraction = p.total ? Math.min(1, p.completed / p.total) : null;
              byId.set(row.id, { ...row, version: event.version, progress: { ...row.progress, completed: p.completed, total: p.total, fraction } });
              changed = true;
            } else if (event.type === "STATE_CHANGED") {
              const p = event.payload as { to: Descendant["state"] };
              byId.set(row.id, { ...row, version: event.version, state: p.to });
              changed = true;
            }
          }
        }
        return changed ? { ...current, rows: current.rows.map((r) => byId.get(r.id) ?? r) } : current;
      });
      if (reload) loadRef.current();
    };
    // graphql-ws re-sends this object when it subscribes again after a lost connection: `after`
    // is kept at the last event handled, so it resumes there.
    const variables = { rootId, after: since };
    const subscription = client.subscription(TreeEventsSubscription, variables).subscribe((result) => {
      if (result.error?.graphQLErrors.some((e) => e.extensions?.code === "CURSOR_EXPIRED")) {
        // Away longer than the journal keeps: read the tree again and follow it from there.
        setSince(null);
        loadRef.current();
        return;
      }
      const event = result.data?.taskEvents;
      if (!event) return;
      variables.after = event.cursor;
      queue.push(event);
      frame ??= requestAnimationFrame(flush);
    });
    return () => {
      subscription.unsubscribe();
      if (frame !== null) cancelAnimationFrame(frame);
    };
  }, [client, rootId, since, task.id]);

  // Depth-first order under this task, without the rows of closed branches.
  const rows = useMemo(() => {
    if (!tree) return [];
    const children = new Map<string, Descendant[]>();
    for (const row of tree.rows) {
      const parent = row.parent?.id ?? "";
      children.set(parent, [...(children.get(parent) ?? []), row]);
    }
    const out: { row: Descendant; level: number; branch: boolean }[] = [];
    const walk = (parentId: string, level: number) => {
      for (const row of children.get(parentId) ?? []) {
        const branch = children.has(row.id);
        out.push({ row, level, branch });
        if (branch && !closed.has(row.id)) walk(row.id, level + 1);
      }
    };
    walk(task.id, 1);
    return out;
  }, [tree, closed, task.id]);

  if (!hasChildren) return null;
  const toggle = (id: string) =>
    setClosed((previous) => {
      const next = new Set(previous);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <section aria-labelledby="children-title">
      <h2 id="children-title">Children</h2>
      <label className="inline">
        <input type="checkbox" checked={includeFolded} onChange={(e) => setIncludeFolded(e.target.checked)} /> Show folded internal tasks
        {foldedInternal > 0 && <span className="muted"> ({foldedInternal} folded here)</span>}
      </label>
      <ErrorNote error={error} />
      <table className="children tree" aria-label="Children tree">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Node</th>
            <th scope="col">Type</th>
            <th scope="col">State</th>
            <th scope="col">Progress</th>
          </tr>
        </thead>
        <tbody>
          {!tree && (
            <tr>
              <td colSpan={5} className="muted">
                Loading…
              </td>
            </tr>
          )}
          {rows.map(({ row, level, branch }) => (
            <tr key={row.id} aria-level={level} data-task={row.id}>
              <td className="tree-name" style={{ paddingLeft: `${10 + (level - 1) * 20}px` }}>
                {branch ? (
                  <button type="button" className="tree-toggle" aria-expanded={!closed.has(row.id)} aria-label={`${closed.has(row.id) ? "Unfold" : "Fold"} ${row.name}`} onClick={() => toggle(row.id)}>
                    {closed.has(row.id) ? "▸" : "▾"}
                  </button>
                ) : (
                  <span className="tree-leaf" aria-hidden="true" />
                )}
                <Link href={`/tasks/${row.id}`}>{row.name}</Link>
                {row.isInternal && <span className="muted"> (internal)</span>}
              </td>
              <td>{row.node ?? "—"}</td>
              <td>{row.type}</td>
              <td>
                <StateBadge state={row.state} />
              </td>
              <td>
                <ProgressBar progress={row.progress} state={row.state} label={`Progress of ${row.name}`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
