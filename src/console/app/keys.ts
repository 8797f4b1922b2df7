// Keyboard shortcuts: `/` search, `j`/`k` rows, Enter open, Esc back. A page registers the keys it
// uses; keys typed into a field are the field's (only Escape is seen there), and none reach a page
// while a modal dialog is open.
import { useEffect, useRef } from "react";

export type KeyMap = Partial<Record<string, (event: KeyboardEvent) => void>>;

function typingIn(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

export function useKeys(keys: KeyMap): void {
  const current = useRef(keys);
  current.current = keys;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      if (document.querySelector("dialog[open]")) return;
      if (typingIn(event.target) && event.key !== "Escape") return;
      const handler = current.current[event.key];
      if (handler) handler(event);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}

/** The list view the user came from (so Esc on a task's page goes back to it). */
let lastListUrl = "/";
export const rememberListUrl = (url: string) => {
  lastListUrl = url;
};
export const listUrl = () => lastListUrl;
