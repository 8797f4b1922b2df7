// Time limits of runs and step attempts (TaskDefinition.timeoutMs, StepDefinition.timeoutMs, a
// task's timeoutMs). JavaScript cannot stop a function from outside: at the limit the work's
// signal is aborted, and the attempt fails with TIMEOUT once the work has stopped, or after a grace
// period if it does not stop (it may still be running then; nothing it does later is recorded
// for this attempt, as its outcome is already decided).

/** The error of an attempt that ran past its time limit (its code, TIMEOUT, is stored with it). */
export class TimeoutError extends Error {
  override name = "TimeoutError";
  readonly code = "TIMEOUT" as const;
}

/** The code a failure is stored with: TIMEOUT for a TimeoutError, none for what the code threw. */
export const failureCodeOf = (error: Error): "TIMEOUT" | null => (error instanceof TimeoutError ? error.code : null);

/**
 * Runs `work` with `limitMs` (none when null): past it, `controller` is aborted with a
 * TimeoutError, and that error is thrown once `work` settles (whatever its outcome: the deadline
 * has passed) or `graceMs` later, whichever comes first.
 */
export async function underDeadline<T>(
  work: () => Promise<T>,
  controller: AbortController,
  limitMs: number | null,
  graceMs: number,
  message: string,
): Promise<T> {
  if (limitMs === null) return work();
  const timedOut = new TimeoutError(message);
  if (limitMs <= 0) {
    controller.abort(timedOut);
    throw timedOut;
  }
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  const running = work();
  running.catch(() => {}); // settled after the grace period: nobody waits for it any more
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      expired = true;
      controller.abort(timedOut);
      graceTimer = setTimeout(() => reject(timedOut), graceMs);
    }, limitMs);
  });
  try {
    const value = await Promise.race([running, deadline]);
    if (expired) throw timedOut;
    return value;
  } catch (error) {
    throw expired ? timedOut : error;
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
  }
}
