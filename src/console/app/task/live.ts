// A task's events, live: one taskEvents subscription (filter { taskId }) started after the
// history's last cursor, its events gathered and handed on once per animation frame, so a burst
// costs one render. graphql-ws subscribes again by itself after a lost connection (from the same
// `after`), so events already handed on are recognised by id and dropped.
import { useEffect, useRef, useState } from "react";
import { useClient } from "urql";
import { type TaskEventView, TaskEventsSubscription } from "./views-queries";

export type EventBatchListener = (events: TaskEventView[]) => void;

/** Calls `onBatch` with the events after `after` (null: not yet: the history is loading). */
export function useTaskEvents(taskId: string, after: string | null | undefined, onBatch: EventBatchListener): { error: string | null } {
  const client = useClient();
  const listener = useRef(onBatch);
  listener.current = onBatch;
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (after === undefined) return;
    const seen = new Set<string>();
    let queue: TaskEventView[] = [];
    let frame: number | null = null;
    const flush = () => {
      frame = null;
      const events = queue;
      queue = [];
      if (events.length > 0) listener.current(events);
    };
    const subscription = client.subscription(TaskEventsSubscription, { id: taskId, after }).subscribe((result) => {
      if (result.error) {
        setError(result.error.message.replace(/^\[(GraphQL|Network)\] /, ""));
        return;
      }
      const event = result.data?.taskEvents;
      if (!event || seen.has(event.id)) return;
      seen.add(event.id);
      queue.push(event);
      frame ??= requestAnimationFrame(flush);
    });
    return () => {
      subscription.unsubscribe();
      if (frame !== null) cancelAnimationFrame(frame);
    };
  }, [client, taskId, after]);

  return { error };
}

// What the payloads hold, by event type (TaskEvent.payload in schema.graphql).
export interface StepChangedPayload {
  stepKey: string;
  from: string | null;
  to: string;
  attempt: number | null;
  attemptKind: string | null;
  error: string | null;
}

export interface ProgressedPayload {
  completed: number;
  total: number | null;
  stepKey?: string;
  step?: { completed: number; total: number | null };
}

export interface LogAppendedPayload {
  logId: string;
  level: "DEBUG" | "INFO" | "WARN" | "ERROR";
  message: string;
  time: string;
  stepKey: string | null;
  stepId: string | null;
  attemptId: string | null;
  attempt: number | null;
  attemptKind: string | null;
}

export interface StateChangedPayload {
  from: string | null;
  to: string;
  error: string | null;
}
