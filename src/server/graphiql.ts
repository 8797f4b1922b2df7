// GraphiQL from the installed @graphql-yoga/render-graphiql instead of Yoga's default page, which
// loads its JS and CSS from unpkg.com and so stays at "Loading…" on a closed network. The package's
// page carries everything inline (script, styles, fonts, favicon as a data: URL; the editor's web
// workers as blob: URLs), so nothing is fetched from another host.
import type { GraphiQLOptions } from "graphql-yoga";

/** Pages already rendered, by their options (the options are the same for every request of an app). */
const pages = new Map<string, Promise<string>>();

/**
 * Yoga's `renderGraphiQL`. The package (about 9 MB of inline script) is loaded on the first
 * request for the page, not at start-up, and each page is rendered once.
 */
export function renderOfflineGraphiQL(options: GraphiQLOptions): Promise<string> {
  const key = JSON.stringify(options);
  let page = pages.get(key);
  if (!page) {
    page = import("@graphql-yoga/render-graphiql").then(({ renderGraphiQL }) => renderGraphiQL(options));
    page.catch(() => pages.delete(key));
    pages.set(key, page);
  }
  return page;
}
