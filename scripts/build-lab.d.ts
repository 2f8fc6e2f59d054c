/** scripts/build-lab.js: builds the device lab into LAB_OUT; resolves with the bundle's size in bytes. */
export declare const LAB_OUT: string;
export declare function buildLab(opts?: { quiet?: boolean }): Promise<{ bytes: number; gzipped: number }>;
