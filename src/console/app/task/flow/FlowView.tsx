// OCP's flow view: the task's steps as a graph (laid out by elkjs, drawn by React Flow), each node
// coloured by its state with its own progress bar, zoom, pan and fit-view controls, and a menu per
// step with exactly the actions it allows now, each behind a confirmation.
import "@xyflow/react/dist/style.css";
import { Background, Controls, type Edge, Handle, type Node, type NodeProps, NodeToolbar, Position, ReactFlow } from "@xyflow/react";
import { createContext, memo, useContext, useEffect, useMemo, useRef, useState } from "react";
import { StateBadge, Time } from "../../components/bits";
import { type StepActionItem, stepActionItems } from "../step-actions";
import type { FlowView as Flow, StepView } from "../views-queries";
import { layoutFlow, NODE_HEIGHT, NODE_WIDTH } from "./layout";

type StepNode = Node<{ step: StepView }, "step">;

interface FlowControls {
  /** Whether the caller's role may control tasks (else no menu). */
  canControl: boolean;
  onAction(step: StepView, item: StepActionItem): void;
}

const ControlsContext = createContext<FlowControls>({ canControl: false, onAction: () => {} });

const nodeTypes = { step: memo(StepNodeView) };

/** The flow of a task; `flow` is kept current by the caller (live events, refetches). */
export function FlowView({ flow, canControl, onAction }: { flow: Flow; canControl: boolean; onAction: FlowControls["onAction"] }) {
  // The structure (steps and edges) decides the layout; states and progress do not.
  const structure = useMemo(
    () => JSON.stringify([flow.nodes.map((n) => n.id), flow.edges.map((e) => [e.from.id, e.to.id])]),
    [flow.nodes, flow.edges],
  );
  const [layout, setLayout] = useState<{ structure: string; positions: Map<string, { x: number; y: number }> } | null>(null);
  const [layoutError, setLayoutError] = useState<string | null>(null);
  const latest = useRef(flow);
  latest.current = flow;

  useEffect(() => {
    let current = true;
    const { nodes, edges } = latest.current;
    layoutFlow(
      nodes.map((n) => n.id),
      edges.map((e) => ({ from: e.from.id, to: e.to.id })),
    ).then(
      (positions) => current && setLayout({ structure, positions }),
      (error: unknown) => current && setLayoutError(error instanceof Error ? error.message : String(error)),
    );
    return () => {
      current = false;
    };
  }, [structure]);

  const controls = useMemo(() => ({ canControl, onAction }), [canControl, onAction]);
  const nodes = useMemo<StepNode[]>(
    () =>
      layout
        ? flow.nodes.map((step) => ({
            id: step.id,
            type: "step",
            position: layout.positions.get(step.id) ?? { x: 0, y: 0 },
            data: { step },
            width: NODE_WIDTH,
            height: NODE_HEIGHT,
            // Neither selectable nor draggable, but its menu button takes clicks.
            style: { pointerEvents: "all" },
            ariaLabel: `Step ${step.key}: ${step.state}`,
          }))
        : [],
    [flow.nodes, layout],
  );
  const states = useMemo(() => new Map(flow.nodes.map((n) => [n.id, n.state])), [flow.nodes]);
  const edges = useMemo<Edge[]>(
    () =>
      flow.edges.map((edge) => ({
        id: `${edge.from.id}->${edge.to.id}`,
        source: edge.from.id,
        target: edge.to.id,
        animated: states.get(edge.to.id) === "RUNNING",
        className: `flow-edge edge-${(states.get(edge.from.id) ?? "waiting").toLowerCase()}`,
      })),
    [flow.edges, states],
  );

  if (flow.nodes.length === 0) return <p className="muted">This task has no steps.</p>;
  if (layoutError) return <p className="error-note">The flow could not be laid out: {layoutError}</p>;
  if (!layout) return <p className="muted flow-canvas">Laying out the flow…</p>;
  return (
    <ControlsContext.Provider value={controls}>
      <div className="flow-canvas" role="region" aria-label="Flow view">
        {/* Remounted when the structure changes, so that it fits the new graph into view. */}
        <ReactFlow
          key={layout.structure}
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          colorMode="system"
          fitView
          fitViewOptions={{ padding: 0.15, maxZoom: 1.2 }}
          minZoom={0.1}
          maxZoom={2.5}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          deleteKeyCode={null}
          proOptions={{ hideAttribution: false }}
        >
          <Background gap={18} size={1} />
          <Controls showInteractive={false} position="top-right" />
        </ReactFlow>
      </div>
    </ControlsContext.Provider>
  );
}

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function StepNodeView({ data }: NodeProps<StepNode>) {
  const { step } = data;
  const { canControl, onAction } = useContext(ControlsContext);
  const [open, setOpen] = useState(false);
  const items = canControl ? stepActionItems(step) : [];
  const menu = useRef<HTMLDivElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const state = step.state.toLowerCase();
  const { completed, total, fraction } = step.progress;
  const known = total !== null && total > 0;
  const progressText = known ? `${number.format(completed)} / ${number.format(total)}` : completed > 0 ? number.format(completed) : "";
  const last = step.attempts.at(-1);

  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLButtonElement>("[role=menuitem]")?.focus();
    const close = (event: PointerEvent) => {
      if (!(event.target instanceof Element) || !event.target.closest(`[data-menu-for="${CSS.escape(step.id)}"]`)) setOpen(false);
    };
    window.addEventListener("pointerdown", close, true);
    return () => window.removeEventListener("pointerdown", close, true);
  }, [open, step.id]);
  useEffect(() => {
    if (items.length === 0) setOpen(false);
  }, [items.length]);

  return (
    <div className={`step-node step-${state}`} data-state={state} data-step={step.key} title={step.error ?? undefined}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="step-node-head">
        <span className="step-node-name">{step.name}</span>
        {items.length > 0 && (
          <button
            type="button"
            className="step-menu-button nodrag nopan"
            aria-label={`Actions for ${step.key}`}
            aria-haspopup="menu"
            aria-expanded={open}
            data-menu-for={step.id}
            ref={opener}
            onClick={() => setOpen((o) => !o)}
          >
            ⋮
          </button>
        )}
      </div>
      <div className="step-node-meta">
        <StateBadge state={step.state} />
        <span className="muted step-node-key">{step.key}</span>
        {last && (
          <span className="muted" title={`${step.attempts.length} attempt(s); the latest: number ${last.number}, ${last.kind.toLowerCase()}`}>
            #{last.number} {last.kind.toLowerCase()}
          </span>
        )}
      </div>
      <progress
        className="step-node-progress"
        aria-label={`Progress of ${step.key}`}
        aria-valuetext={progressText || undefined}
        max={known ? total : 1}
        value={known ? Math.min(completed, total) : step.state === "RUNNING" ? undefined : step.state === "SUCCEEDED" ? 1 : 0}
        data-fraction={fraction ?? ""}
      />
      <span className="step-node-foot">
        <span className="step-node-progress-text muted">{progressText}</span>
        {step.error && step.state === "FAILED" && <span className="step-node-error">{step.error}</span>}
        {step.nextAttemptAt && step.state === "FAILED" && (
          <span className="step-node-retry">
            retry at <Time value={step.nextAttemptAt} />
          </span>
        )}
      </span>
      <Handle type="source" position={Position.Right} isConnectable={false} />
      <NodeToolbar isVisible={open} position={Position.Bottom} align="end">
        <div
          ref={menu}
          role="menu"
          aria-label={`Actions for ${step.key}`}
          className="step-menu"
          data-menu-for={step.id}
          onKeyDown={(event) => {
            // WAI-ARIA menu: arrows move between the items (wrapping), Home/End to the ends, Esc
            // closes it and gives the focus back to its button.
            const buttons = [...(menu.current?.querySelectorAll<HTMLButtonElement>("[role=menuitem]") ?? [])];
            const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
            const to =
              event.key === "ArrowDown" ? (at + 1) % buttons.length
              : event.key === "ArrowUp" ? (at - 1 + buttons.length) % buttons.length
              : event.key === "Home" ? 0
              : event.key === "End" ? buttons.length - 1
              : null;
            if (to !== null) {
              event.preventDefault();
              event.stopPropagation();
              buttons[to]?.focus();
            } else if (event.key === "Escape") {
              event.preventDefault();
              event.stopPropagation();
              setOpen(false);
              opener.current?.focus();
            }
          }}
        >
          {items.map((item) => (
            <button
              key={item.action}
              type="button"
              role="menuitem"
              tabIndex={-1}
              className={item.danger ? "danger" : undefined}
              onClick={() => {
                setOpen(false);
                onAction(step, item);
              }}
            >
              {item.label}
            </button>
          ))}
        </div>
      </NodeToolbar>
    </div>
  );
}
