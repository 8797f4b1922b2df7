// A task's events, live: one taskEvents subscription (filter { taskId }) started after the
// history's last cursor, its events gathered and handed on once per animation frame, so a burst
// costs one render. graphql-ws subscribes again by itself after a lost connection, re-sending the
// same variables object: its `after` is kept at the last event handled, so it resumes exactly there.
// A cursor older than the journal keeps (CURSOR_EXPIRED, after a long disconnection) ends the feed:
// `onExpired` is called, and the caller loads afresh and subscribes from its new position.
import { useEffect, useRef, useState } from "react";
import { useClient } from "urql";
import { type TaskEventView, TaskEventsSubscription } from "./views-queries";

export type EventBatchListener = (events: TaskEventView[]) => void;

/** Calls `onBatch` with the events after `after` (undefined: not yet: the history is loading). */
export function useTaskEvents(
  taskId: string,
  after: string | null | undefined,
  onBatch: EventBatchListener,
  onExpired: () => void,
  /** A new value subscribes again from `after`, even when `after` did not change. */
  generation = 0,
): { error: string | null } {
  const client = useClient();
  const listener = useRef(onBatch);
  listener.current = onBatch;
  const expired = useRef(onExpired);
  expired.current = onExpired;
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (after === undefined) return;
    setError(null);
    let queue: TaskEventView[] = [];
    let frame: number | null = null;
    const flush = () => {
      frame = null;
      const events = queue;
      queue = [];
      if (events.length > 0) listener.current(events);
    };
    const variables = { id: taskId, after };
    const subscription = client.subscription(TaskEventsSubscription, variables).subscribe((result) => {
      if (result.error) {
        if (result.error.graphQLErrors.some((e) => e.extensions?.code === "CURSOR_EXPIRED")) expired.current();
        else setError(result.error.message.replace(/^\[(GraphQL|Network)\] /, ""));
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
  }, [client, taskId, after, generation]);

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
  /** A failure with an automatic retry to come: when it starts. */
  nextAttemptAt?: string;
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
  /** FAILED → SCHEDULED: when the automatic retry runs it. */
  nextAttemptAt?: string;
}
