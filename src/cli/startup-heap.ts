/**
 * Idle memory of a worker (issue #15). While the CLI loads its ~1 500 modules, nearly everything
 * allocated survives, and V8 answers by growing the young generation to its maximum (two 16 MiB
 * semi-spaces), which it then keeps, resident, for the life of the process: ~30 MiB of an idle
 * worker. Imported first by the CLI, this keeps the young generation at its initial size while
 * modules load (V8 reads `--semi-space-growth-factor` each time it considers growing it). The CLI
 * imports everything else with `await import()` after this has run: the modules of a static import
 * graph are all read and compiled before the first of them runs, and that alone grew the young
 * generation to 16 MiB before this flag was set;
 * {@link startupDone} restores V8's default once the server listens, so under load the young
 * generation grows exactly as it did before, and CPU per request is unchanged.
 */
import v8 from 'node:v8';

/** V8's default (`node --v8-options`). */
const DEFAULT_GROWTH_FACTOR = 2;

v8.setFlagsFromString('--semi-space-growth-factor=1');

/** The server is up: let the young generation grow with the load again. */
export function startupDone(): void {
  v8.setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
}
