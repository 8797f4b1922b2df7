// Types of build-server.js (plain JavaScript, so that it runs before anything is compiled).
export declare const SERVER_OUT_DIR: string;
export declare function isServerBuildCurrent(): boolean;
export declare function buildServer(options?: { entryPoints?: Record<string, string>; outDir?: string }): Promise<{ ms: number }>;
export declare function buildServerIfStale(options?: { ifStale?: boolean }): Promise<{ built: boolean; ms: number }>;
