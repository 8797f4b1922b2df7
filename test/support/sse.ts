// Reading a server-sent-events answer the way a client does: the stream up to its first event.
/**
 * The text of an SSE stream up to its first `data:` line, or null when none came within `ms`
 * (the subscription waits for events). Ends the request either way.
 */
export async function firstSseEvent(response: Response, abort: AbortController, ms: number): Promise<string | null> {
  const reader = response.body!.getReader();
  const timer = setTimeout(() => abort.abort(), ms);
  let text = "";
  try {
    while (!/^data: .*\n/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    return text;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
