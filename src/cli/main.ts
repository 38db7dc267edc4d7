/** Entry point of the `trellis` executable (bin/trellis imports the built copy of this file). */
import { buildProgram } from "./program.js";

await buildProgram().parseAsync(process.argv);
