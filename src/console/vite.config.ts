// Vite builds the console (src/console) into dist/console, which the server serves at `/`
// (src/server/console.ts). `npm run console:dev` serves it with hot reload on :5173 and passes
// /graphql (HTTP and WebSocket) to a taskgraph on :4000 (started with
// TASKGRAPH_CORS_ORIGINS=http://localhost:5173, since the page's origin is then :5173).
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export const CONSOLE_ROOT = fileURLToPath(new URL(".", import.meta.url));
export const CONSOLE_OUT_DIR = fileURLToPath(new URL("../../dist/console", import.meta.url));

export default defineConfig({
  root: CONSOLE_ROOT,
  base: "/",
  plugins: [react()],
  clearScreen: false,
  build: {
    outDir: CONSOLE_OUT_DIR,
    emptyOutDir: true,
    assetsDir: "assets",
    // Nothing is inlined as a data: URL (the page's CSP allows scripts and styles from itself only).
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    proxy: { "/graphql": { target: "http://127.0.0.1:4000", ws: true } },
  },
});
