// The event journal: every change to a task appends one TaskEvent row in the change's own
// transaction (DESIGN §3), carrying the task's new version. Subscriptions read from here.
import type { Prisma, TaskEventType } from "../generated/prisma/client";

export type Tx = Prisma.TransactionClient;

export interface EventSubject {
  id: string;
  rootId: string;
  moduleName: string;
  version: number;
}

export interface NewEvent {
  task: EventSubject;
  type: TaskEventType;
  payload?: Prisma.InputJsonObject;
}

export async function appendEvents(tx: Tx, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.taskEvent.createMany({
    data: events.map(({ task, type, payload }) => ({
      taskId: task.id,
      rootId: task.rootId,
      module: task.moduleName,
      type,
      version: task.version,
      payload: payload ?? {},
    })),
  });
}
