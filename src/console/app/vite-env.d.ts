// Vite's `?url` imports: the URL of a file the build emits (see vite/client's types).
declare module "*?url" {
  const url: string;
  export default url;
}
