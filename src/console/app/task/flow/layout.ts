// The flow's layout, by elkjs (ELK's layered algorithm, left to right), in a Web Worker so that
// neither loading ELK (1.6 MB) nor laying out a large flow holds up the page. The worker script is
// the package's own, emitted by Vite as a file of the build (nothing is loaded from elsewhere).
import ELK, { type ElkNode } from "elkjs/lib/elk-api.js";
import elkWorkerUrl from "elkjs/lib/elk-worker.min.js?url";

export const NODE_WIDTH = 256;
export const NODE_HEIGHT = 104;

/** Steps a row holds at a readable size. */
const WRAP_AFTER = 5;

let elk: InstanceType<typeof ELK> | null = null;

/** Positions (top left) of the nodes, by id, for these nodes and edges. */
export async function layoutFlow(nodeIds: readonly string[], edges: readonly { from: string; to: string }[]): Promise<Map<string, { x: number; y: number }>> {
  elk ??= new ELK({ workerFactory: () => new Worker(elkWorkerUrl) });
  const graph: ElkNode = {
    id: "flow",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "64",
      "elk.spacing.nodeNode": "28",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
      // More steps than a row holds: a long chain is wrapped into rows (ELK's graph wrapping) to
      // about the canvas's shape, rather than shrunk into one line too small to read.
      ...(nodeIds.length > WRAP_AFTER ? { "elk.layered.wrapping.strategy": "MULTI_EDGE", "elk.aspectRatio": "2.2" } : {}),
    },
    children: nodeIds.map((id) => ({ id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: edges.map((edge, i) => ({ id: `e${i}`, sources: [edge.from], targets: [edge.to] })),
  };
  const laid = await elk.layout(graph);
  return new Map((laid.children ?? []).map((child) => [child.id, { x: child.x ?? 0, y: child.y ?? 0 }]));
}
