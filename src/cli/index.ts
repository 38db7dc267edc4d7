/**
 * `cli/` owns the `trellis` command line (commander): it wires concrete parts together and may
 * import every other layer; nothing imports it.
 */
export { buildProgram } from "./program.js";
