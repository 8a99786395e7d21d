/** Compiles shared/src/secagg/add-words.wat; resolves to the module's bytes in base64. */
export function compileAddWords(): Promise<string>;
/** The text of shared/src/secagg/add-words-wasm.ts for the given base64 module. */
export function render(base64: string): string;
